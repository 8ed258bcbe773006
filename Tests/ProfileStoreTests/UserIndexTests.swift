import SegmentsClient
import SegmentsTesting
import SegmentsWire
import Testing

/// The per-user indexes (event ids, log entries per user) across in-memory groups, flushes to
/// SQLite and restarts: de-duplication and deletion must not depend on where an entry lives.
@Suite struct UserIndexTests {
    @Test(.timeLimit(.minutes(1)))
    func dedupAndDeletionAcrossFlushesAndRestarts() async throws {
        try await withStoreDirectory { directory in
            // Flush every 7 entries: batches land partly flushed, partly in memory.
            try await InProcessProfileStore.with(directory: directory, userIndexFlushEntries: 7) { store in
                for round in 0..<10 {
                    let events = (0..<3).map { SegmentsEvent(userID: "u\($0)", name: "e", atMs: 1, id: "r\(round)") }
                    let result = try await store.client.track(events)
                    #expect(result.accepted == 3)
                }
                // Every earlier id is a duplicate, wherever it is kept.
                let again = try await store.client.track(
                    (0..<10).map { SegmentsEvent(userID: "u1", name: "e", atMs: 1, id: "r\($0)") }
                )
                #expect(again.duplicates == 10)
                try await store.client.setProfile("u1", ["plan": .string("pro")])
                try await store.client.deleteProfile("u1")
            }
            // Restart: entries that were only in memory are rebuilt from the change log.
            try await InProcessProfileStore.with(directory: directory, userIndexFlushEntries: 1000) { store in
                let u0 = try await store.client.track(
                    (0..<10).map { SegmentsEvent(userID: "u0", name: "e", atMs: 1, id: "r\($0)") }
                )
                #expect(u0.duplicates == 10)
                // The deleted user's ids were forgotten everywhere: a new u1 starts fresh.
                let u1 = try await store.client.track(
                    (0..<10).map { SegmentsEvent(userID: "u1", name: "e", atMs: 1, id: "r\($0)") }
                )
                #expect(u1.accepted == 10)
                // And its mentions were scrubbed from every earlier log entry. Entries: 10 tracks,
                // the profile set, the deletion, the new u1's track (all-duplicate writes log none).
                let log = try await readLog(store.client, fromSeq: 1, count: 13)
                #expect(log.count == 13)
                let mentions = log.prefix(12).filter { entry in
                    entry.eventsTracked.events.contains { $0.userID == "u1" }
                        || entry.profilesUpserted.changes.contains { $0.userID == "u1" }
                }
                #expect(mentions.isEmpty)
                let info = try await store.client.storeInfo()
                #expect(info.eventCount == 30 - 10 + 10)
            }
        }
    }

    /// Flushes large enough for multi-row inserts (128 rows a statement, the rest one by one):
    /// every id and every mention reaches SQLite, so de-duplication and deletion still work
    /// after a restart that has nothing left in memory.
    @Test(.timeLimit(.minutes(1)))
    func largeFlushesKeepEveryIDAndMention() async throws {
        try await withStoreDirectory { directory in
            // 300 users x 2 ids = 600 ids + 300 mentions per batch: above the threshold of 500.
            let batch: @Sendable (Int) -> [SegmentsEvent] = { round in
                (0..<600).map { SegmentsEvent(userID: "u\($0 % 300)", name: "e", atMs: 1, id: "r\(round)-\($0)") }
            }
            try await InProcessProfileStore.with(directory: directory, userIndexFlushEntries: 500) { store in
                for round in 0..<3 {
                    let result = try await store.client.track(batch(round))
                    #expect(result.accepted == 600)
                }
            }
            try await InProcessProfileStore.with(directory: directory, userIndexFlushEntries: 500) { store in
                for round in 0..<3 {
                    let result = try await store.client.track(batch(round))
                    #expect(result.duplicates == 600)
                }
                try await store.client.deleteProfile("u7")
                let log = try await readLog(store.client, fromSeq: 1, count: 3)
                let mentions = log.filter { entry in entry.eventsTracked.events.contains { $0.userID == "u7" } }
                #expect(mentions.isEmpty)
                let info = try await store.client.storeInfo()
                #expect(info.eventCount == 1800 - 6)
            }
        }
    }
}
