import Foundation
import SegmentsSQLite
import Testing

@Suite struct SQLiteConnectionTests {
    /// Applies `migrations[v...]` in one transaction each, recording progress in `user_version`.
    private func migrate(_ db: SQLiteConnection, _ migrations: [String]) throws {
        let current = try db.userVersion()
        for version in current..<migrations.count {
            try db.transaction(.immediate) {
                try db.execute(migrations[version])
                try db.setUserVersion(version + 1)
            }
        }
    }

    @Test func migratesWithUserVersion() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/db.sqlite"
            let migrations = [
                "CREATE TABLE a(x INTEGER); CREATE INDEX a_x ON a(x);",
                "CREATE TABLE b(y TEXT NOT NULL);",
            ]
            do {
                let db = try SQLiteConnection(path: path)
                #expect(try db.userVersion() == 0)
                try self.migrate(db, Array(migrations.prefix(1)))
                #expect(try db.userVersion() == 1)
            }
            let db = try SQLiteConnection(path: path)
            #expect(try db.userVersion() == 1)
            try self.migrate(db, migrations)
            #expect(try db.userVersion() == 2)
            try self.migrate(db, migrations)
            #expect(try db.userVersion() == 2)
            let count = try db.prepare("SELECT count(*) FROM sqlite_schema WHERE type = 'table'")
            #expect(try count.step())
            #expect(count.int(at: 0) == 2)
            #expect(throws: SQLiteError.self) { try db.setUserVersion(Int(Int32.max) + 1) }
        }
    }

    @Test func failedMigrationLeavesVersionAndSchemaUnchanged() throws {
        try withTemporaryDirectory { dir in
            let db = try SQLiteConnection(path: dir + "/db.sqlite")
            #expect(throws: SQLiteError.self) {
                try self.migrate(db, ["CREATE TABLE a(x); CREATE TABLE a(y);"])
            }
            #expect(try db.userVersion() == 0)
            #expect(!db.isInTransaction)
            #expect(throws: SQLiteError.self) { try db.prepare("SELECT * FROM a") }
        }
    }

    @Test func opensInWALMode() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/db.sqlite"
            let db = try SQLiteConnection(path: path, options: .init(synchronous: .full))
            let mode = try db.prepare("PRAGMA journal_mode")
            #expect(try mode.step())
            #expect(mode.string(at: 0) == "wal")
            let synchronous = try db.prepare("PRAGMA synchronous")
            #expect(try synchronous.step())
            #expect(synchronous.int(at: 0) == 2)
            try db.execute("CREATE TABLE t(x); INSERT INTO t VALUES (1);")
            #expect(FileManager.default.fileExists(atPath: path + "-wal"))
        }
    }

    @Test func appliesCacheAndMmapPragmas() throws {
        try withTemporaryDirectory { dir in
            let options = SQLiteConnection.Options(
                synchronous: .off,
                busyTimeout: .milliseconds(250),
                cacheSizeKiB: 4096,
                mmapSize: 1 << 20
            )
            let db = try SQLiteConnection(path: dir + "/db.sqlite", options: options)
            let cache = try db.prepare("PRAGMA cache_size")
            #expect(try cache.step())
            #expect(cache.int(at: 0) == -4096)
            let timeout = try db.prepare("PRAGMA busy_timeout")
            #expect(try timeout.step())
            #expect(timeout.int(at: 0) == 250)
        }
    }

    /// A page size takes effect for a database the connection creates (in WAL mode too), and an
    /// existing database keeps its own.
    @Test func pageSizeAppliesToANewDatabaseOnly() throws {
        try withTemporaryDirectory { dir in
            func pageSize(_ db: SQLiteConnection) throws -> Int64 {
                let pragma = try db.prepare("PRAGMA page_size")
                _ = try pragma.step()
                defer { pragma.reset() }
                return pragma.int64(at: 0)
            }
            let large = try SQLiteConnection(path: dir + "/large.sqlite", options: .init(pageSize: 65_536))
            try large.execute("CREATE TABLE t(x BLOB)")
            #expect(try pageSize(large) == 65_536)
            do {
                let plain = try SQLiteConnection(path: dir + "/plain.sqlite")
                try plain.execute("CREATE TABLE t(x BLOB)")
            }
            let reopened = try SQLiteConnection(path: dir + "/plain.sqlite", options: .init(pageSize: 65_536))
            #expect(try pageSize(reopened) == 4096)
        }
    }

    @Test func inMemoryDatabaseNeedsNoWAL() throws {
        #expect(throws: SQLiteError.self) { try SQLiteConnection(path: ":memory:") }
        let db = try SQLiteConnection(path: ":memory:", options: .init(journalMode: nil))
        try db.execute("CREATE TABLE t(x)")
    }

    @Test func openingAMissingFileReadOnlyFails() throws {
        try withTemporaryDirectory { dir in
            let error = #expect(throws: SQLiteError.self) {
                try SQLiteConnection(path: dir + "/missing.sqlite", options: .init(readOnly: true))
            }
            #expect(error?.code == .cantOpen)
        }
    }

    @Test func readOnlyConnectionRefusesWrites() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/db.sqlite"
            let writer = try SQLiteConnection(path: path)
            try writer.execute("CREATE TABLE t(x)")
            let reader = try SQLiteConnection(path: path, options: .init(readOnly: true))
            let error = #expect(throws: SQLiteError.self) { try reader.execute("INSERT INTO t VALUES (1)") }
            #expect(error?.code == .readOnly)
        }
    }

    @Test func transactionCommitsAndReturnsTheBodysValue() throws {
        try withTemporaryDirectory { dir in
            let db = try SQLiteConnection(path: dir + "/db.sqlite")
            try db.execute("CREATE TABLE t(x INTEGER PRIMARY KEY, y TEXT)")
            let rowID = try db.transaction(.immediate) {
                #expect(db.isInTransaction)
                let insert = try db.cachedStatement("INSERT INTO t(y) VALUES (?)")
                try insert.bind("a", at: 1)
                try insert.execute()
                return db.lastInsertRowID
            }
            #expect(rowID == 1)
            #expect(!db.isInTransaction)
            #expect(try self.count(db, "t") == 1)
        }
    }

    private struct Abort: Error {}

    @Test func transactionRollsBackWhenTheBodyThrows() throws {
        try withTemporaryDirectory { dir in
            let db = try SQLiteConnection(path: dir + "/db.sqlite")
            try db.execute("CREATE TABLE t(x INTEGER PRIMARY KEY, y TEXT UNIQUE)")
            #expect(throws: Abort.self) {
                try db.transaction(.immediate) {
                    try db.execute("INSERT INTO t(y) VALUES ('a')")
                    throw Abort()
                }
            }
            #expect(!db.isInTransaction)
            #expect(try self.count(db, "t") == 0)

            // An SQLite error in the body rolls back the earlier writes too.
            let error = #expect(throws: SQLiteError.self) {
                try db.transaction(.deferred) {
                    try db.execute("INSERT INTO t(y) VALUES ('b')")
                    try db.execute("INSERT INTO t(y) VALUES ('b')")
                }
            }
            #expect(error?.isUniqueViolation == true)
            #expect(!db.isInTransaction)
            #expect(try self.count(db, "t") == 0)

            // The connection is usable afterwards.
            try db.transaction(.immediate) { try db.execute("INSERT INTO t(y) VALUES ('c')") }
            #expect(try self.count(db, "t") == 1)
        }
    }

    @Test func transactionsDoNotNest() throws {
        try withTemporaryDirectory { dir in
            let db = try SQLiteConnection(path: dir + "/db.sqlite")
            try db.execute("CREATE TABLE t(x)")
            #expect(throws: SQLiteError.self) {
                try db.transaction(.immediate) {
                    try db.execute("INSERT INTO t VALUES (1)")
                    try db.transaction(.immediate) {}
                }
            }
            #expect(!db.isInTransaction)
            #expect(try self.count(db, "t") == 0)
        }
    }

    @Test func statementCacheReturnsTheSameStatement() throws {
        try withTemporaryDirectory { dir in
            let db = try SQLiteConnection(path: dir + "/db.sqlite")
            try db.execute("CREATE TABLE t(x INTEGER); INSERT INTO t VALUES (1), (2), (3);")
            let sql = "SELECT x FROM t ORDER BY x"
            let first = try db.cachedStatement(sql)
            #expect(try first.step())
            #expect(first.int(at: 0) == 1)
            // Abandoned part-way: the cache hands it back reset, from the first row.
            let second = try db.cachedStatement(sql)
            #expect(first === second)
            #expect(try second.step())
            #expect(second.int(at: 0) == 1)
            #expect(try db.cachedStatement("SELECT x FROM t") !== first)
            #expect(try db.prepare(sql) !== first)
        }
    }

    @Test func statementCacheStaysWithinItsCapacity() throws {
        let db = try SQLiteConnection(path: ":memory:", options: .init(journalMode: nil, statementCacheCapacity: 2))
        let kept = try db.cachedStatement("SELECT 1")
        _ = try db.cachedStatement("SELECT 2")
        _ = try db.cachedStatement("SELECT 3")  // empties the cache, then caches SELECT 3
        #expect(try db.cachedStatement("SELECT 1") !== kept)
        // A statement evicted while still referenced keeps working.
        #expect(try kept.step())
        #expect(kept.int(at: 0) == 1)
    }

    @Test func closedConnectionRefusesWork() throws {
        try withTemporaryDirectory { dir in
            let db = try SQLiteConnection(path: dir + "/db.sqlite")
            try db.execute("CREATE TABLE t(x)")
            let insert = try db.prepare("INSERT INTO t VALUES (1)")
            let cached = try db.cachedStatement("SELECT count(*) FROM t")
            db.close()
            db.close()
            #expect(!db.isOpen)
            #expect(!db.isInTransaction)
            #expect(db.changes == 0)
            for attempt in [{ try insert.execute() }, { _ = try cached.step() }, { try db.execute("SELECT 1") }] {
                let error = #expect(throws: SQLiteError.self) { try attempt() }
                #expect(error?.code == .misuse)
            }
            #expect(throws: SQLiteError.self) { try db.cachedStatement("SELECT count(*) FROM t") }
        }
    }

    @Test func concurrentReaderSeesCommittedDataOnly() async throws {
        try await withAsyncTemporaryDirectory { dir in
            let path = dir + "/db.sqlite"
            let writer = try SQLiteConnection(path: path)
            try writer.execute("CREATE TABLE t(x INTEGER)")

            try writer.execute("BEGIN IMMEDIATE; INSERT INTO t VALUES (1);")
            // A reader on another thread is not blocked by the writer and does not see its open transaction.
            #expect(try await Self.countOnAnotherThread(path: path) == 0)
            try writer.execute("COMMIT")
            #expect(try await Self.countOnAnotherThread(path: path) == 1)

            // A reader inside a transaction keeps its snapshot while the writer commits more.
            let reader = try SQLiteConnection(path: path, options: .init(readOnly: true))
            try reader.execute("BEGIN")
            #expect(try self.count(reader, "t") == 1)
            try writer.transaction(.immediate) { try writer.execute("INSERT INTO t VALUES (2)") }
            #expect(try self.count(reader, "t") == 1)
            try reader.execute("COMMIT")
            #expect(try self.count(reader, "t") == 2)
        }
    }

    // MARK: - Helpers

    private func count(_ db: SQLiteConnection, _ table: String) throws -> Int {
        let statement = try db.prepare("SELECT count(*) FROM \(table)")
        guard try statement.step() else { return -1 }
        return statement.int(at: 0)
    }

    /// Opens a read-only connection on a new thread and counts the rows of `t` there.
    private static func countOnAnotherThread(path: String) async throws -> Int {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int, any Error>) in
            let thread = Thread {
                do {
                    let reader = try SQLiteConnection(path: path, options: .init(readOnly: true))
                    let statement = try reader.prepare("SELECT count(*) FROM t")
                    continuation.resume(returning: try statement.step() ? statement.int(at: 0) : -1)
                } catch {
                    continuation.resume(throwing: error)
                }
            }
            thread.start()
        }
    }
}
