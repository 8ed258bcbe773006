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

    /// Items of one request are applied in request order, even though users are read and written a few hundred
    /// per statement: a user named twice sees its first item, and a batch spans several statements.
    @Test func aBatchAppliesItsItemsInOrderAcrossStatements() async throws {
        try await withStore { store in
            let client = store.client
            try await client.setProfile("old", ["plan": .string("free"), "age": .number(40)])
            var patches: [(userID: String, attributes: [String: SegmentsValue?])] = [
                (userID: "new", attributes: ["plan": .string("pro")]),
                (userID: "old", attributes: ["plan": .string("pro")]),
                (userID: "new", attributes: ["plan": nil, "country": .string("DE")]),
                (userID: "old", attributes: ["age": .number(40)]),
                (userID: "old", attributes: ["age": nil]),
            ]
            patches += (0..<600).map { (userID: "bulk\($0)", attributes: ["n": .number(Double($0))]) }
            let result = try await client.upsertProfiles(patches)
            #expect(result.accepted == 605)
            #expect(try await client.profile("new").attributes == ["country": .string("DE")])
            #expect(try await client.profile("old").attributes == ["plan": .string("pro")])
            #expect(try await client.profile("bulk599").attributes == ["n": .number(599)])
            let entry = try #require(try await readLog(client, fromSeq: result.seq, count: 1).first)
            let changes = entry.profilesUpserted.changes
            // The unchanged patch of "old" (age 40 again) is not logged.
            #expect(changes.count == 604)
            #expect(changes.prefix(4).map(\.userID) == ["new", "old", "new", "old"])
            #expect(changes.prefix(4).map(\.created) == [true, false, false, false])
            #expect(changes[2].removed == ["plan"])
            #expect(changes[3].removed == ["age"])

            try await client.createList("l")
            try await client.changeListMembers("l", add: ["old"])
            let adds = ["old", "a", "old", "b"] + (0..<300).map { "bulk\($0)" } + ["fresh", "a"]
            let members = try await client.changeListMembers("l", add: adds, remove: ["fresh", "ghost", "b", "b"])
            #expect(members.accepted == 309)
            #expect(members.rejected.map(\.index) == [307])
            #expect(members.rejected.first?.error.message == "no user 'ghost'")
            // Duplicates: "old" (a member already, and named twice), the second "a", the second "b".
            #expect(members.duplicates == 4)
            let changed = try #require(try await readLog(client, fromSeq: members.seq, count: 1).first)
                .listMembersChanged
            #expect(changed.added == ["a", "b"] + (0..<300).map { "bulk\($0)" } + ["fresh"])
            #expect(changed.removed == ["fresh", "b"])
            #expect(changed.createdUsers == ["a", "b", "fresh"])
            let listed = try await client.listMembers("l")
            #expect(
                listed
                    == (["a", "old"] + (0..<300).map { "bulk\($0)" }).sorted {
                        $0.utf8.lexicographicallyPrecedes($1.utf8)
                    }
            )
            #expect(try await client.lists().first?.size == 302)
        }
    }
}
