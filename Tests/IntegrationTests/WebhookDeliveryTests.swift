import Foundation
import SegmentEvaluator
import SegmentsClient
import SegmentsTesting
import Synchronization
import Testing

/// Webhook delivery through the real daemons (in-process) to real HTTP servers on loopback.
@Suite(.serialized) struct WebhookDeliveryTests {
    /// Fast retries so failure tests take milliseconds, not seconds.
    static let fast = WebhookDeliveryConfiguration(
        retryBase: .milliseconds(20),
        retryCap: .milliseconds(100),
        requestTimeout: .seconds(5),
        connectTimeout: .seconds(2),
        maximumBatchSize: 3
    )

    @Test func requestsAreSignedAndDeliveredInOrderForTheirSegmentsOnly() async throws {
        try await WebhookReceiver.with { receiver in
            try await TemporaryDirectory.with { directory in
                try await InProcessDaemons.with(directory: directory, webhooks: Self.fast) { daemons in
                    let client = daemons.client
                    try await client.putSegment("pro", expression: #"plan = "pro""#)
                    try await client.putSegment("vip", expression: #"plan = "vip""#)
                    // A transition before the registration is never delivered.
                    try await client.plan("early", "pro")
                    let (webhook, _) = try await client.addWebhook(
                        url: receiver.url(),
                        segments: ["pro"],
                        secret: "s3cret"
                    )
                    #expect(webhook.id.hasPrefix("wh_"))
                    #expect(webhook.segments == ["pro"])
                    // 10 users enter pro, 4 leave for vip, 2 come back: 16 pro transitions, 4 vip ones.
                    for index in 0..<10 { try await client.plan("u\(index)", "pro") }
                    for index in 0..<4 { try await client.plan("u\(index)", "vip") }
                    for index in 0..<2 { try await client.plan("u\(index)", "pro") }
                    let history = try await Self.waitForHistory(client, segment: "pro", count: 17)
                    let expected = Array(history.dropFirst())
                    #expect(history.first?.hasSuffix(" early enter") == true)
                    let delivered = try await Self.waitForDelivered(receiver, count: 16)
                    #expect(delivered.map(\.line) == expected)

                    let requests = receiver.requests
                    for request in requests {
                        #expect(request.method == "POST")
                        #expect(request.uri == "/hook")
                        #expect(request.headers["content-type"] == "application/json")
                        #expect(signatureIsValid(request, secret: "s3cret"))
                        #expect(!signatureIsValid(request, secret: "wrong"))
                        var tampered = request
                        tampered.body[tampered.body.count / 2] ^= 1
                        #expect(!signatureIsValid(tampered, secret: "s3cret"))
                        let body = try WebhookBody(request)
                        #expect(body.webhookId == webhook.id)
                        #expect(body.shard == 0 && body.shardCount == 1)
                        #expect(body.transitions.count <= 3)
                        let first = try #require(body.transitions.first)
                        let last = try #require(body.transitions.last)
                        #expect(request.headers["idempotency-key"] == "\(webhook.id)-0-\(first.seq)-\(last.seq)")
                        for item in body.transitions {
                            #expect(item.segment == "pro")
                            #expect(item.idempotencyKey == "\(webhook.id)-0-\(item.seq)")
                            #expect(item.at == "2026-11-01T00:00:00Z")
                        }
                    }
                    try await client.waitUntilCaughtUp(webhook.id)
                    let statuses = try await client.webhookStatuses()
                    let status = try #require(statuses.first)
                    #expect(statuses.count == 1)
                    #expect(status.pending == 0)
                    let delivery = try #require(status.deliveries.first)
                    #expect(delivery.deliveredCount == 16)
                    #expect(delivery.deliveredSeq == delivered.last?.seq)
                    #expect(delivery.lastError == nil)
                    #expect(delivery.lastDeliveredAtMs != nil)
                }
            }
        }
    }

    @Test func aReceiverAnswering500IsRetriedAndGetsEverythingExactlyInOrder() async throws {
        // Requests 0 and 1 fail, every later one succeeds.
        let reply: @Sendable (Int) -> WebhookReceiver.Reply = { $0 < 2 ? .status(500) : .status(200) }
        var configuration = Self.fast
        configuration.maximumBatchSize = 1
        let answer: @Sendable (Int, WebhookReceiver.Request) -> WebhookReceiver.Reply = { index, _ in reply(index) }
        try await WebhookReceiver.with(reply: answer) { receiver in
            try await TemporaryDirectory.with { directory in
                try await InProcessDaemons.with(directory: directory, webhooks: configuration) { daemons in
                    let client = daemons.client
                    try await client.putSegment("pro", expression: #"plan = "pro""#)
                    _ = try await client.addWebhook(url: receiver.url(), segments: [], secret: "k")
                    for user in ["a", "b", "c"] { try await client.plan(user, "pro") }
                    let expected = try await Self.waitForHistory(client, segment: "pro", count: 3)
                    let requests = await receiver.waitForRequests(5)
                    #expect(requests.count == 5)
                    // The failed request is re-sent identically: same body, signature and key.
                    #expect(
                        requests.map(\.reply) == [.status(500), .status(500), .status(200), .status(200), .status(200)]
                    )
                    #expect(requests[0].body == requests[1].body && requests[1].body == requests[2].body)
                    #expect(requests[0].headers == requests[1].headers && requests[1].headers == requests[2].headers)
                    #expect(try acknowledged(requests).map(\.line) == expected)
                    // Nothing more arrives: each transition was acknowledged once.
                    try await Task.sleep(for: .milliseconds(300))
                    #expect(receiver.requests.count == 5)
                    let delivery = try #require(try await client.webhookStatuses().first?.deliveries.first)
                    #expect(delivery.failedAttempts == 0)
                    #expect(delivery.pending == 0)
                    #expect(delivery.deliveredCount == 3)
                }
            }
        }
    }

    @Test func aFailingEndpointShowsItsErrorAndBacklogThenCatchesUp() async throws {
        let healthy = Atomic<Bool>(false)
        let answer: @Sendable (Int, WebhookReceiver.Request) -> WebhookReceiver.Reply = { _, _ in
            healthy.load(ordering: .relaxed) ? .status(204) : .status(503)
        }
        try await WebhookReceiver.with(reply: answer) { receiver in
            try await TemporaryDirectory.with { directory in
                try await InProcessDaemons.with(directory: directory, webhooks: Self.fast) { daemons in
                    let client = daemons.client
                    try await client.putSegment("pro", expression: #"plan = "pro""#)
                    _ = try await client.addWebhook(url: receiver.url(), segments: ["pro"], secret: "k")
                    for index in 0..<5 { try await client.plan("u\(index)", "pro") }
                    _ = try await Self.waitForHistory(client, segment: "pro", count: 5)
                    let failing = try await eventually {
                        guard let delivery = try await client.webhookStatuses().first?.deliveries.first else {
                            return false
                        }
                        return delivery.failedAttempts >= 2 && delivery.pending == 5
                    }
                    #expect(failing)
                    let delivery = try #require(try await client.webhookStatuses().first?.deliveries.first)
                    #expect(delivery.lastError == "HTTP 503 Service Unavailable")
                    #expect(delivery.nextAttemptAtMs != nil)
                    #expect(delivery.deliveredCount == 0)
                    healthy.store(true, ordering: .relaxed)
                    let caughtUp = try await eventually {
                        try await client.webhookStatuses().first?.deliveries.first?.pending == 0
                    }
                    #expect(caughtUp)
                    let after = try #require(try await client.webhookStatuses().first?.deliveries.first)
                    #expect(after.lastError == nil)
                    #expect(after.failedAttempts == 0)
                    #expect(after.deliveredCount == 5)
                }
            }
        }
    }

    @Test func aHungEndpointSlowsNeitherChecksNorOtherEndpointsAndRemovalStopsIt() async throws {
        var configuration = Self.fast
        configuration.requestTimeout = .seconds(60)
        let answer: @Sendable (Int, WebhookReceiver.Request) -> WebhookReceiver.Reply = { _, _ in .hang }
        try await WebhookReceiver.with(reply: answer) { hung in
            try await WebhookReceiver.with { good in
                try await TemporaryDirectory.with { directory in
                    try await InProcessDaemons.with(directory: directory, webhooks: configuration) { daemons in
                        let client = daemons.client
                        try await client.putSegment("pro", expression: #"plan = "pro""#)
                        let (hungHook, _) = try await client.addWebhook(url: hung.url(), segments: ["pro"], secret: "k")
                        let (goodHook, _) = try await client.addWebhook(url: good.url(), segments: ["pro"], secret: "k")
                        #expect(hungHook.id != goodHook.id)
                        try await client.plan("first", "pro")
                        // The hung endpoint holds its first request open.
                        #expect(await hung.waitForRequests(1).count == 1)
                        let clock = ContinuousClock()
                        var slowest = Duration.zero
                        for index in 0..<20 {
                            let seq = try await client.plan("u\(index)", "pro")
                            let start = clock.now
                            let check = try await client.check("u\(index)", in: "pro", minSeq: seq)
                            slowest = max(slowest, clock.now - start)
                            #expect(check.member)
                        }
                        #expect(slowest < .seconds(2), "slowest check \(slowest)")
                        let delivered = try await Self.waitForDelivered(good, count: 21)
                        #expect(delivered.count == 21)
                        #expect(hung.requests.count == 1)
                        try await client.waitUntilCaughtUp(goodHook.id)
                        let statuses = try await client.webhookStatuses()
                        let hungStatus = try #require(statuses.first { $0.webhook.id == hungHook.id })
                        let goodStatus = try #require(statuses.first { $0.webhook.id == goodHook.id })
                        #expect(hungStatus.pending == 21)
                        #expect(goodStatus.pending == 0)

                        // Removal stops delivery; the other endpoint goes on.
                        try await client.removeWebhook(hungHook.id)
                        let remaining = try await client.webhooks()
                        #expect(remaining.map(\.id) == [goodHook.id])
                        try await client.plan("late", "pro")
                        _ = try await Self.waitForDelivered(good, count: 22)
                        try await Task.sleep(for: .milliseconds(200))
                        #expect(hung.requests.count == 1)
                    }
                }
            }
        }
    }

    @Test func removingAWebhookStopsRetries() async throws {
        let answer: @Sendable (Int, WebhookReceiver.Request) -> WebhookReceiver.Reply = { _, _ in .status(500) }
        try await WebhookReceiver.with(reply: answer) { receiver in
            try await TemporaryDirectory.with { directory in
                try await InProcessDaemons.with(directory: directory, webhooks: Self.fast) { daemons in
                    let client = daemons.client
                    try await client.putSegment("pro", expression: #"plan = "pro""#)
                    let (webhook, _) = try await client.addWebhook(url: receiver.url(), segments: [], secret: "k")
                    try await client.plan("u", "pro")
                    await receiver.waitForRequests(3)
                    let write = try await client.removeWebhook(webhook.id)
                    #expect(try await client.check("u", in: "pro", minSeq: write.seq).member)
                    // At most a request already in flight lands after the removal is applied.
                    try await Task.sleep(for: .milliseconds(100))
                    let settled = receiver.requests.count
                    try await Task.sleep(for: .milliseconds(400))
                    #expect(receiver.requests.count == settled)
                    #expect(try await client.webhookStatuses().isEmpty)
                }
            }
        }
    }

    @Test func eachShardDeliversItsOwnUsersInItsOwnOrder() async throws {
        try await WebhookReceiver.with { receiver in
            try await TemporaryDirectory.with { directory in
                try await InProcessProfileStore.with(directory: directory) { store in
                    try await InProcessEvaluator.with(
                        directory: directory,
                        storeSocketPath: store.socketPath,
                        name: "shard0",
                        shardIndex: 0,
                        shardCount: 2,
                        webhooks: Self.fast
                    ) { shard0 in
                        try await InProcessEvaluator.with(
                            directory: directory,
                            storeSocketPath: store.socketPath,
                            name: "shard1",
                            shardIndex: 1,
                            shardCount: 2,
                            webhooks: Self.fast
                        ) { shard1 in
                            let client = SegmentsClient(
                                configuration: .init(
                                    storeSocketPath: store.socketPath,
                                    evaluatorSocketPaths: [shard0.socketPath, shard1.socketPath]
                                )
                            )
                            try await client.putSegment("pro", expression: #"plan = "pro""#)
                            let (webhook, _) = try await client.addWebhook(
                                url: receiver.url(),
                                segments: [],
                                secret: "k"
                            )
                            for index in 0..<20 { try await client.plan("u\(index)", "pro") }
                            var last: UInt64 = 0
                            for index in 0..<5 { last = try await client.plan("u\(index)", "free") }
                            // Both shards have applied (and recorded) everything once they count it.
                            #expect(try await client.memberCount("pro", minSeq: last) == 15)
                            let history = try await client.history(ofSegment: "pro")
                            #expect(history.count == 25)
                            _ = try await Self.waitForDelivered(receiver, count: 25)
                            var delivered: [Int: [String]] = [:]
                            for request in receiver.requests {
                                let body = try WebhookBody(request)
                                #expect(body.shardCount == 2)
                                #expect(
                                    request.headers["idempotency-key"]?.hasPrefix("\(webhook.id)-\(body.shard)-")
                                        == true
                                )
                                delivered[body.shard, default: []] += body.transitions.map(\.line)
                            }
                            for shard in [0, 1] {
                                let expected = history.filter { $0.shard == shard }.map {
                                    "\($0.seq) \($0.userID) \($0.kind.rawValue)"
                                }
                                #expect(!expected.isEmpty)
                                #expect(delivered[shard] == expected, "shard \(shard)")
                            }
                            try await client.waitUntilCaughtUp(webhook.id)
                            let status = try #require(try await client.webhookStatuses().first)
                            #expect(status.deliveries.map(\.shard) == [0, 1])
                            #expect(status.pending == 0)
                            #expect(status.deliveries.map(\.deliveredCount).reduce(0, +) == 25)
                            await client.close()
                        }
                    }
                }
            }
        }
    }

    @Test func aRefusedConnectionIsReportedPlainly() async throws {
        // A port nothing listens on: a receiver started and stopped again.
        let url = try await WebhookReceiver.with { $0.url() }
        try await TemporaryDirectory.with { directory in
            try await InProcessDaemons.with(directory: directory, webhooks: Self.fast) { daemons in
                let client = daemons.client
                try await client.putSegment("pro", expression: #"plan = "pro""#)
                _ = try await client.addWebhook(url: url, segments: [], secret: "k")
                try await client.plan("u", "pro")
                var error: String?
                _ = try await eventually {
                    error = try await client.webhookStatuses().first?.deliveries.first?.lastError
                    return error != nil
                }
                #expect(error?.contains("Connection refused") == true, "\(error ?? "no error")")
                #expect(error?.contains("errno") == false, "\(error ?? "no error")")
            }
        }
    }

    @Test func aRunningBackOffIsKeptAcrossARestart() async throws {
        let healthy = Atomic<Bool>(false)
        let slow = WebhookDeliveryConfiguration(retryBase: .seconds(2), retryCap: .seconds(2))
        let answer: @Sendable (Int, WebhookReceiver.Request) -> WebhookReceiver.Reply = { _, _ in
            healthy.load(ordering: .relaxed) ? .status(200) : .status(500)
        }
        try await WebhookReceiver.with(reply: answer) { receiver in
            try await TemporaryDirectory.with { directory in
                try await InProcessProfileStore.with(directory: directory) { store in
                    let nextAttemptAtMs = try await InProcessEvaluator.with(
                        directory: directory,
                        storeSocketPath: store.socketPath,
                        webhooks: slow
                    ) { evaluator in
                        let client = SegmentsClient(
                            configuration: .init(
                                storeSocketPath: store.socketPath,
                                evaluatorSocketPaths: [evaluator.socketPath]
                            )
                        )
                        try await client.putSegment("pro", expression: #"plan = "pro""#)
                        _ = try await client.addWebhook(url: receiver.url(), segments: [], secret: "k")
                        try await client.plan("u", "pro")
                        var next: Int64?
                        _ = try await eventually {
                            next = try await client.webhookStatuses().first?.deliveries.first?.nextAttemptAtMs
                            return next != nil
                        }
                        await client.close()
                        return try #require(next)
                    }
                    #expect(receiver.requests.count == 1)
                    healthy.store(true, ordering: .relaxed)
                    try await InProcessEvaluator.with(
                        directory: directory,
                        storeSocketPath: store.socketPath,
                        webhooks: slow
                    ) { _ in
                        #expect(await receiver.waitForRequests(2).count == 2)
                        // The restarted evaluator waited out the persisted back-off before retrying.
                        let retriedAtMs = Int64(Date().timeIntervalSince1970 * 1000)
                        #expect(
                            retriedAtMs >= nextAttemptAtMs - 50,
                            "retried \(nextAttemptAtMs - retriedAtMs) ms early"
                        )
                    }
                    #expect(try acknowledged(receiver.requests).map(\.user) == ["u"])
                }
            }
        }
    }

    @Test func badInputGivesClearErrors() async throws {
        try await TemporaryDirectory.with { directory in
            try await InProcessDaemons.with(directory: directory) { (daemons: InProcessDaemons) async throws in
                let client = daemons.client
                let cases: [(url: String, segments: [String], secret: String, message: String)] = [
                    (
                        "ftp://example.com/x", [], "k",
                        "invalid webhook URL 'ftp://example.com/x': the scheme must be http or https, not ftp"
                    ),
                    ("example.com/hook", [], "k", "invalid webhook URL 'example.com/hook': not an absolute URL"),
                    ("http://", [], "k", "invalid webhook URL 'http://': no host"),
                    ("", [], "k", "webhook URL is empty"),
                    ("http://127.0.0.1:9/x", [], "", "webhook secret is empty; give a shared secret to sign with"),
                    ("http://127.0.0.1:9/x", ["no spaces"], "k", "invalid segment name 'no spaces'"),
                ]
                for item in cases {
                    do throws(SegmentsClientError) {
                        _ = try await client.addWebhook(url: item.url, segments: item.segments, secret: item.secret)
                        Issue.record("accepted \(item.url) \(item.segments) secret '\(item.secret)'")
                    } catch {
                        #expect(error.code == .invalidArgument)
                        #expect(error.message.hasPrefix(item.message), "\(error.message)")
                    }
                }
                do throws(SegmentsClientError) {
                    try await client.removeWebhook("wh_0000000000000000")
                    Issue.record("removed an unknown webhook")
                } catch {
                    #expect(error.code == .notFound)
                    #expect(error.message == "no webhook 'wh_0000000000000000'")
                }
                #expect(try await client.webhooks().isEmpty)
            }
        }
    }

    // MARK: - Helpers

    /// The segment's transitions (`seq user change`) once there are `count`.
    static func waitForHistory(_ client: SegmentsClient, segment: String, count: Int) async throws -> [String] {
        var lines: [String] = []
        _ = try await eventually {
            lines = try await client.historyLines(of: segment)
            return lines.count >= count
        }
        #expect(lines.count == count)
        return lines
    }

    /// The transitions a receiver answering 2xx got, once there are `count`.
    static func waitForDelivered(_ receiver: WebhookReceiver, count: Int) async throws -> [WebhookBody.Item] {
        var items: [WebhookBody.Item] = []
        _ = try await eventually {
            items = try acknowledged(receiver.requests)
            return items.count >= count
        }
        return items
    }
}
