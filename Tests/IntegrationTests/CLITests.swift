import Foundation
import SegmentsClient
import SegmentsTesting
import Testing

/// `segclient` end to end against a real `profile-store` process.
@Suite struct CLITests {
    /// Runs `body` with a started store and a function that runs segclient against it.
    private func withStoreProcess(
        _ body: (_ directory: String, _ segclient: ([String], String?) async throws -> CommandResult) async throws ->
            Void
    ) async throws {
        try await TemporaryDirectory.with { directory in
            let socket = directory + "/store.sock"
            let daemon = try await DaemonProcess.start(
                BuiltProducts.path(of: "profile-store"),
                arguments: [
                    "--socket", socket, "--data-dir", directory + "/data", "--durability", "normal",
                    "--manual-clock", "2026-11-01T00:00:00Z",
                ],
                socketPath: socket,
                logPath: directory + "/store.log"
            )
            defer { daemon.terminate() }
            try await body(directory) { arguments, input in
                try await CommandResult.run(
                    BuiltProducts.path(of: "segclient"),
                    arguments,
                    environment: ["SEGMENTS_STORE_SOCKET": socket],
                    input: input
                )
            }
        }
    }

    /// `--max-connections`: a client beyond the limit is told why, through the real store and segclient.
    @Test func connectionsBeyondTheStoresLimitAreRefusedWithTheReason() async throws {
        try await TemporaryDirectory.with { directory in
            let socket = directory + "/store.sock"
            let daemon = try await DaemonProcess.start(
                BuiltProducts.path(of: "profile-store"),
                arguments: ["--socket", socket, "--data-dir", directory + "/data", "--max-connections", "1"],
                socketPath: socket,
                logPath: directory + "/store.log"
            )
            defer { daemon.terminate() }
            // The start-up probe's own connection may still count for a moment: take the one slot once it is free.
            var holder = SegmentsClient(
                configuration: SegmentsClientConfiguration(storeSocketPath: socket, evaluatorSocketPaths: [])
            )
            for _ in 0..<100 {
                do {
                    _ = try await holder.storeInfo()
                    break
                } catch let error as SegmentsClientError where error.code == .resourceExhausted {
                    await holder.close()
                    try await Task.sleep(for: .milliseconds(20))
                    holder = SegmentsClient(
                        configuration: SegmentsClientConfiguration(storeSocketPath: socket, evaluatorSocketPaths: [])
                    )
                }
            }
            _ = try await holder.storeInfo()
            let refused = try await CommandResult.run(
                BuiltProducts.path(of: "segclient"),
                ["track", "u1", "page_view"],
                environment: ["SEGMENTS_STORE_SOCKET": socket]
            )
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("1 connections open, its limit (--max-connections)"), "\(refused.stderr)")
            #expect(daemon.log.contains("connection refused: too many connections"))
            await holder.close()
        }
    }

    /// `--max-segments` and `--max-lists`: one more is refused with the reason; changing what exists still works.
    @Test func segmentsAndListsBeyondTheStoresLimitsAreRefused() async throws {
        try await TemporaryDirectory.with { directory in
            let socket = directory + "/store.sock"
            let daemon = try await DaemonProcess.start(
                BuiltProducts.path(of: "profile-store"),
                arguments: [
                    "--socket", socket, "--data-dir", directory + "/data", "--max-segments", "2", "--max-lists", "1",
                ],
                socketPath: socket,
                logPath: directory + "/store.log"
            )
            defer { daemon.terminate() }
            func segclient(_ arguments: [String]) async throws -> CommandResult {
                try await CommandResult.run(
                    BuiltProducts.path(of: "segclient"),
                    arguments,
                    environment: ["SEGMENTS_STORE_SOCKET": socket]
                )
            }
            #expect(try await segclient(["segment", "create", "a", #"plan = "pro""#]).status == 0)
            #expect(try await segclient(["segment", "create", "b", #"plan = "pro""#]).status == 0)
            var refused = try await segclient(["segment", "create", "c", #"plan = "pro""#])
            #expect(refused.status != 0)
            #expect(
                refused.stderr.contains("the store holds 2 segments, its limit (--max-segments)"),
                "\(refused.stderr)"
            )
            #expect(try await segclient(["segment", "update", "b", #"plan = "free""#]).status == 0)
            #expect(try await segclient(["list", "create", "vip"]).status == 0)
            refused = try await segclient(["list", "create", "beta"])
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("the store holds 1 lists, its limit (--max-lists)"), "\(refused.stderr)")
            #expect(try await segclient(["segment", "list"]).stdout == "a\tplan = \"pro\"\nb\tplan = \"free\"\n")
        }
    }

    /// `--max-batch`: a write request of more items is refused whole, with the reason; smaller ones go through.
    @Test func writeRequestsBeyondTheBatchLimitAreRefusedWhole() async throws {
        try await TemporaryDirectory.with { directory in
            let socket = directory + "/store.sock"
            let daemon = try await DaemonProcess.start(
                BuiltProducts.path(of: "profile-store"),
                arguments: ["--socket", socket, "--data-dir", directory + "/data", "--max-batch", "3"],
                socketPath: socket,
                logPath: directory + "/store.log"
            )
            defer { daemon.terminate() }
            func segclient(_ arguments: [String], input: String? = nil) async throws -> CommandResult {
                try await CommandResult.run(
                    BuiltProducts.path(of: "segclient"),
                    arguments,
                    environment: ["SEGMENTS_STORE_SOCKET": socket],
                    input: input
                )
            }
            let profiles = (1...5).map { #"{"id":"u\#($0)","attributes":{"plan":"pro"}}"# }.joined(separator: "\n")
            var result = try await segclient(["import", "profiles", "-", "--batch", "5"], input: profiles + "\n")
            #expect(result.status != 0)
            #expect(
                result.stderr.contains(
                    "the request holds 5 profile patches; the limit is 3 per request (--max-batch)"
                ),
                "\(result.stderr)"
            )
            #expect(try await segclient(["profile", "get", "u1"]).status == 3)
            let events = (1...4).map { _ in #"{"user":"u1","event":"view","at":"2026-11-01T00:00:00Z"}"# }
            result = try await segclient(
                ["import", "events", "-", "--batch", "4"],
                input: events.joined(separator: "\n")
            )
            #expect(result.stderr.contains("the request holds 4 events; the limit is 3"), "\(result.stderr)")
            #expect(try await segclient(["list", "create", "vip"]).status == 0)
            result = try await segclient(["list", "add", "vip", "a", "b", "c", "d"])
            #expect(result.stderr.contains("the request holds 4 list member changes"), "\(result.stderr)")
            // Within the limit, the same data goes through.
            result = try await segclient(["import", "profiles", "-", "--batch", "3"], input: profiles + "\n")
            #expect(result.status == 0, "\(result.stderr)")
            #expect(try await segclient(["profile", "get", "u5"]).status == 0)
        }
    }

    @Test func profileEventsListsAUsersNewestEventsFirst() async throws {
        try await self.withStoreProcess { _, segclient in
            _ = try await segclient(["track", "u1", "page_view", "--at", "2026-10-30T10:00:00Z"], nil)
            _ = try await segclient(["track", "u2", "page_view"], nil)
            _ = try await segclient(["track", "u1", "purchase", "--props", #"{"amount":42.5}"#, "--id", "e-1"], nil)
            _ = try await segclient(["track", "u1", "purchase", "--id", "e-1"], nil)  // a duplicate: not stored
            var result = try await segclient(["profile", "events", "u1"], nil)
            #expect(result.status == 0)
            #expect(
                result.stdout
                    == "2026-11-01T00:00:00Z  purchase  amount=42.5\n2026-10-30T10:00:00Z  page_view\n"
            )
            result = try await segclient(["profile", "events", "u1", "--limit", "1", "--json"], nil)
            #expect(
                result.stdout
                    == #"{"user":"u1","event":"purchase","at":"2026-11-01T00:00:00Z","properties":{"amount":42.5},"id":"e-1"}"#
                    + "\n"
            )
            result = try await segclient(["profile", "events", "nobody"], nil)
            #expect(result.status == 3)
            #expect(result.stderr == "segclient: no user 'nobody'\n")
            result = try await segclient(["profile", "events", "u1", "--limit", "0"], nil)
            #expect(result.status != 0)
            #expect(result.stderr.contains("--limit must be from 1 to 1000"))
            _ = try await segclient(["profile", "delete", "u1"], nil)
            result = try await segclient(["profile", "events", "u1"], nil)
            #expect(result.status == 3)
        }
    }

    @Test func profileTrackSegmentAndClockCommands() async throws {
        try await self.withStoreProcess { _, segclient in
            var result = try await segclient(["profile", "set", "u1", #"{"plan":"pro","age":34,"tags":["a"]}"#], nil)
            #expect(result.status == 0)
            #expect(result.stdout == "u1: saved (seq 1)\n")
            result = try await segclient(["profile", "set", "u1", #"{"age":null}"#], nil)
            #expect(result.status == 0)
            result = try await segclient(["profile", "get", "u1"], nil)
            #expect(
                result.stdout
                    == "user u1\n  plan = \"pro\"\n  tags = [\"a\"]\ncreated at seq 1, last changed at seq 2\n"
            )
            result = try await segclient(["profile", "get", "u1", "--json"], nil)
            #expect(
                result.stdout
                    == #"{"id":"u1","attributes":{"plan":"pro","tags":["a"]},"created_seq":1,"updated_seq":2}"# + "\n"
            )

            result = try await segclient(
                ["track", "u1", "purchase", "--props", #"{"amount":42.5}"#, "--id", "e-1", "--json"],
                nil
            )
            #expect(result.stdout == #"{"seq":3,"duplicate":false}"# + "\n")
            result = try await segclient(["track", "u1", "purchase", "--id", "e-1"], nil)
            #expect(result.stdout.contains("duplicate id, ignored"))

            result = try await segclient(["segment", "create", "buyers", "count(purchase within 24h) >= 1"], nil)
            #expect(result.status == 0)
            result = try await segclient(["segment", "show", "buyers", "--json"], nil)
            #expect(result.stdout.contains(#""expression":"count(purchase within 24h) >= 1""#))
            result = try await segclient(["segment", "list"], nil)
            #expect(result.stdout == "buyers\tcount(purchase within 24h) >= 1\n")

            result = try await segclient(["clock", "advance", "1d12h"], nil)
            #expect(result.stdout == "2026-11-02T12:00:00Z\n")
            result = try await segclient(["status", "--json"], nil)
            #expect(result.stdout.contains(#""head_seq":5"#))
            #expect(result.stdout.contains(#""events":1"#))

            result = try await segclient(["profile", "delete", "u1"], nil)
            #expect(result.status == 0)
            result = try await segclient(["profile", "get", "u1"], nil)
            #expect(result.status == 3)
            #expect(result.stderr == "segclient: no user 'u1'\n")
        }
    }

    @Test func badInputGetsClearErrorsAndNonZeroExit() async throws {
        try await self.withStoreProcess { _, segclient in
            var result = try await segclient(["segment", "create", "bad", "count(purchase within 30 days) > 1"], nil)
            #expect(result.status == 2)
            #expect(result.stderr.contains("1:23: expected a duration after 'within'"))
            #expect(result.stderr.contains("                      ^"))
            result = try await segclient(["segment", "list"], nil)
            #expect(result.stdout.isEmpty)

            result = try await segclient(["profile", "set", "u1", "{not json"], nil)
            #expect(result.status != 0)
            #expect(result.stderr.contains("attributes: invalid JSON at column 2"))

            result = try await segclient(["track", "u1", "x", "--at", "yesterday"], nil)
            #expect(result.status != 0)
            #expect(result.stderr.contains("not an RFC 3339 date-time"))

            result = try await segclient(["clock", "set", "2020-01-01T00:00:00Z"], nil)
            #expect(result.status == 2)
            #expect(result.stderr.contains("the clock only moves forward"))

            result = try await segclient(["clock", "advance", "3 days"], nil)
            #expect(result.status != 0)

            // `status` is a health check: 1 for anything unreachable, with the reason.
            result = try await segclient(["status", "--store", "/nonexistent/store.sock"], nil)
            #expect(result.status == 1)
            #expect(result.stderr.contains("the store at /nonexistent/store.sock is unreachable: cannot connect"))
        }
    }

    @Test func importWithBadLinesKeepsTheGoodOnes() async throws {
        try await self.withStoreProcess { directory, segclient in
            let events =
                [
                    #"{"user":"u1","event":"purchase","at":"2026-11-01T10:00:00Z","properties":{"amount":42.5},"id":"e-17"}"#,
                    #"{"user":"u2","event":"view"}"#,
                    #"this is not json"#,
                    #"{"user":"u3","event":"view","at":"2026-11-01"}"#,
                    "",
                    #"{"user":"","event":"view"}"#,
                    #"{"user":"u1","event":"purchase","id":"e-17"}"#,
                    #"{"user":"u4","event":"view","at":"2026-10-01T00:00:00+02:00"}"#,
                ].joined(separator: "\n") + "\n"
            let file = directory + "/events.ndjson"
            try events.write(toFile: file, atomically: true, encoding: .utf8)
            var result = try await segclient(["import", "events", file, "--batch", "2"], nil)
            #expect(result.status == 1)
            let lines = result.stderr.split(separator: "\n").map(String.init)
            #expect(lines.contains("line 3: invalid JSON at column 1: unexpected text; expected 'true'"))
            #expect(lines.contains { $0.hasPrefix("line 4: \"at\" is not an RFC 3339 date-time") })
            #expect(lines.contains("line 6: user id is empty"))
            #expect(lines.last?.hasPrefix("imported 3 events from 8 lines") == true)
            #expect(lines.last?.contains("1 duplicates, 3 failed") == true)

            let profiles = (1...1000).map { #"{"id":"p\#($0)","attributes":{"n":\#($0)}}"# }
            result = try await segclient(["import", "profiles", "-", "--json"], profiles.joined(separator: "\n"))
            #expect(result.status == 0)
            #expect(result.stdout.contains(#""stored":1000"#))
            result = try await segclient(["profile", "get", "p1000", "--json"], nil)
            #expect(result.stdout.contains(#""n":1000"#))
            result = try await segclient(["status", "--json"], nil)
            #expect(result.stdout.contains(#""users":1003"#))
            #expect(result.stdout.contains(#""events":3"#))
        }
    }
}
