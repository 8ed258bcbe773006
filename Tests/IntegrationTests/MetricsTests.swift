import Foundation
import SegmentsTesting
import Synchronization
import Testing

/// Prometheus metrics served by the real daemons with `--metrics`: names, labels and values that move as writes,
/// reads and transitions happen, and clear refusals of bad addresses and paths.
@Suite struct MetricsTests {
    private static func get(_ url: String, method: String = "GET") async throws -> (status: Int, body: String) {
        let answer = try await HTTPFetch.send(url, method: method)
        return (answer.status, answer.body)
    }

    /// The value of the sample `series` (name with its labels as exposed, e.g. `a_total{kind="x"}`), if present.
    private static func value(_ series: String, in exposition: String) -> Double? {
        for line in exposition.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    @Test func bothDaemonsServeMetricsThatMoveWithTheWork() async throws {
        let (storePort, evaluatorPort) = (try LoopbackPort.free(), try LoopbackPort.free())
        let options = DaemonPair.Options(
            evaluatorArguments: ["--metrics", "127.0.0.1:\(evaluatorPort)"],
            storeArguments: ["--metrics", "127.0.0.1:\(storePort)"]
        )
        try await DaemonPair.with(options: options) { pair in
            let storeURL = "http://127.0.0.1:\(storePort)/metrics"
            let evaluatorURL = "http://127.0.0.1:\(evaluatorPort)/metrics"
            var scrape = try await Self.get(storeURL)
            #expect(scrape.status == 200)
            #expect(scrape.body.contains("# TYPE segments_store_log_head_seq gauge"))
            #expect(Self.value("segments_store_log_head_seq", in: scrape.body) == 0)
            #expect((Self.value("process_resident_memory_bytes", in: scrape.body) ?? 0) > 1_000_000)

            try await pair.segclientOK(["profile", "set", "u1", #"{"plan":"pro"}"#])
            try await pair.segclientOK(["track", "u1", "page_view"])
            try await pair.segclientOK(["track", "u2", "page_view"])
            try await pair.segclientOK(["segment", "create", "recent", "count(page_view within 1h) >= 1"])
            #expect(try await pair.segclientOK(["check", "u1", "recent"]) == "true\n")
            let unknown = try await pair.segclient(["check", "u1", "nope"])
            #expect(unknown.status == 3)

            scrape = try await Self.get(storeURL)
            #expect(Self.value("segments_store_log_head_seq", in: scrape.body) == 4)
            // Four writes of the test, and the evaluator's acknowledgements of its durable position.
            #expect((Self.value(#"segments_store_writes_total{outcome="committed"}"#, in: scrape.body) ?? 0) >= 4)
            #expect(Self.value("segments_store_log_entries_total", in: scrape.body) == 4)
            #expect((Self.value("segments_store_sqlite_commit_seconds_count", in: scrape.body) ?? 0) >= 1)
            #expect(Self.value("segments_store_users", in: scrape.body) == 2)
            #expect(Self.value("segments_store_events", in: scrape.body) == 2)
            #expect(
                Self.value(
                    #"segments_rpc_duration_seconds_count{method="segments.v1.ProfileStore/TrackEvents"}"#,
                    in: scrape.body
                ) == 2
            )
            #expect(
                Self.value(#"segments_rpc_streams_total{method="segments.v1.ProfileStore/Subscribe"}"#, in: scrape.body)
                    ?? 0 >= 1
            )
            #expect(scrape.body.contains(#"segments_store_feed_subscriber_durable_seq{subscriber="segment-evaluator"#))

            scrape = try await Self.get(evaluatorURL)
            #expect(scrape.status == 200)
            #expect(Self.value("segments_evaluator_applied_seq", in: scrape.body) == 4)
            #expect(Self.value("segments_evaluator_store_head_seq", in: scrape.body) == 4)
            #expect(Self.value("segments_evaluator_lag_entries", in: scrape.body) == 0)
            #expect(Self.value("segments_evaluator_lag_seconds", in: scrape.body) == 0)
            #expect(Self.value("segments_evaluator_users", in: scrape.body) == 2)
            #expect(Self.value("segments_evaluator_segments", in: scrape.body) == 1)
            #expect(Self.value("segments_evaluator_scheduled_wakeups", in: scrape.body) == 2)
            #expect(Self.value("segments_evaluator_events_applied_total", in: scrape.body) == 2)
            #expect(
                Self.value(#"segments_evaluator_transitions_total{segment="recent",kind="enter"}"#, in: scrape.body)
                    == 2
            )
            #expect(
                Self.value(
                    #"segments_rpc_duration_seconds_count{method="segments.v1.Evaluator/Check"}"#,
                    in: scrape.body
                ) == 1
            )
            #expect(
                Self.value(
                    #"segments_rpc_failures_total{method="segments.v1.Evaluator/Check",code="NOT_FOUND"}"#,
                    in: scrape.body
                ) == 1
            )

            // Time alone: the hour passes, both users leave, and the wake-ups are counted.
            try await pair.segclientOK(["clock", "advance", "2h"])
            #expect(try await pair.segclientOK(["check", "u1", "recent"]) == "false\n")
            scrape = try await Self.get(evaluatorURL)
            #expect(
                Self.value(#"segments_evaluator_transitions_total{segment="recent",kind="exit"}"#, in: scrape.body)
                    == 2
            )
            #expect((Self.value("segments_evaluator_due_wakeups_total", in: scrape.body) ?? 0) >= 2)
            #expect(Self.value("segments_evaluator_scheduled_wakeups", in: scrape.body) == 0)

            let missing = try await Self.get("http://127.0.0.1:\(evaluatorPort)/other")
            #expect(missing.status == 404)
            let posted = try await Self.get(storeURL, method: "POST")
            #expect(posted.status == 405)
        }
    }

