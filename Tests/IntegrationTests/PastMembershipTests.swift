import Foundation
import SegmentsTesting
import Testing

/// Membership at past instants and size over time, from the transition log, through the real daemons and
/// `segclient` with the manual clock: `members`, `check`, `segments-of` and `members --count` with `--at` answer
/// what the live reads answered at that time, time-driven exits count at their due instant, `size` prints and plots
/// the known history, and an instant before the log's start is refused with the reason.
@Suite(.serialized) struct PastMembershipTests {
    @Test func readsOfThePastMatchWhatWasAnsweredThen() async throws {
        try await DaemonPair.with { pair in
            func ok(_ arguments: [String]) async throws -> String { try await pair.segclientOK(arguments) }
            var answered: [(at: String, pro: String, recent: String)] = []
            func snapshot(_ at: String) async throws {
                answered.append((at, try await ok(["members", "pro"]), try await ok(["members", "recent"])))
            }
            _ = try await ok(["segment", "create", "pro", #"plan = "pro""#])
            _ = try await ok(["segment", "create", "recent", "count(purchase within 1d) >= 1"])
            _ = try await ok(["profile", "set", "u1", #"{"plan":"pro"}"#])  // 00:00: u1 enters pro
            _ = try await ok(["profile", "set", "u2", #"{"plan":"free"}"#])
            try await snapshot("2026-11-01T00:30:00Z")
            _ = try await ok(["clock", "advance", "1h"])
            _ = try await ok(["track", "u2", "purchase"])  // 01:00: u2 enters recent
            _ = try await ok(["profile", "set", "u3", #"{"plan":"pro"}"#])  // 01:00: u3 enters pro
            try await snapshot("2026-11-01T01:30:00Z")
            _ = try await ok(["clock", "advance", "1h"])
            _ = try await ok(["profile", "set", "u1", #"{"plan":"free"}"#])  // 02:00: u1 leaves pro
            _ = try await ok(["profile", "set", "u2", #"{"plan":"pro"}"#])  // 02:00: u2 enters pro
            try await snapshot("2026-11-01T02:30:00Z")
            _ = try await ok(["clock", "advance", "1d"])  // u2 leaves recent at its due instant, 11-02 01:00
            try await snapshot("2026-11-02T02:30:00Z")

            for (at, pro, recent) in answered {
                #expect(try await ok(["members", "pro", "--at", at]) == pro, "pro at \(at)")
                #expect(try await ok(["members", "recent", "--at", at]) == recent, "recent at \(at)")
            }
            // Either side of the time-driven exit: the exit counts from its due instant, not from when it was noticed.
            #expect(try await ok(["members", "recent", "--at", "2026-11-02T00:59:59.999Z"]) == "u2\n")
            #expect(try await ok(["members", "recent", "--at", "2026-11-02T01:00:00Z"]) == "")
            #expect(try await ok(["check", "u1", "pro", "--at", "2026-11-01T01:59:59Z"]) == "true\n")
            #expect(try await ok(["check", "u1", "pro", "--at", "2026-11-01T02:00:00Z"]) == "false\n")
            #expect(try await ok(["segments-of", "u2", "--at", "2026-11-01T02:30:00Z"]) == "pro\nrecent\n")
            #expect(try await ok(["segments-of", "u2", "--at", "2026-11-03T00:00:00Z"]) == "pro\n")
            #expect(try await ok(["members", "pro", "--count", "--at", "2026-11-01T01:30:00Z"]) == "2\n")

            // Size over time: printed, as NDJSON, and drawn.
            let table = try await ok([
                "size", "pro", "recent", "--from", "2026-11-01T00:00:00Z", "--to", "2026-11-02T03:00:00Z",
                "--every", "3h",
            ])
            let rows = table.split(separator: "\n").map { $0.split(separator: "\t").map(String.init) }
            #expect(rows.first == ["time", "pro", "recent"])
            #expect(rows.dropFirst().first == ["2026-11-01T00:00:00Z", "1", "0"])
            #expect(rows.dropFirst(2).first == ["2026-11-01T03:00:00Z", "2", "1"])
            #expect(rows.last == ["2026-11-02T03:00:00Z", "2", "0"])
            #expect(rows.count == 1 + 10)
            let json = try await ok([
                "size", "pro", "--from", "2026-11-01T01:00:00Z", "--to", "2026-11-01T02:00:00Z", "--every", "1h",
                "--json",
            ])
            #expect(
                json == #"{"segment":"pro","at":"2026-11-01T01:00:00Z","size":2}"# + "\n"
                    + #"{"segment":"pro","at":"2026-11-01T02:00:00Z","size":2}"# + "\n"
            )
            // The default: the last 24 hours up to the store's clock, not before the log's start.
            let recentDefault = try await ok(["size", "recent"])
            #expect(recentDefault.split(separator: "\n").count == 1 + 25)
            let plot = pair.directory + "/sizes.svg"
            _ = try await ok([
                "size", "pro", "recent", "--from", "2026-11-01T00:00:00Z", "--to", "2026-11-02T03:00:00Z",
                "--every", "1h", "--plot", plot,
            ])
            let svg = try String(contentsOfFile: plot, encoding: .utf8)
            #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
            #expect(svg.contains("Members of pro, recent"))
            #expect(svg.components(separatedBy: "<polyline").count == 3)
            #expect(svg.contains(">11-01 12:00<") && svg.contains(">11-02 00:00<"), "date labels")
            #expect(svg.contains(">pro (2 at the end)<"))

            // Before the log's start, and nonsense, are refused with the reason.
            var refused = try await pair.segclient(["members", "pro", "--at", "2026-10-01T00:00:00Z"])
            #expect(refused.status == 2)
            #expect(
                refused.stderr.contains(
                    "records memberships from 2026-11-01T00:00:00Z (the store's first change); "
                        + "2026-10-01T00:00:00Z is before that"
                ),
                "\(refused.stderr)"
            )
            refused = try await pair.segclient(["size", "pro", "--from", "2026-10-31T00:00:00Z"])
            #expect(refused.status == 2, "\(refused.stderr)")
            refused = try await pair.segclient(["check", "u1", "pro", "--at", "yesterday"])
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("--at 'yesterday' is not an RFC 3339 date-time"))
            refused = try await pair.segclient(["members", "nope", "--at", "2026-11-01T01:00:00Z"])
            #expect(refused.status == 3)
            refused = try await pair.segclient([
                "size", "pro", "--from", "2026-11-01T00:00:00Z", "--to", "2026-11-03T00:00:00Z", "--every", "1s",
            ])
            #expect(refused.stderr.contains("at most 10000: use a longer step"), "\(refused.stderr)")

            // After a restart the past reads the same.
            try await pair.restartEvaluator(crash: true)
            #expect(try await ok(["members", "pro", "--at", "2026-11-01T01:30:00Z"]) == "u1\nu3\n")
        }
    }
}
