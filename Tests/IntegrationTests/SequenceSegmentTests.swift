import Foundation
import SegmentsTesting
import Testing

/// Sequence segments (`a then b within D`, `a not followed by b within D`) through real `profile-store` and
/// `segment-evaluator` processes and `segclient`, the way a new user meets them: data loaded first, segments
/// defined after, the clock moved, the evaluator restarted in the middle.
@Suite struct SequenceSegmentTests {
    @Test func abandonedCartAndFunnelOverLoadedData() async throws {
        try await ListCLITests.withDaemonProcesses { _, segclient in
            func run(_ arguments: [String]) async throws -> CommandResult {
                let result = try await segclient(arguments, nil)
                #expect(result.status == 0, "\(arguments): \(result.stderr)")
                return result
            }
            // The data first: a cart alone, a cart bought 30 minutes later (dated ahead of the clock), and a
            // pricing view, a cart and a purchase.
            _ = try await run(["track", "u1", "add_to_cart", "--at", "2026-11-01T00:00:00Z"])
            _ = try await run(["track", "u2", "add_to_cart", "--at", "2026-11-01T00:00:00Z"])
            _ = try await run(["track", "u2", "purchase", "--at", "2026-11-01T00:30:00Z"])
            _ = try await run(
                ["track", "u3", "view", "--at", "2026-11-01T00:00:00Z", "--props", #"{"page":"/pricing"}"#]
            )
            _ = try await run(["track", "u3", "add_to_cart", "--at", "2026-11-01T00:10:00Z"])
            _ = try await run(["track", "u3", "purchase", "--at", "2026-11-01T00:20:00Z"])

            // A sequence without its window is refused with where and why; nothing is saved.
            var result = try await segclient(["segment", "create", "bad", "add_to_cart then purchase"], nil)
            #expect(result.status == 2)
            #expect(result.stderr.contains("1:26: a sequence needs a window after its last step"))
            _ = try await run(["segment", "create", "abandoned", "add_to_cart not followed by purchase within 2h"])
            _ = try await run([
                "segment", "create", "funnel",
                #"view where page = "/pricing" then add_to_cart then purchase within 1d"#,
            ])
            result = try await run(["segment", "list"])
            #expect(!result.stdout.contains("bad"))
            #expect(try await run(["members", "funnel"]).stdout.isEmpty)

            _ = try await run(["clock", "set", "2026-11-01T01:59:59.999Z"])
            #expect(try await run(["members", "abandoned"]).stdout.isEmpty)
            #expect(try await run(["members", "funnel"]).stdout == "u3\n")

            // Exactly at cart + 2h, scheduled: u1 enters; u2 bought.
            _ = try await run(["clock", "set", "2026-11-01T02:00:00Z"])
            #expect(try await run(["members", "abandoned"]).stdout == "u1\n")
            result = try await run(["check", "u1", "abandoned", "--json"])
            #expect(result.stdout.contains(#""member":true"#))
            #expect(result.stdout.contains("2026-11-01T02:00:00"))

            // A purchase takes u1 out; a new cart restarts the wait.
            _ = try await run(["clock", "set", "2026-11-01T03:00:00Z"])
            _ = try await run(["track", "u1", "purchase"])
            #expect(try await run(["members", "abandoned"]).stdout.isEmpty)
            _ = try await run(["track", "u1", "add_to_cart"])
            _ = try await run(["clock", "set", "2026-11-01T04:59:59.999Z"])
            #expect(try await run(["members", "abandoned"]).stdout.isEmpty)
            _ = try await run(["clock", "set", "2026-11-01T05:00:00Z"])
            #expect(try await run(["members", "abandoned"]).stdout == "u1\n")

            result = try await run(["history", "u1", "--json"])
            let lines = result.stdout.split(separator: "\n").filter { $0.contains("abandoned") }
            #expect(lines.count == 3, "\(result.stdout)")
            #expect(lines.first?.contains("2026-11-01T02:00:00") == true)
            #expect(lines.last?.contains("2026-11-01T05:00:00") == true)
        }
    }
}
