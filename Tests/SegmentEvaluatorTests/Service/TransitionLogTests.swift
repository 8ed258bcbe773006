import SegmentsSQLite
import SegmentsTesting
import SegmentsWire
import Testing

@testable import SegmentEvaluator

/// The transition log's per-user index, written in sorted groups: a user's transitions come back
/// complete and in order whether they are in the index, in the log's tail it does not cover yet,
/// or both, across index parts and reopens.
@Suite struct TransitionLogTests {
    typealias Row = (segment: String, userID: String, enter: Bool, atMs: Int64, storeSeq: UInt64)

    /// 1,000 transitions of ten users in commits of 37, with groups of 100 and parts of 64: the
    /// index ends at the last commit that completed a group, the rest is read from the tail.
    @Test func aUsersTransitionsComeFromTheIndexAndTheTail() async throws {
        try await TemporaryDirectory.with { directory in
            var written: [Row] = []
            for i in 0..<1_000 {
                written.append(("s\(i % 3)", "u\(i * 7 % 10)", i % 2 == 0, Int64(i), UInt64(i / 37 + 1)))
            }
            do {
                let log = try TransitionLog(directory: directory, userIndexGroup: 100, userIndexPartBits: 6)
                for start in stride(from: 0, to: written.count, by: 37) {
                    let commit = Array(written[start..<min(start + 37, written.count)])
                    try log.append(commit, checkpointSeq: commit.last!.storeSeq)
                    try log.indexUsersWhenDue()
                }
                try Self.expectReads(log, written)
            }
            // Reopened: the index position was saved with the last group.
            let reopened = try TransitionLog(directory: directory, userIndexGroup: 100, userIndexPartBits: 6)
            try Self.expectReads(reopened, written)
            let db = try SQLiteConnection(path: directory + "/evaluator.sqlite")
            let indexed = try db.prepare("SELECT count(*), max(seq) FROM user_transitions")
            _ = try indexed.step()
            #expect(indexed.int64(at: 0) == indexed.int64(at: 1))
            #expect(indexed.int64(at: 0) > 800 && indexed.int64(at: 0) < 1_000)
        }
    }

    /// A log keeps the part size of its per-user index: the one it was created with, whatever a later open asks for;
    /// 2^20 for a log made before the size was recorded; and across a reset.
    @Test func aLogKeepsItsIndexPartSize() async throws {
        try await TemporaryDirectory.with { directory in
            var written: [Row] = []
            for i in 0..<1_000 {
                written.append(("s\(i % 3)", "u\(i * 7 % 10)", i % 2 == 0, Int64(i), UInt64(i / 37 + 1)))
            }
            func fill(_ log: TransitionLog) throws {
                for start in stride(from: 0, to: written.count, by: 37) {
                    let commit = Array(written[start..<min(start + 37, written.count)])
                    try log.append(commit, checkpointSeq: commit.last!.storeSeq)
                    try log.indexUsersWhenDue()
                }
            }
            func recorded() throws -> (bits: Int64, parts: Int64, lastPart: Int64) {
                let db = try SQLiteConnection(path: directory + "/evaluator.sqlite")
                let bits = try db.prepare("SELECT value FROM meta WHERE key = 'user_index_part_bits'")
                _ = try bits.step()
                let parts = try db.prepare("SELECT count(DISTINCT part), max(part) FROM user_transitions")
                _ = try parts.step()
                return (bits.int64(at: 0), parts.int64(at: 0), parts.int64(at: 1))
            }
            do {
                let log = try TransitionLog(directory: directory, userIndexGroup: 100, userIndexPartBits: 6)
                try fill(log)
                #expect(log.userIndexPartBits == 6)
            }
            let indexedThrough = try recorded().lastPart
            #expect(try recorded().bits == 6)
            #expect(try recorded().parts == indexedThrough + 1)
            let reopened = try TransitionLog(directory: directory, userIndexGroup: 100, userIndexPartBits: 3)
            #expect(reopened.userIndexPartBits == 6)
            try Self.expectReads(reopened, written)

            // Reset: the log starts over with the same part size.
            try reopened.reset()
            try fill(reopened)
            try Self.expectReads(reopened, written)
            #expect(try recorded().bits == 6)

            // A log from before the size was recorded: its rows are in parts of 2^20.
            do {
                let db = try SQLiteConnection(path: directory + "/evaluator.sqlite")
                try db.execute(
                    """
                    UPDATE user_transitions SET part = seq >> 20;
                    DELETE FROM meta WHERE key = 'user_index_part_bits';
                    """
                )
            }
            let older = try TransitionLog(directory: directory, userIndexGroup: 100)
            #expect(older.userIndexPartBits == 20)
            try Self.expectReads(older, written)
            #expect(try recorded().bits == 20)
        }
    }

