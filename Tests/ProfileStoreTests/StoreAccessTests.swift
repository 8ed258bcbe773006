import SegmentsClient
import SegmentsRPC
import SegmentsTesting
import SegmentsWire
import Testing

/// The store's role checks that depend on more than the method: a reader may follow the change log but not register
/// as a durable subscriber (the store would keep deleted users' data for it) nor acknowledge a position.
@Suite(.timeLimit(.minutes(1))) struct StoreAccessTests {
    @Test func aReaderFollowsTheLogButCannotRegisterOrAcknowledge() async throws {
        try await withStoreDirectory { directory in
            try await InProcessProfileStore.with(directory: directory) { store in
                try await store.client.setProfile("u1", ["plan": .string("pro")])
                try await store.client.setProfile("u2", ["plan": .string("free")])
            }
            // The daemon's user is someone else now, so this process is `others`: a reader.
            let access = try RPCAccessPolicy(parsing: "others = reader", source: "test", ownerUID: 4_242_424)
            try await InProcessProfileStore.with(directory: directory, access: access) { store in
                let connection = try await RPCConnection.connect(to: store.socketPath)
                var follow = Segments_V1_SubscribeRequest()
                follow.fromSeq = 1
                var entries = 0
                for try await batch in connection.stream(ProfileStoreAPI.subscribe, follow) {
                    entries += batch.entries.count
                    if entries >= 2 { break }
                }
                #expect(entries == 2)

                var register = follow
                register.subscriberID = "reader-evaluator"
                let refused = await #expect(throws: RPCError.self) {
                    for try await _ in connection.stream(ProfileStoreAPI.subscribe, register) {}
                }
                #expect(refused?.code == .permissionDenied)
                #expect(refused?.message.contains("needs the writer role") == true)

                var acknowledge = Segments_V1_AcknowledgeFeedRequest()
                acknowledge.subscriberID = "reader-evaluator"
                acknowledge.durableSeq = 2
                let notAcknowledged = await #expect(throws: RPCError.self) {
                    _ = try await connection.call(ProfileStoreAPI.acknowledgeFeed, acknowledge)
                }
                #expect(notAcknowledged?.message.hasPrefix("AcknowledgeFeed needs the writer role") == true)
                await connection.close()

                let info = try await store.client.storeInfo()
                #expect(info.feedSubscribers.isEmpty)
                await #expect(throws: SegmentsClientError.self) {
                    try await store.client.setProfile("u3", [:])
                }
            }
        }
    }
}
