import SegmentsClient
import SegmentsTesting
import SegmentsWire
import Testing

@Suite struct ProfileSemanticsTests {
    @Test func mergeSetsAndNullRemoves() async throws {
        try await withStore { store in
            let client = store.client
            try await client.setProfile("u1", ["plan": .string("pro"), "age": .number(34), "tags": .stringList(["a"])])
            try await client.setProfile("u1", ["age": nil, "country": .string("DE"), "vip": .bool(true)])
            let profile = try await client.profile("u1")
            #expect(
                profile.attributes == [
                    "plan": .string("pro"), "tags": .stringList(["a"]), "country": .string("DE"), "vip": .bool(true),
                ]
            )
            #expect(profile.createdSeq == 1)
            #expect(profile.updatedSeq == 2)
        }
    }

    @Test func unchangedPatchIsAcceptedButNotLogged() async throws {
        try await withStore { store in
            let first = try await store.client.setProfile("u1", ["plan": .string("pro")])
            let again = try await store.client.setProfile("u1", ["plan": .string("pro"), "gone": nil])
            #expect(first.seq == 1)
            #expect(again.seq == 0)
            #expect(again.accepted == 1)
            #expect(try await store.client.storeInfo().headSeq == 1)
        }
    }

    @Test func emptyPatchCreatesUser() async throws {
        try await withStore { store in
            let result = try await store.client.setProfile("new", [:])
            #expect(result.seq == 1)
            #expect(try await store.client.profile("new").attributes.isEmpty)
        }
    }

    @Test func deleteForgetsUserEventsAndIds() async throws {
        try await withStore { store in
            let client = store.client
            try await client.setProfile("u1", ["plan": .string("pro")])
            try await client.track([SegmentsEvent(userID: "u1", name: "buy", atMs: 1000, id: "e1")])
            try await client.track([SegmentsEvent(userID: "u2", name: "buy", atMs: 1000)])
            try await client.deleteProfile("u1")
            #expect(await errorCode { _ = try await client.profile("u1") } == .notFound)
            // A later write starts a fresh user: the old event id is forgotten too.
            let again = try await client.track([SegmentsEvent(userID: "u1", name: "buy", atMs: 2000, id: "e1")])
            #expect(again.accepted == 1)
            #expect(again.duplicates == 0)
            // Earlier log entries no longer mention u1.
            let log = try await readLog(client, fromSeq: 1, count: 5)
            let early = log.prefix(3)
            #expect(!early.contains { $0.profilesUpserted.changes.contains { $0.userID == "u1" } })
            #expect(!early.contains { $0.eventsTracked.events.contains { $0.userID == "u1" } })
            #expect(log.map(\.seq) == [1, 2, 3, 4, 5].map(UInt64.init))
            #expect(log[3].userDeleted.userID == "u1")
            let info = try await client.storeInfo()
            #expect(info.userCount == 2)
            #expect(info.eventCount == 2)
        }
    }

    @Test func deleteUnknownUserIsNotFound() async throws {
        try await withStore { store in
            #expect(await errorCode { try await store.client.deleteProfile("ghost") } == .notFound)
            #expect(await errorCode { _ = try await store.client.profile("ghost") } == .notFound)
        }
    }

    @Test func badProfileInputIsRefusedWithoutLosingGoodItems() async throws {
        try await withStore { store in
            let long = String(repeating: "x", count: 257)
            let result = try await store.client.upsertProfiles([
                (userID: "ok1", attributes: ["a": .number(1)]),
                (userID: "", attributes: ["a": .number(1)]),
                (userID: long, attributes: [:]),
                (userID: "nan", attributes: ["a": .number(.nan)]),
                (userID: "ok2", attributes: ["": .number(1)]),
                (userID: "ok3", attributes: [:]),
            ])
            #expect(result.accepted == 2)
            #expect(result.rejected.map(\.index) == [1, 2, 3, 4])
            let allInvalid = result.rejected.allSatisfy { $0.error.code == .invalidArgument }
            #expect(allInvalid)
            #expect(result.rejected[0].error.message.contains("user id is empty"))
            #expect(result.rejected[1].error.message.contains("257 bytes"))
            #expect(result.rejected[2].error.message.contains("not a finite number"))
            #expect(try await store.client.profile("ok1").attributes == ["a": .number(1)])
            #expect(try await store.client.profile("ok3").attributes.isEmpty)
        }
    }
}
