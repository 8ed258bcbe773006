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

/// Computed traits through real processes and `segclient`: defined, read by a segment, crossing its threshold by
/// time alone, updated (the segment follows), read per user, and the refusals.
@Suite struct TraitSegmentTests {
    @Test func traitsDriveSegmentsAndAreReadPerUser() async throws {
        try await ListCLITests.withDaemonProcesses { _, segclient in
            func run(_ arguments: [String]) async throws -> CommandResult {
                let result = try await segclient(arguments, nil)
                #expect(result.status == 0, "\(arguments): \(result.stderr)")
                return result
            }
            // Data first: u1 views a lot, u2 bought once, u3 has nothing.
            for minute in 0..<6 {
                _ = try await run(["track", "u1", "page_view", "--at", "2026-10-30T00:0\(minute):00Z"])
            }
            _ = try await run([
                "track", "u2", "purchase", "--at", "2026-10-31T00:00:00Z", "--props", #"{"amount":120}"#,
            ])
            _ = try await run(["profile", "set", "u3", #"{"plan":"free"}"#])

            _ = try await run(["trait", "create", "ltv", "sum(purchase.amount)"])
            _ = try await run([
                "trait", "create", "engagement", #"2 * count(page_view within 7d) + trait("ltv") / 10"#,
            ])
            _ = try await run(["segment", "create", "engaged", #"trait("engagement") >= 12"#])
            #expect(try await run(["segment", "show", "engaged"]).stdout.contains(#"trait("engagement") >= 12"#))
            #expect(try await run(["members", "engaged"]).stdout == "u1\nu2\n")

            var result = try await run(["traits", "u1"])
            #expect(result.stdout == "engagement = 12\nltv = 0\n")
            result = try await run(["traits", "u3", "--json"])
            #expect(result.stdout.contains(#""traits":{"engagement":0,"ltv":0}"#))

            // Time alone: u1's views leave the 7-day window on 2026-11-06 (the first at 00:00).
            _ = try await run(["clock", "set", "2026-11-06T00:00:00Z"])
            #expect(try await run(["members", "engaged"]).stdout == "u2\n")
            #expect(try await run(["traits", "u1"]).stdout == "engagement = 10\nltv = 0\n")

            // Updating a trait re-evaluates the segments reading it (through another trait too).
            _ = try await run(["trait", "update", "ltv", "sum(purchase.amount) / 100"])
            #expect(try await run(["members", "engaged"]).stdout.isEmpty)
            #expect(try await run(["traits", "u2"]).stdout == "engagement = 0.12\nltv = 1.2\n")
            result = try await run(["history", "u2", "--json"])
            #expect(result.stdout.contains(#""exit""#))

            // Refusals: a cycle, an unknown trait, a name taken by a segment, deleting a trait in use.
            result = try await segclient(["trait", "update", "ltv", #"trait("engagement") + 1"#], nil)
            #expect(result.status == 2)
            #expect(result.stderr.contains("makes a cycle: ltv -> engagement -> ltv"))
            result = try await segclient(["segment", "create", "x", #"trait("nope") > 1"#], nil)
            #expect(result.status == 2)
            #expect(result.stderr.contains(#"1:1: trait("nope") names no saved trait"#))
            result = try await segclient(["trait", "create", "engaged", "1"], nil)
            #expect(result.status != 0)
            #expect(result.stderr.contains("already the name of a segment"))
            result = try await segclient(["trait", "delete", "ltv"], nil)
            #expect(result.status != 0)
            #expect(result.stderr.contains("trait 'ltv' is used by 'engagement'"))
            result = try await segclient(["trait", "create", "bad", "count(a) > 1"], nil)
            #expect(result.stderr.contains("a trait is a value, not a condition"))
            result = try await segclient(["list", "create", "ltv"], nil)
            #expect(result.stderr.contains("'ltv' is already the name of a trait"))
            result = try await segclient(["trait", "create", "no spaces", "1"], nil)
            #expect(result.stderr.contains("invalid trait name 'no spaces'"))
            result = try await segclient(["traits", "ghost"], nil)
            #expect(result.status == 3)
            #expect(
                try await run(["trait", "list"]).stdout
                    == "engagement\t2 * count(page_view within 7d) + trait(\"ltv\") / 10\nltv\tsum(purchase.amount) / 100\n"
            )
        }
    }
}
