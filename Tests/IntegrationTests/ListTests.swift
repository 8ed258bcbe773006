import Foundation
import SegmentsClient
import SegmentsTesting
import SegmentsWire
import Testing

/// Static lists and overlap through the real store and evaluator (in process) and the client.
@Suite struct ListTests {
    @Test func addRemoveAndListMembersRoundTrip() async throws {
        try await withDaemons { daemons in
            let client = daemons.client
            var result = try await client.createList("vip")
            #expect(result.seq > 0)
            result = try await client.changeListMembers("vip", add: ["u2", "u1", "u3", "u1"])
            #expect(result.accepted == 4)
            #expect(result.duplicates == 1)
            try await client.setProfile("u4", ["plan": .string("pro")])
            result = try await client.changeListMembers("vip", add: ["u4"], remove: ["u2", "u4"])
            #expect(result.duplicates == 0)
            #expect(try await client.listMembers("vip") == ["u1", "u3"])
            let lists = try await client.lists()
            #expect(lists.map(\.name) == ["vip"])
            #expect(lists.first?.size == 2)
            // The evaluator follows: members, check and count agree with the store.
            #expect(try await client.members("vip", minSeq: result.seq) == ["u1", "u3"])
            #expect(try await client.check("u3", in: "vip", minSeq: result.seq).member)
            #expect(try await client.check("u4", in: "vip", minSeq: result.seq).member == false)
            // Users created by being added exist in the store.
            #expect(try await client.profile("u2").userID == "u2")
            result = try await client.deleteList("vip")
            #expect(try await client.lists().isEmpty)
            let afterDelete = await Self.error { try await client.members("vip", minSeq: result.seq) }
            #expect(afterDelete?.code == .notFound)
        }
    }

