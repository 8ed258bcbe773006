import SegmentsClient
import SegmentsRPC
import SegmentsTesting
import SegmentsWire
import Testing

/// Deleted users' data kept replayable for registered feed subscribers: scrubbed at once for
/// everyone else, served as it was to subscribers that have not durably passed the deletion,
/// released as soon as every subscriber has, or when a subscriber is forgotten.
@Suite(.timeLimit(.minutes(1))) struct FeedRetentionTests {
    /// Writes u1's profile, an event batch of u1 and u2, then deletes u1: entries 2, 3, 4.
    private static func writeThenDelete(_ client: SegmentsClient) async throws {
        try await client.setProfile("u1", ["plan": .string("pro")])
        try await client.track([
            SegmentsEvent(userID: "u1", name: "purchase", atMs: 1),
            SegmentsEvent(userID: "u2", name: "purchase", atMs: 2),
        ])
        try await client.deleteProfile("u1")
    }

    /// Entries 1…`count` as `subscriber` reads them ("" reads unregistered).
    private static func read(
        _ store: InProcessProfileStore,
        as subscriber: String,
        durableSeq: UInt64 = 0,
        resuming: Bool = false,
        count: Int = 4
    ) async throws -> [Segments_V1_ChangeEntry] {
        let connection = try await RPCConnection.connect(to: store.socketPath)
        var request = Segments_V1_SubscribeRequest()
        request.fromSeq = 1
        request.subscriberID = subscriber
        request.durableSeq = durableSeq
        request.resuming = resuming
        request.name = "test subscriber"
        var entries: [Segments_V1_ChangeEntry] = []
        do {
            for try await batch in connection.stream(ProfileStoreAPI.subscribe, request) {
                entries += batch.entries
                if entries.count >= count { break }
            }
            entries.removeFirst(min(1, entries.count))  // u0, written to have an entry to register with
        } catch {
            await connection.close()
            throw error
        }
        await connection.close()
        return entries
    }

    /// Registers `subscriber` as a subscription does (after writing u0, entry 1, to read).
    private static func register(_ store: InProcessProfileStore, _ subscriber: String) async throws {
        if try await store.client.storeInfo().headSeq == 0 {
            try await store.client.setProfile("u0", [:])
        }
        _ = try await Self.read(store, as: subscriber, count: 1)
    }

    private static func acknowledge(
        _ store: InProcessProfileStore,
        _ subscriber: String,
        _ seq: UInt64
    ) async throws -> UInt64 {
        let connection = try await RPCConnection.connect(to: store.socketPath)
        var request = Segments_V1_AcknowledgeFeedRequest()
        request.subscriberID = subscriber
        request.durableSeq = seq
        let response = try await connection.call(ProfileStoreAPI.acknowledgeFeed, request)
        await connection.close()
        return response.releasedEntries
    }

    /// Which users each entry mentions.
    private static func users(_ entries: [Segments_V1_ChangeEntry]) -> [[String]] {
        entries.map { entry in
            entry.profilesUpserted.changes.map(\.userID) + entry.eventsTracked.events.map(\.userID)
                + (entry.userDeleted.userID.isEmpty ? [] : ["deleted " + entry.userDeleted.userID])
        }
    }

    @Test func aRegisteredSubscriberReadsDeletedUsersDataUntilItHasDurablyPassedTheDeletion() async throws {
        try await withStore { store in
            // Registered before the deletion, as an evaluator is.
            try await Self.register(store, "e1")
            try await Self.writeThenDelete(store.client)

            #expect(Self.users(try await Self.read(store, as: "")) == [[], ["u2"], ["deleted u1"]])
            #expect(Self.users(try await Self.read(store, as: "e1")) == [["u1"], ["u1", "u2"], ["deleted u1"]])
            var info = try await store.client.storeInfo()
            #expect(info.heldEntryCount == 2)
            #expect(info.feedSubscribers.map(\.id) == ["e1"])
            #expect(info.feedSubscribers.first?.name == "test subscriber")

            // Durable before the deletion: nothing released.
            #expect(try await Self.acknowledge(store, "e1", 3) == 0)
            #expect(Self.users(try await Self.read(store, as: "e1", durableSeq: 3)).first == ["u1"])
            // Past it: released, and the subscriber now reads the scrubbed log too.
            #expect(try await Self.acknowledge(store, "e1", 4) == 2)
            info = try await store.client.storeInfo()
            #expect(info.heldEntryCount == 0)
            #expect(info.feedSubscribers.first?.durableSeq == 4)
            #expect(Self.users(try await Self.read(store, as: "e1", durableSeq: 4)) == [[], ["u2"], ["deleted u1"]])
        }
    }

    @Test func entriesAreHeldUntilTheSlowestSubscriberHasPassed() async throws {
        try await withStore { store in
            try await Self.register(store, "fast")
            try await Self.register(store, "slow")
            try await Self.writeThenDelete(store.client)
            #expect(try await Self.acknowledge(store, "fast", 4) == 0)
            #expect(try await store.client.storeInfo().heldEntryCount == 2)
            #expect(try await Self.acknowledge(store, "slow", 4) == 2)
            #expect(try await store.client.storeInfo().heldEntryCount == 0)
        }
    }

    @Test func withoutRegisteredSubscribersADeletionHoldsNothing() async throws {
        try await withStore { store in
            try await store.client.setProfile("u0", [:])
            try await Self.writeThenDelete(store.client)
            #expect(try await store.client.storeInfo().heldEntryCount == 0)
            #expect(Self.users(try await Self.read(store, as: "later")) == [[], ["u2"], ["deleted u1"]])
        }
    }

    /// A subscriber not seen within the expiry is forgotten and what it held released; if it comes
    /// back resuming history from before the released deletion, it is refused (it must rebuild);
    /// starting over, or a new subscriber, is fine.
    @Test func aForgottenSubscriberCannotResumePastReleasedData() async throws {
        try await withStoreDirectory { directory in
            // Long enough that the subscriber is still registered when its first entries are counted, on a busy
            // machine too (3 s was not, once, with the whole suite running on both backends).
            try await InProcessProfileStore.with(directory: directory, feedSubscriberExpiry: .seconds(8)) { store in
                try await Self.register(store, "e1")
                try await Self.writeThenDelete(store.client)
                #expect(try await store.client.storeInfo().heldEntryCount == 2)

                let deadline = ContinuousClock.now + .seconds(30)
                while try await store.client.storeInfo().heldEntryCount > 0, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(50))
                }
                let info = try await store.client.storeInfo()
                #expect(info.heldEntryCount == 0)
                #expect(info.feedSubscribers.isEmpty)

                let refused = await #expect(throws: RPCError.self) {
                    _ = try await Self.read(store, as: "e1", durableSeq: 2, resuming: true)
                }
                #expect(refused?.code == .failedPrecondition)
                #expect(refused?.message.contains("rebuild from scratch") == true)
                // Past the released deletion, or starting over, or new: accepted.
                #expect(try await Self.read(store, as: "e1", durableSeq: 4, resuming: true).count == 3)
                #expect(try await Self.read(store, as: "e1", resuming: false).count == 3)
                #expect(try await Self.read(store, as: "e2", resuming: false).count == 3)
            }
        }
    }

    @Test func aSubscriberIDMustBeAName() async throws {
        try await withStore { store in
            try await store.client.setProfile("u0", [:])
            let refused = await #expect(throws: RPCError.self) {
                _ = try await Self.read(store, as: String(repeating: "x", count: 300))
            }
            #expect(refused?.code == .invalidArgument)
            #expect(refused?.message.contains("subscriber id") == true)
        }
    }
}
