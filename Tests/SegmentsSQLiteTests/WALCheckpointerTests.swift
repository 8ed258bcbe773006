import Foundation
import SegmentsSQLite
import Testing

@Suite struct WALCheckpointerTests {
    /// A WAL database with a table of 4 KiB blobs (each committed row is at least one WAL frame), its writer and a
    /// checkpointer attached to it.
    private func makeWriter(
        _ path: String,
        thresholdFrames: Int,
        backstopFrames: Int
    ) throws -> (SQLiteConnection, WALCheckpointer) {
        let writer = try SQLiteConnection(path: path)
        try writer.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, body BLOB NOT NULL)")
        let checkpointer = try WALCheckpointer(
            path: path,
            label: "test",
            thresholdFrames: thresholdFrames,
            backstopFrames: backstopFrames
        )
        checkpointer.attach(to: writer)
        return (writer, checkpointer)
    }

    /// Commits `count` rows, one transaction each.
    private func commitRows(_ count: Int, on writer: SQLiteConnection) throws {
        let insert = try writer.prepare("INSERT INTO t(body) VALUES (?)")
        for _ in 0..<count {
            try insert.bind([UInt8](repeating: 7, count: 4096), at: 1)
            try insert.execute()
        }
    }

    private func fileSize(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
    }

    /// Waits up to 10 s for `condition`.
    private func eventually(_ condition: () -> Bool) async throws -> Bool {
        for _ in 0..<1000 {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return condition()
    }

    @Test func checkpointsOnItsOwnThreadPastTheThreshold() async throws {
        try await withAsyncTemporaryDirectory { dir in
            let path = dir + "/db.sqlite"
            let (writer, checkpointer) = try self.makeWriter(path, thresholdFrames: 20, backstopFrames: 1_000_000)
            let before = self.fileSize(path)
            // 200 frames: SQLite's own automatic checkpoint (1,000 frames) would not have copied any of them.
            try self.commitRows(200, on: writer)
            #expect(try await self.eventually { checkpointer.completedCheckpoints > 0 })
            #expect(checkpointer.inlineCheckpoints == 0)
            // The rows' pages reached the database file itself.
            #expect(try await self.eventually { self.fileSize(path) >= before + 100 * 4096 })
            let count = try writer.prepare("SELECT count(*) FROM t")
            #expect(try count.step())
            #expect(count.int(at: 0) == 200)
            checkpointer.close()
        }
    }

    @Test func backstopCheckpointsInlineWhenTheThreadDoesNot() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/db.sqlite"
            let (writer, checkpointer) = try self.makeWriter(path, thresholdFrames: 10, backstopFrames: 40)
            // Closed: it no longer checkpoints on its thread, so only the backstop can keep the WAL bounded.
            checkpointer.close()
            try self.commitRows(500, on: writer)
            #expect(checkpointer.completedCheckpoints == 0)
            #expect(checkpointer.inlineCheckpoints > 0)
            // The WAL starts over after each inline checkpoint: it never holds much more than the backstop.
            let walBytes = self.fileSize(path + "-wal")
            #expect(walBytes > 0)
            #expect(walBytes < 60 * (4096 + 24) + 32)
        }
    }

    @Test func walStaysBoundedUnderBackToBackCommits() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/db.sqlite"
            let (writer, checkpointer) = try self.makeWriter(path, thresholdFrames: 50, backstopFrames: 200)
            // 3,000 rows are about 9,000 frames (a row's page and its overflow page, and the table's page), 37 MB of
            // WAL if it never started over. A commit past the backstop while the thread checkpoints finds the
            // checkpoint lock taken and leaves it to a later commit, so the WAL passes the backstop by what is
            // committed during one checkpoint (4–6 MB here, back to back in a debug build): bounded, not exact.
            try self.commitRows(3000, on: writer)
            #expect(self.fileSize(path + "-wal") < 4500 * (4096 + 24))
            checkpointer.close()
            let count = try writer.prepare("SELECT count(*) FROM t")
            #expect(try count.step())
            #expect(count.int(at: 0) == 3000)
        }
    }
}