    /// The index's rows are sorted in Swift as SQLite orders its primary key (user ids by UTF-8 bytes, shorter
    /// first on a common prefix), so that a group is inserted in key order.
    @Test func indexRowsSortAsSQLiteOrdersThem() throws {
        let ids = [
            "u1", "u10", "u9", "user-00000001", "user-00000001a", "user-0000000", "Zoë", "zoe", "Zoe\u{301}",
            "日本", "a", "", "abcdefgh", "abcdefghi", "abcdefg", "abcdefgh\u{0}", "\u{7f}", "é", "e\u{301}",
        ]
        let db = try SQLiteConnection(path: ":memory:", options: .init(journalMode: nil))
        try db.execute("CREATE TABLE ids(seq INTEGER PRIMARY KEY, user_id TEXT NOT NULL)")
        var rows: [UserIndexRow] = []
        for (i, id) in ids.enumerated() {
            let insert = try db.prepare("INSERT INTO ids(seq, user_id) VALUES (?1, ?2)")
            try insert.bind(Int64(i * 5 % 19 + 1), at: 1)
            try insert.bind(id, at: 2)
            try insert.execute()
            rows.append(UserIndexRow(seq: Int64(i * 5 % 19 + 1), userID: id, partBits: 2))
        }
        let select = try db.prepare("SELECT seq FROM ids ORDER BY seq >> 2, user_id, seq")
        var expected: [Int64] = []
        while try select.step() { expected.append(select.int64(at: 0)) }
        #expect(rows.sorted().map(\.seq) == expected)
    }

    /// A segment's transitions come from its blocks, whole and in pages that start inside a block,
    /// and again after a log written with the per-row index (schema version 5) is migrated to
    /// blocks of its own.
    @Test func aSegmentsTransitionsComeFromItsBlocks() async throws {
        try await TemporaryDirectory.with { directory in
            var written: [Row] = []
            for i in 0..<500 {
                written.append(("s\(i * i % 5)", "u\(i % 10)", i % 2 == 0, Int64(i), UInt64(i / 23 + 1)))
            }
            do {
                let log = try TransitionLog(directory: directory)
                for start in stride(from: 0, to: written.count, by: 23) {
                    let commit = Array(written[start..<min(start + 23, written.count)])
                    try log.append(commit, checkpointSeq: commit.last!.storeSeq)
                }
                try Self.expectSegmentReads(log, written)
                #expect(try log.read(from: 0, limit: 10, segment: "nope").isEmpty)
            }
            // Back to version 5 (the index by segment as an SQLite index), then reopened.
            do {
                let db = try SQLiteConnection(path: directory + "/evaluator.sqlite")
                try db.execute(
                    """
                    DROP TABLE segment_blocks;
                    CREATE INDEX transitions_by_segment ON transitions(segment, seq);
                    PRAGMA user_version = 5;
                    """
                )
            }
            let migrated = try TransitionLog(directory: directory)
            try Self.expectSegmentReads(migrated, written)
            let db = try SQLiteConnection(path: directory + "/evaluator.sqlite")
            let blocks = try db.prepare("SELECT count(*) FROM segment_blocks")
            _ = try blocks.step()
            #expect(blocks.int64(at: 0) == Int64(Set(written.map(\.segment)).count))
        }
    }

    /// Every segment's transitions, whole and in pages of 6.
    static func expectSegmentReads(_ log: TransitionLog, _ written: [Row]) throws {
        for segment in Set(written.map(\.segment)) {
            try expectReads(
                written,
                pageSize: 6,
                where: { rowSegment, _ in rowSegment == segment },
                read: { from, limit in try log.read(from: from, limit: limit, segment: segment) }
            )
        }
    }

    /// Every user's transitions, whole and in pages of 7 (pages cross the index's end).
    static func expectReads(_ log: TransitionLog, _ written: [Row]) throws {
        for user in (0..<10).map({ "u\($0)" }) {
            try expectReads(
                written,
                pageSize: 7,
                where: { _, rowUser in rowUser == user },
                read: { from, limit in try log.read(from: from, limit: limit, userID: user) }
            )
        }
    }

    /// The rows of `written` that `belongs` selects by segment and user (numbered from 1 in written order), read
    /// whole and in pages.
    static func expectReads(
        _ written: [Row],
        pageSize: Int,
        where belongs: (_ segment: String, _ userID: String) -> Bool,
        read: (_ from: UInt64, _ limit: Int) throws -> [Segments_V1_Transition]
    ) throws {
        let expected = written.indices.filter { belongs(written[$0].segment, written[$0].userID) }
            .map { UInt64($0 + 1) }
        let whole = try read(0, 10_000)
        #expect(whole.map(\.seq) == expected)
        #expect(whole.allSatisfy { belongs($0.segment, $0.userID) })
        var paged: [UInt64] = []
        var from: UInt64 = 0
        while true {
            let page = try read(from, pageSize)
            paged += page.map(\.seq)
            guard let last = page.last, page.count == pageSize else { break }
            from = last.seq + 1
        }
        #expect(paged == expected)
    }
}
