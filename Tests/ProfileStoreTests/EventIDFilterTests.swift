import SegmentsSQL
import SegmentsSQLite
import Testing

@testable import ProfileStore

/// The Bloom filter in front of `event_ids`: never "not seen" for a pair it holds (a duplicate
/// would be stored twice), and rarely "maybe" for one it does not (each costs a lookup).
@Suite struct EventIDFilterTests {
    @Test func holdsEveryPairAndRarelyClaimsOthers() {
        let filter = EventIDFilter(capacity: 200_000)
        for i in 0..<200_000 {
            filter.insert(userKey: Int64(i % 5_000), eventID: "e-\(i)")
        }
        for i in 0..<200_000 {
            #expect(filter.mayContain(userKey: Int64(i % 5_000), eventID: "e-\(i)"))
        }
        // The same ids under other users, and other ids: about 1 % false positives at capacity.
        var claimed = 0
        for i in 0..<100_000 where filter.mayContain(userKey: Int64(i % 5_000) + 7_919, eventID: "e-\(i)") {
            claimed += 1
        }
        for i in 200_000..<300_000 where filter.mayContain(userKey: Int64(i % 5_000), eventID: "e-\(i)") {
            claimed += 1
        }
        #expect(claimed < 4_000, "\(claimed) false positives of 200,000")
    }

    /// At its design load, 10 bits per pair (2^22 bits hold 419,430 pairs), the blocked filter claims about 1 % of
    /// the pairs it does not hold.
    @Test func falsePositivesAtTheDesignLoadStayNearOnePercent() {
        let pairs = (1 << 22) / 10
        let filter = EventIDFilter(capacity: pairs)
        for i in 0..<pairs {
            filter.insert(userKey: Int64(i % 100_000), eventID: "live-\(i)")
        }
        var claimed = 0
        for i in pairs..<(pairs + 200_000) where filter.mayContain(userKey: Int64(i % 100_000), eventID: "live-\(i)") {
            claimed += 1
        }
        #expect(claimed < 3_000, "\(claimed) false positives of 200,000")
        #expect(claimed > 0, "no false positive at all: the filter is larger than its design")
    }

    @Test func emptyIDsAndExtremeKeysAreHashedLikeAnyOther() {
        let filter = EventIDFilter(capacity: 10)
        #expect(!filter.mayContain(userKey: .min, eventID: ""))
        filter.insert(userKey: .min, eventID: "")
        filter.insert(userKey: .max, eventID: "é😀")
        #expect(filter.mayContain(userKey: .min, eventID: ""))
        #expect(filter.mayContain(userKey: .max, eventID: "é😀"))
    }

    /// The filter is loaded while the store serves. A pair written to the table during the load, after the load
    /// read past its place, must still be in the installed filter: otherwise its duplicate would be taken for new
    /// without a lookup.
    @Test func aPairFlushedWhileTheFilterLoadsIsStillADuplicate() throws {
        let connection = try SQLiteConnection(path: ":memory:", options: .init(journalMode: nil))
        try StoreSchema.migrate(connection, StoreSchema.sqliteMigrations)
        let index = DeferredUserIndex(flushThreshold: 1_000)
        try connection.writeTransaction {
            #expect(try index.insertEventID("before", userKey: 1, in: connection))
            try index.flushIfNeeded(headSeq: 1, in: connection, force: true)
        }
        // At start: "pending" is in memory only (not flushed), as after a rebuild of the log's tail.
        #expect(try index.insertEventID("pending", userKey: 2, in: connection))
        let capacity = try index.beginEventIDFilterLoad(from: connection)
        // The load reads the table as it is now...
        let loaded = try #require(
            try DeferredUserIndex.loadEventIDFilter(capacity: capacity, from: connection) { false }
        )
        #expect(loaded.pairs == 1)
        // ... while the writer records a new pair and flushes everything to the table.
        try connection.writeTransaction {
            #expect(try index.insertEventID("during", userKey: 3, in: connection))
            try index.flushIfNeeded(headSeq: 2, in: connection, force: true)
        }
        index.installEventIDFilter(loaded.filter)
        for (eventID, userKey) in [("before", Int64(1)), ("pending", 2), ("during", 3)] {
            #expect(try !index.insertEventID(eventID, userKey: userKey, in: connection), "\(eventID) taken for new")
        }
        #expect(try index.insertEventID("after", userKey: 3, in: connection))
    }
}