    /// Webhook figures: failed attempts counted, the backlog while the endpoint fails, deliveries once it answers.
    @Test func webhookDeliveriesFailuresAndBacklogAreServed() async throws {
        // The endpoint fails until the test has seen the failing figures (a fixed number of failures would leave a
        // window a loaded machine can miss), then answers.
        let endpoint = FailingEndpoint()
        let reply: @Sendable (Int, WebhookReceiver.Request) -> WebhookReceiver.Reply = { _, _ in
            endpoint.state.withLock { state in
                if state.answering { return .status(200) }
                state.failed += 1
                return .status(500)
            }
        }
        try await WebhookReceiver.with(reply: reply) { receiver in
            let port = try LoopbackPort.free()
            let options = DaemonPair.Options(
                evaluatorArguments: [
                    "--metrics", "127.0.0.1:\(port)", "--webhook-retry-base-ms", "300", "--webhook-retry-cap-ms", "300",
                ]
            )
            try await DaemonPair.with(options: options) { pair in
                try await pair.segclientOK(["segment", "create", "pro", #"plan = "pro""#])
                let id = try await pair.segclientOK(["webhook", "add", receiver.url(), "--secret", "k"])
                    .trimmingCharacters(in: .whitespacesAndNewlines)
                for user in ["u1", "u2", "u3"] {
                    try await pair.segclientOK(["profile", "set", user, #"{"plan":"pro"}"#])
                }
                let url = "http://127.0.0.1:\(port)/metrics"
                let failures = #"segments_evaluator_webhook_failures_total{webhook="\#(id)"}"#
                let backlog = #"segments_evaluator_webhook_backlog{webhook="\#(id)"}"#
                let delivered = #"segments_evaluator_webhook_delivered_total{webhook="\#(id)"}"#
                // While the endpoint fails: attempts counted, transitions waiting.
                var failing = false
                for _ in 0..<100 where !failing {
                    let body = try await Self.get(url).body
                    failing = Self.value(failures, in: body) ?? 0 >= 1 && Self.value(backlog, in: body) ?? 0 >= 1
                    if !failing { try await Task.sleep(for: .milliseconds(50)) }
                }
                #expect(failing)
                let failed = endpoint.state.withLock { state in
                    state.answering = true
                    return state.failed
                }
                // Then it answers: everything delivered, nothing waiting, every failure counted.
                var body = ""
                for _ in 0..<200 {
                    body = try await Self.get(url).body
                    if Self.value(delivered, in: body) == 3 { break }
                    try await Task.sleep(for: .milliseconds(50))
                }
                #expect(Self.value(delivered, in: body) == 3)
                #expect(Self.value(backlog, in: body) == 0)
                #expect(Self.value(failures, in: body) == Double(failed))
            }
        }
    }

    @Test func aBadMetricsAddressIsRefusedAtStart() async throws {
        try await TemporaryDirectory.with { directory in
            for (text, reason) in [
                ("9464", "expected HOST:PORT"), ("127.0.0.1:0x", "the port must be a number from 1 to 65535"),
                ("::1:9464", "an IPv6 address must be written [ADDRESS]:PORT"),
            ] {
                let result = try await CommandResult.run(
                    BuiltProducts.path(of: "profile-store"),
                    ["--socket", directory + "/store.sock", "--data-dir", directory + "/data", "--metrics", text],
                    environment: [:]
                )
                #expect(result.status != 0)
                #expect(result.stderr.contains("metrics address '\(text)': \(reason)"), "\(result.stderr)")
            }
        }
    }
}

/// A webhook endpoint's switch: it fails (counting) until the test turns it to answering.
private final class FailingEndpoint: Sendable {
    let state = Mutex((answering: false, failed: 0))
}
