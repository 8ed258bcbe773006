import Foundation
import SegmentsClient
import SegmentsTesting
import Testing

/// `segclient status` and `segclient top` over real daemons: the store and every evaluator shard, lag in entries
/// and in time, and the exit status as a health check.
@Suite struct StatusCLITests {
    /// Parses `segclient status --json`.
    private func statusJSON(_ stdout: String) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(stdout.utf8))
        return try #require(object as? [String: Any])
    }

    private func shards(_ status: [String: Any]) throws -> [[String: Any]] {
        try #require(status["evaluators"] as? [[String: Any]])
    }

    @Test func statusShowsTheStoreAndTheShardCaughtUp() async throws {
        try await DaemonPair.with { pair in
            try await pair.segclientOK(["profile", "set", "u1", #"{"plan":"pro"}"#])
            try await pair.segclientOK(["track", "u1", "page_view"])
            try await pair.segclientOK(["segment", "create", "recent", "count(page_view within 1h) >= 1"])
            // A read through the evaluator waits until it has applied every acknowledged write.
            #expect(try await pair.segclientOK(["check", "u1", "recent"]) == "true\n")

            let text = try await pair.segclientOK(["status"])
            #expect(text.contains("evaluator shard 0/1 \(pair.evaluatorSocket)"))
            #expect(text.contains("applied: 3, lag: 0 entries, 0ms"))
            #expect(text.contains("users: 1, segments: 1"))
            #expect(text.contains("scheduled wake-ups: 1, next due: 2026-11-01T01:00:00"))

            let status = try self.statusJSON(try await pair.segclientOK(["status", "--json", "--max-lag", "0"]))
            #expect(status["healthy"] as? Bool == true)
            #expect(status["store_reachable"] as? Bool == true)
            #expect(status["head_seq"] as? Int == 3)
            let shard = try #require(try self.shards(status).first)
            #expect(shard["reachable"] as? Bool == true)
            #expect(shard["applied_seq"] as? Int == 3)
            #expect(shard["lag_entries"] as? Int == 0)
            #expect(shard["lag_ms"] as? Int == 0)
            #expect(shard["users"] as? Int == 1)
            #expect(shard["scheduled_wakeups"] as? Int == 1)
            #expect((shard["next_due"] as? String)?.hasPrefix("2026-11-01T01:00:00") == true)
            #expect(shard["transitions_recorded"] as? Int == 1)
            #expect(shard["events_applied"] as? Int == 1)
            #expect((shard["resident_bytes"] as? Int ?? 0) > 1_000_000)
            #expect((shard["uptime_ms"] as? Int ?? 0) > 0)
            #expect(shard["webhook_backlog"] as? Int == 0)
        }
    }

    /// A second evaluator that sees the store's published head but cannot reach the store: it lags by every entry,
    /// and for longer and longer; `--max-lag` in entries and in time turns that into exit status 1. Stopped, it is
    /// reported unreachable.
    @Test func aLaggingOrUnreachableShardFailsTheHealthCheck() async throws {
        try await DaemonPair.with { pair in
            for index in 0..<5 {
                try await pair.segclientOK(["track", "u\(index)", "page_view"])
            }
            let cut = pair.directory + "/cut"
            try FileManager.default.createDirectory(atPath: cut, withIntermediateDirectories: true)
            // The head file beside a store socket that does not exist.
            try FileManager.default.createSymbolicLink(
                atPath: cut + "/store.sock.head",
                withDestinationPath: pair.storeSocket + ".head"
            )
            let lagging = try await DaemonProcess.start(
                BuiltProducts.path(of: "segment-evaluator"),
                arguments: [
                    "--store", cut + "/store.sock", "--socket", cut + "/eval.sock", "--data-dir", cut + "/evaluator",
                ],
                socketPath: cut + "/eval.sock",
                logPath: cut + "/evaluator.log"
            )
            defer { lagging.kill() }
            try await Task.sleep(for: .milliseconds(600))
            let both = ["--evaluator", pair.evaluatorSocket, "--evaluator", cut + "/eval.sock"]

            var result = try await pair.segclient(["status", "--json"] + both)
            #expect(result.status == 0, "\(result.stderr)")
            let shards = try self.shards(try self.statusJSON(result.stdout))
            #expect(shards.count == 2)
            #expect(shards.first?["lag_entries"] as? Int == 0)
            #expect(shards.last?["applied_seq"] as? Int == 0)
            #expect(shards.last?["lag_entries"] as? Int == 5)
            #expect((shards.last?["lag_ms"] as? Int ?? 0) >= 400)

            result = try await pair.segclient(["status", "--max-lag", "4"] + both)
            #expect(result.status == 1)
            #expect(result.stderr.contains("evaluator shard 0 lags 5 entries (limit 4)"))
            result = try await pair.segclient(["status", "--max-lag", "5"] + both)
            #expect(result.status == 0, "\(result.stderr)")
            result = try await pair.segclient(["status", "--max-lag", "200ms"] + both)
            #expect(result.status == 1)
            #expect(result.stderr.contains("(limit 200ms)"))
            result = try await pair.segclient(["status", "--max-lag", "soon"] + both)
            #expect(result.status != 0)
            #expect(result.stderr.contains("--max-lag 'soon' must be a number of entries or a duration"))

            lagging.terminate()
            result = try await pair.segclient(["status", "--json"] + both)
            #expect(result.status == 1)
            let after = try self.statusJSON(result.stdout)
            #expect(after["healthy"] as? Bool == false)
            #expect(try self.shards(after).last?["reachable"] as? Bool == false)
            #expect(result.stderr.contains("evaluator shard 1 at \(cut)/eval.sock is unreachable"))
        }
    }

    /// A shard that accepts the connection but never answers (paused) is reported unreachable after `--timeout`,
    /// not waited for.
    @Test func aShardThatDoesNotAnswerIsUnreachableAfterTheTimeout() async throws {
        try await DaemonPair.with { pair in
            pair.pauseEvaluator(true)
            defer { pair.pauseEvaluator(false) }
            let started = ContinuousClock.now
            let result = try await pair.segclient(["status", "--timeout", "300ms"])
            #expect(ContinuousClock.now - started < .seconds(10))
            #expect(result.status == 1)
            #expect(result.stdout.contains("change log head: 0"))
            #expect(result.stderr.contains("evaluator shard 0 at \(pair.evaluatorSocket) is unreachable"))
            let refused = try await pair.segclient(["status", "--timeout", "never"])
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("--timeout 'never' must be a duration"))
        }
    }

    /// `--max-watchers`: a watch beyond the limit is refused with the reason while the others go on.
    @Test func watchesBeyondTheEvaluatorsLimitAreRefused() async throws {
        try await DaemonPair.with(options: .init(evaluatorArguments: ["--max-watchers", "1"])) { pair in
            try await pair.segclientOK(["segment", "create", "seen", "count(page_view within 1h) >= 1"])
            var first = try await pair.client.watch(segments: ["seen"]).makeAsyncIterator()
            try await pair.segclientOK(["track", "u1", "page_view"])
            #expect(try await first.next()?.first?.userID == "u1")
            let refused = try await pair.segclient(["watch", "seen"])
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("serves 1 watches, its limit (--max-watchers)"), "\(refused.stderr)")
            try await pair.segclientOK(["track", "u2", "page_view"])
            #expect(try await first.next()?.first?.userID == "u2")
        }
    }

    /// `--watch-stall-timeout`: a watch whose consumer takes nothing while batches wait is closed with the reason and
    /// where to resume; a watch that reads goes on, and resuming where the message says gives the rest exactly.
    @Test func aWatchThatTakesNothingIsClosedWithWhereToResume() async throws {
        try await DaemonPair.with(options: .init(evaluatorArguments: ["--watch-stall-timeout", "1"])) { pair in
            try await pair.segclientOK(["segment", "create", "seen", "count(page_view within 1h) >= 1"])
            let stalled = try await pair.client.watch(segments: ["seen"])
            let reading = try await pair.client.watch(segments: ["seen"])
            let collected = Task {
                var users: [String] = []
                for try await batch in reading {
                    users += batch.map(\.userID)
                    if users.count == 30 { break }
                }
                return users
            }
            // One batch per write: more than the stalled stream's window (16 frames).
            for index in 0..<30 {
                try await pair.segclientOK(["track", "u\(index)", "page_view"])
                try await Task.sleep(for: .milliseconds(40))
            }
            #expect(try await collected.value == (0..<30).map { "u\($0)" })
            try await Task.sleep(for: .seconds(2))
            var received: [String] = []
            var failure: SegmentsClientError?
            do {
                for try await batch in stalled { received += batch.map(\.userID) }
            } catch {
                failure = error as? SegmentsClientError
            }
            #expect(failure?.code == .resourceExhausted, "\(String(describing: failure))")
            let message = failure?.message ?? ""
            #expect(message.contains("this watch took nothing for 1.0 seconds while transitions waited"), "\(message)")
            #expect((1..<30).contains(received.count))
            #expect(received == (0..<received.count).map { "u\($0)" })
            // Resuming from the position the message names gives exactly the rest.
            let resume = UInt64(message.split(separator: " ").last.flatMap { UInt64($0) } ?? 0)
            var rest: [String] = []
            for try await batch in try await pair.client.watch(segments: ["seen"], fromSeq: resume) {
                rest += batch.map(\.userID)
                if received.count + rest.count >= 30 { break }
            }
            #expect(received + rest == (0..<30).map { "u\($0)" })
        }
    }

    /// `members --limit N`: the first N members in the sorted order; each shard sends only that many.
    @Test func membersWithALimitAreTheFirstOnes() async throws {
        try await DaemonPair.with { pair in
            for user in ["u5", "u3", "u1", "u4", "u2"] {
                try await pair.segclientOK(["profile", "set", user, #"{"plan":"pro"}"#])
            }
            try await pair.segclientOK(["segment", "create", "pro", #"plan = "pro""#])
            #expect(try await pair.segclientOK(["members", "pro", "--limit", "2"]) == "u1\nu2\n")
            #expect(try await pair.segclientOK(["members", "pro", "--limit", "9"]) == "u1\nu2\nu3\nu4\nu5\n")
            #expect(try await pair.client.members("pro", limit: 3) == ["u1", "u2", "u3"])
            let refused = try await pair.segclient(["members", "pro", "--limit", "0"])
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("--limit must be at least 1"))
        }
    }

    @Test func topPrintsOneLinePerShardWithRates() async throws {
        try await DaemonPair.with { pair in
            try await pair.segclientOK(["track", "u1", "page_view"])
            let output = try await pair.segclientOK(["top", "--count", "2", "--interval", "200ms"])
            let lines = output.split(separator: "\n")
            #expect(lines.count == 4, "\(output)")
            #expect(lines.filter { $0.contains("store head 1") }.count == 2)
            let shardLines = lines.filter { $0.hasPrefix("shard 0/1  applied 1  lag 0 (0ms)") }
            #expect(shardLines.count == 2, "\(output)")
            // No rate before the second refresh; a rate of 0 after it (nothing was written in between).
            #expect(shardLines.first?.contains("entries/s -") == true)
            #expect(shardLines.last?.contains("entries/s 0") == true)
            let refused = try await pair.segclient(["top", "--interval", "10ms"])
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("at least 100ms"))
        }
    }
}
