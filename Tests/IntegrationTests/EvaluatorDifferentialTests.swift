import SegmentLanguage
import SegmentsClient
import SegmentsTesting
import Testing

/// A seeded random workload through the real daemons (in process, manual clock): after every
/// step, the members of every segment equal the reference interpreter's answer over the test's
/// own model of the data; every time-driven transition happens exactly at its instant; and the
/// transition log replayed from empty ends at the final membership.
@Suite struct EvaluatorDifferentialTests {
    static let start = "2026-11-01T00:00:00Z"

    @Test(arguments: [101, 202, 303] as [UInt64])
    func membersEqualTheReferenceInterpreterAfterEveryStep(seed: UInt64) async throws {
        let steps = try WorkloadGenerator().steps(seed: seed, count: 90, startMs: ms(Self.start), traits: true)
        try await withDaemons(start: Self.start) { daemons in
            try await Self.run(steps, seed: seed, client: daemons.client)
        }
    }

    static func run(_ steps: [WorkloadStep], seed: UInt64, client: SegmentsClient) async throws {
        var model = WorkloadModel(nowMs: ms(start))
        var lastSeq: UInt64 = 0
        var r = WorkloadRandom(seed: seed &* 7)
        for (index, step) in steps.enumerated() {
            let context = "seed \(seed) step \(index): \(step)"
            let before = model
            let transitionHead = try await client.evaluatorStatus().first?.transitionSeq ?? 0
            lastSeq = max(lastSeq, try await step.send(to: client))
            try model.apply(step)

            // 1. Members of every segment equal the reference, now.
            let expected = model.memberships(at: model.nowMs)
            for (name, _) in model.segments {
                let actual = Set(try await client.members(name, minSeq: lastSeq))
                let reference = expected[name] ?? []
                if actual != reference {
                    var why = ""
                    if let user = actual.symmetricDifference(reference).sorted().first {
                        why = "\nexplain \(user):\n" + (try await Self.explanation(client, user, name))
                    }
                    Issue.record(
                        """
                        \(context)
                        \(name) = \(model.text(of: name))
                        evaluator \(actual.sorted())
                        reference \(reference.sorted())\(why)
                        """
                    )
                    return
                }
            }

            // 2. A clock move's transitions happen exactly at their instants, none missed in between.
            if case .clock = step, model.nowMs > before.nowMs {
                var produced: [SegmentsTransition] = []
                for (name, _) in model.segments {
                    produced += try await client.history(ofSegment: name).filter { $0.seq > transitionHead }
                }
                produced.sort { $0.seq < $1.seq }
                #expect(produced.map(\.atMs) == produced.map(\.atMs).sorted(), "\(context): out of order")
                let start = before.memberships(at: before.nowMs)
                var instants = Set(produced.map(\.atMs))
                for _ in 0..<2 { instants.insert(r.int64((before.nowMs + 1)...model.nowMs)) }
                for t in instants.sorted() {
                    guard t > before.nowMs, t <= model.nowMs else {
                        Issue.record("\(context): transition at \(RFC3339.format(t)) outside the move")
                        return
                    }
                    var state = start
                    for transition in produced where transition.atMs <= t {
                        if transition.kind == .enter {
                            state[transition.segment, default: []].insert(transition.userID)
                        } else {
                            state[transition.segment]?.remove(transition.userID)
                        }
                    }
                    let reference = model.memberships(at: t)
                    for (name, members) in reference where state[name, default: []] != members {
                        Issue.record(
                            """
                            \(context): at \(RFC3339.format(t)), \(name) = \(model.text(of: name))
                            log \(state[name, default: []].sorted()) reference \(members.sorted())
                            """
                        )
                        return
                    }
                }
            }
        }

        // 3. The transition log, replayed from empty in seq order, ends at the final membership;
        // enters and exits alternate per (segment, user) and "member since" is the last enter.
        let final = model.memberships(at: model.nowMs)
        var replayed: [String: [String: Int64]] = [:]
        var all: [SegmentsTransition] = []
        for (name, _) in model.segments {
            all += try await client.history(ofSegment: name)
        }
        all.sort { $0.seq < $1.seq }
        #expect(Set(all.map(\.seq)).count == all.count, "seed \(seed): a transition seq repeats")
        for transition in all {
            let member = replayed[transition.segment]?[transition.userID] != nil
            switch transition.kind {
            case .enter:
                #expect(!member, "seed \(seed): enter of a member \(transition)")
                replayed[transition.segment, default: [:]][transition.userID] = transition.atMs
            case .exit:
                #expect(member, "seed \(seed): exit of a non-member \(transition)")
                replayed[transition.segment]?[transition.userID] = nil
            }
        }
        for (name, _) in model.segments {
            let members = replayed[name, default: [:]]
            #expect(Set(members.keys) == final[name] ?? [], "seed \(seed): replay of \(name)")
            for (user, since) in members.sorted(by: { $0.key < $1.key }) {
                let check = try await client.check(user, in: name, minSeq: lastSeq)
                #expect(check.member && check.sinceMs == since, "seed \(seed): \(user) in \(name) since")
            }
        }
        // The workload exercised something: transitions of several segments, both kinds.
        #expect(Set(all.map(\.segment)).count >= 3, "seed \(seed): too few segments ever had members")
        #expect(all.contains { $0.kind == .exit })
    }

    static func explanation(_ client: SegmentsClient, _ user: String, _ segment: String) async throws -> String {
        do {
            let response = try await client.explain(user, in: segment)
            func render(_ node: SegmentsExplanation.Node, _ indent: Int) -> String {
                String(repeating: " ", count: indent) + node.text + " → " + node.value + "\n"
                    + node.children.map { render($0, indent + 2) }.joined()
            }
            return render(response.root, 2)
        } catch {
            return "  (\(error))"
        }
    }
}
