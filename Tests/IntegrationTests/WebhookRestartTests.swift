import Foundation
import SegmentsClient
import SegmentsTesting
import Synchronization
import Testing

/// Webhook delivery across a `kill -9` of the real `segment-evaluator`, driven through the real
/// `segclient`: the persisted delivery position makes the restarted evaluator resume the backlog.
@Suite(.serialized) struct WebhookRestartTests {
    @Test func killingTheEvaluatorMidBacklogLosesNothing() async throws {
        // The first 3 requests succeed; then the endpoint fails until `healthy` is set.
        let healthy = Atomic<Bool>(false)
        let answer: @Sendable (Int, WebhookReceiver.Request) -> WebhookReceiver.Reply = { index, _ in
            index < 3 || healthy.load(ordering: .relaxed) ? .status(200) : .status(500)
        }
        try await WebhookReceiver.with(reply: answer) { receiver in
            try await TemporaryDirectory.with { directory in
                let storeSocket = directory + "/store.sock"
                let evaluatorSocket = directory + "/evaluator.sock"
                let store = try await DaemonProcess.start(
                    BuiltProducts.path(of: "profile-store"),
                    arguments: [
                        "--socket", storeSocket, "--data-dir", directory + "/store", "--durability", "normal",
                        "--manual-clock", "2026-11-01T00:00:00Z",
                    ],
                    socketPath: storeSocket,
                    logPath: directory + "/store.log"
                )
                defer { store.terminate() }
                let evaluatorArguments = [
                    "--store", storeSocket, "--socket", evaluatorSocket, "--data-dir", directory + "/evaluator",
                    "--webhook-retry-base-ms", "20", "--webhook-retry-cap-ms", "100", "--webhook-batch", "2",
                ]
                var evaluator = try await DaemonProcess.start(
                    BuiltProducts.path(of: "segment-evaluator"),
                    arguments: evaluatorArguments,
                    socketPath: evaluatorSocket,
                    logPath: directory + "/evaluator-1.log"
                )
                let environment = ["SEGMENTS_STORE_SOCKET": storeSocket, "SEGMENTS_EVALUATOR_SOCKET": evaluatorSocket]
                func segclient(_ arguments: [String]) async throws -> CommandResult {
                    try await CommandResult.run(
                        BuiltProducts.path(of: "segclient"),
                        arguments,
                        environment: environment
                    )
                }
                let client = SegmentsClient(
                    configuration: .init(storeSocketPath: storeSocket, evaluatorSocketPaths: [evaluatorSocket])
                )

                try await client.putSegment("pro", expression: #"plan = "pro""#)
                var result = try await segclient([
                    "webhook", "add", receiver.url(), "--segments", "pro", "--secret", "s",
                ])
                #expect(result.status == 0, "\(result.stderr)")
                let id = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                #expect(id.hasPrefix("wh_") && id.count == 19, "\(id)")

                // 12 enters; the first 6 are acknowledged (3 requests of 2), then the endpoint fails.
                for index in 0..<12 { try await client.plan("u\(index)", "pro") }
                await receiver.waitForRequests(5)
                let backlogged = try await eventually {
                    guard let delivery = try await client.webhookStatuses().first?.deliveries.first else {
                        return false
                    }
                    return delivery.deliveredSeq > 0 && delivery.pending > 0 && delivery.lastError != nil
                }
                #expect(backlogged)
                // The endpoint fails from here on, so the saved position cannot move before the kill.
                let savedSeq = try #require(try await client.webhookStatuses().first?.deliveries.first).deliveredSeq
                let requestsBeforeKill = receiver.requests.count
                result = try await segclient(["webhook", "list", "--json"])
                #expect(result.status == 0)
                #expect(result.stdout.contains(#""last_error":"HTTP 500 Internal Server Error""#), "\(result.stdout)")

                evaluator.kill()
                // Written while no evaluator runs.
                for index in 0..<6 { try await client.plan("u\(index)", "free") }
                healthy.store(true, ordering: .relaxed)
                evaluator = try await DaemonProcess.start(
                    BuiltProducts.path(of: "segment-evaluator"),
                    arguments: evaluatorArguments,
                    socketPath: evaluatorSocket,
                    logPath: directory + "/evaluator-2.log"
                )
                defer { evaluator.terminate() }

                var expected: [String] = []
                _ = try await eventually {
                    expected = try await client.historyLines(of: "pro")
                    return expected.count >= 18
                }
                #expect(expected.count == 18)
                var firstDeliveries: [String] = []
                _ = try await eventually {
                    var seen: Set<UInt64> = []
                    firstDeliveries = try acknowledged(receiver.requests).filter { seen.insert($0.seq).inserted }.map(
                        \.line
                    )
                    return firstDeliveries.count >= expected.count
                }
                // Every transition acknowledged, and first acknowledged in log order.
                #expect(firstDeliveries == expected)
                // The restarted evaluator resumed after the persisted position: nothing acknowledged
                // before the kill was sent again.
                let resent = try receiver.requests.dropFirst(requestsBeforeKill).flatMap {
                    try WebhookBody($0).transitions
                }
                #expect(
                    resent.first.map { $0.seq > savedSeq } == true,
                    "resent from \(resent.first?.seq ?? 0), saved \(savedSeq)"
                )
                for request in receiver.requests {
                    #expect(signatureIsValid(request, secret: "s"))
                }

                try await client.waitUntilCaughtUp(id)
                result = try await segclient(["webhook", "list"])
                #expect(result.status == 0)
                let lines = result.stdout.split(separator: "\n").map(String.init)
                #expect(lines.count == 2, "\(result.stdout)")
                #expect(lines.first?.hasPrefix("ID") == true)
                let columns = lines.last?.split(separator: " ", omittingEmptySubsequences: true).map(String.init) ?? []
                // ID URL SEGMENTS DELIVERED PENDING LAST-ERROR NEXT-RETRY
                #expect(
                    columns == [
                        id, receiver.url(), "pro", expected.last?.split(separator: " ").first.map(String.init) ?? "?",
                        "0", "-", "-",
                    ]
                )

                result = try await segclient(["webhook", "remove", id])
                #expect(result.status == 0)
                #expect(result.stdout.hasPrefix("\(id): removed (seq "))
                result = try await segclient(["webhook", "remove", id])
                #expect(result.status == 3)
                #expect(result.stderr == "segclient: no webhook '\(id)'\n")
                result = try await segclient(["webhook", "add", "ftp://example.com", "--secret", "s"])
                #expect(result.status == 2)
                #expect(result.stderr.contains("the scheme must be http or https"))
                result = try await segclient(["webhook", "add", receiver.url()])
                #expect(result.status != 0)
                #expect(result.stderr.contains("--secret"))
                result = try await segclient(["webhook", "list"])
                #expect(result.stdout == "ID  URL  SEGMENTS  DELIVERED  PENDING  LAST ERROR  NEXT RETRY\n")
                // The secret can come from standard input; --json shows the registration.
                result = try await CommandResult.run(
                    BuiltProducts.path(of: "segclient"),
                    ["webhook", "add", receiver.url("/other"), "--secret-file", "-", "--json"],
                    environment: environment,
                    input: "from-stdin\n"
                )
                #expect(result.status == 0, "\(result.stderr)")
                #expect(
                    result.stdout.contains(#""url":"\#(receiver.url("/other"))","segments":[]"#),
                    "\(result.stdout)"
                )
                // Signed with the secret as read, without the trailing newline.
                try await client.plan("u99", "pro")
                let other = await eventually { receiver.requests.contains { $0.uri == "/other" } }
                #expect(other)
                for request in receiver.requests where request.uri == "/other" {
                    #expect(signatureIsValid(request, secret: "from-stdin"))
                }
                await client.close()
            }
        }
    }
}