    @Test func inSegmentOfAListUpdatesTheDependentSegmentAtOnce() async throws {
        try await withDaemons { daemons in
            let client = daemons.client
            try await client.createList("beta")
            try await client.setProfile("u1", ["plan": .string("pro")])
            try await client.setProfile("u2", ["plan": .string("pro")])
            try await client.setProfile("u3", ["plan": .string("free")])
            var seq = try await client.putSegment("pro_beta", expression: #"plan = "pro" and in_segment("beta")"#)
                .updatedSeq
            #expect(try await client.members("pro_beta", minSeq: seq).isEmpty)
            seq = try await client.changeListMembers("beta", add: ["u1", "u3"]).seq
            #expect(try await client.members("pro_beta", minSeq: seq) == ["u1"])
            seq = try await client.changeListMembers("beta", remove: ["u1"]).seq
            #expect(try await client.members("pro_beta", minSeq: seq).isEmpty)
            seq = try await client.changeListMembers("beta", add: ["u2"]).seq
            #expect(try await client.members("pro_beta", minSeq: seq) == ["u2"])
            // A deleted user leaves every list, in the store and in the evaluator.
            seq = try await client.deleteProfile("u2").seq
            #expect(try await client.members("pro_beta", minSeq: seq).isEmpty)
            #expect(try await client.listMembers("beta") == ["u3"])
            #expect(try await client.lists().first?.size == 1)
            // Preview sees lists too.
            #expect(try await client.preview(#"in_segment("beta")"#, minSeq: seq).count == 1)
            // A list in use cannot be deleted; names are shared with segments.
            let inUse = await Self.error { try await client.deleteList("beta") }
            #expect(inUse?.code == .failedPrecondition)
            #expect(inUse?.message.contains("'pro_beta'") == true)
            let clash = await Self.error { try await client.createList("pro_beta") }
            #expect(clash?.code == .alreadyExists)
            let clash2 = await Self.error { try await client.putSegment("beta", expression: #"plan = "x""#) }
            #expect(clash2?.code == .alreadyExists)
        }
    }

    @Test func badIdsAndUnknownListsGetClearErrors() async throws {
        try await withDaemons { daemons in
            let client = daemons.client
            let unknown = await Self.error { try await client.changeListMembers("nope", add: ["u1"]) }
            #expect(unknown?.code == .notFound)
            #expect(unknown?.message == "no list 'nope'")
            let members = await Self.error { try await client.listMembers("nope") }
            #expect(members?.code == .notFound)
            let badName = await Self.error { try await client.createList("bad name!") }
            #expect(badName?.code == .invalidArgument)
            try await client.createList("l")
            let tooLong = String(repeating: "x", count: 300)
            let result = try await client.changeListMembers("l", add: ["ok", "", tooLong], remove: ["ghost"])
            #expect(result.accepted == 1)
            #expect(result.rejected.map(\.index) == [1, 2, 3])
            #expect(result.rejected.first?.error.message == "user id is empty")
            #expect(result.rejected.last?.error.message == "no user 'ghost'")
            #expect(try await client.listMembers("l") == ["ok"])
        }
    }

    @Test func snapshotFreezesTheMembersOfASegment() async throws {
        try await withDaemons { daemons in
            let client = daemons.client
            for index in 1...25 {
                try await client.setProfile("u\(index)", ["n": .number(Double(index))])
            }
            try await client.putSegment("big", expression: "n > 10")
            let snapshot = try await client.snapshotList(of: "big", into: "frozen", batchSize: 4)
            #expect(snapshot.members == 15)
            let members = try await client.members("big")
            #expect(try await client.listMembers("frozen") == members)
            // Later changes move the segment, not the list.
            let seq = try await client.setProfile("u1", ["n": .number(100)]).seq
            #expect(try await client.memberCount("big", minSeq: seq) == 16)
            #expect(try await client.memberCount("frozen", minSeq: seq) == 15)
            let taken = await Self.error { try await client.snapshotList(of: "big", into: "frozen") }
            #expect(taken?.code == .alreadyExists)
            let missing = await Self.error { try await client.snapshotList(of: "nope", into: "other") }
            #expect(missing?.code == .notFound)
            #expect(try await client.lists().map(\.name) == ["frozen"])
        }
    }

    @Test func overlapEqualsSetArithmeticOnMembers() async throws {
        try await withDaemons { daemons in
            let client = daemons.client
            var generator = WorkloadRandom(seed: 20_261_129)
            var patches: [(userID: String, attributes: [String: SegmentsValue?])] = []
            for index in 0..<400 {
                patches.append(
                    (
                        "u\(index)",
                        [
                            "a": .number(Double(Int.random(in: 0..<10, using: &generator))),
                            "b": .number(Double(Int.random(in: 0..<10, using: &generator))),
                        ]
                    )
                )
            }
            try await client.upsertProfiles(patches)
            try await client.createList("picked")
            let picked = (0..<400).filter { _ in Bool.random(using: &generator) }.map { "u\($0)" }
            try await client.changeListMembers("picked", add: picked)
            var names = ["picked"]
            for index in 0..<5 {
                let threshold = Int.random(in: 1..<9, using: &generator)
                let expression =
                    index % 2 == 0 ? "a < \(threshold)" : "b >= \(threshold) or in_segment(\"picked\") and a = 3"
                try await client.putSegment("s\(index)", expression: expression)
                names.append("s\(index)")
            }
            let seq = try await client.storeInfo().headSeq
            let overlap = try await client.overlap(names, minSeq: seq)
            var sets: [Set<String>] = []
            for name in names {
                sets.append(Set(try await client.members(name, minSeq: seq)))
            }
            #expect(overlap.sizes == sets.map(\.count))
            #expect(overlap.pairs.count == names.count * (names.count - 1) / 2)
            for pair in overlap.pairs {
                let both = sets[pair.first].intersection(sets[pair.second]).count
                let either = sets[pair.first].union(sets[pair.second]).count
                #expect(pair.intersection == both)
                #expect(abs(pair.jaccard - (either == 0 ? 0 : Double(both) / Double(either))) < 1e-12)
            }
            let one = await Self.error { try await client.overlap(["s0"]) }
            #expect(one?.code == .invalidArgument)
            let repeated = await Self.error { try await client.overlap(["s0", "s0"]) }
            #expect(repeated?.code == .invalidArgument)
            let unknown = await Self.error { try await client.overlap(["s0", "nope"]) }
            #expect(unknown?.code == .notFound)
        }
    }

    /// The client error `body` throws, or `nil`.
    static func error(_ body: () async throws -> some Any) async -> SegmentsClientError? {
        do {
            _ = try await body()
            return nil
        } catch let error as SegmentsClientError {
            return error
        } catch {
            return nil
        }
    }
}
