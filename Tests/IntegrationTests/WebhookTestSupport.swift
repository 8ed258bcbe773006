import Crypto
import Foundation
import SegmentsClient
import SegmentsTesting
import Testing

/// A webhook request body as docs/webhooks.md describes it.
struct WebhookBody: Decodable, Equatable {
    struct Item: Decodable, Equatable {
        var seq: UInt64
        var segment: String
        var user: String
        var change: String
        var at: String
        var storeSeq: UInt64
        var idempotencyKey: String
    }

    var webhookId: String
    var shard: Int
    var shardCount: Int
    var transitions: [Item]

    init(_ request: WebhookReceiver.Request) throws {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        self = try decoder.decode(WebhookBody.self, from: Data(request.body))
    }
}

/// What a receiver does to check a request: the constant-time HMAC-SHA256 comparison of the
/// `X-Segments-Signature` header with the body, keyed with the shared secret.
func signatureIsValid(_ request: WebhookReceiver.Request, secret: String) -> Bool {
    guard let header = request.headers["x-segments-signature"], header.hasPrefix("sha256=") else { return false }
    let hex = Array(header.dropFirst("sha256=".count).utf8)
    guard hex.count == 64 else { return false }
    var mac: [UInt8] = []
    for index in stride(from: 0, to: hex.count, by: 2) {
        guard let byte = UInt8(String(decoding: hex[index..<index + 2], as: UTF8.self), radix: 16) else { return false }
        mac.append(byte)
    }
    return HMAC<SHA256>.isValidAuthenticationCode(
        mac,
        authenticating: request.body,
        using: SymmetricKey(data: Array(secret.utf8))
    )
}

/// The transitions a receiver acknowledged (answered 2xx), in the order it acknowledged them.
func acknowledged(_ requests: [WebhookReceiver.Request]) throws -> [WebhookBody.Item] {
    var items: [WebhookBody.Item] = []
    for request in requests {
        guard case .status(let code) = request.reply, (200..<300).contains(code) else { continue }
        items += try WebhookBody(request).transitions
    }
    return items
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes.
/// - Returns: whether it held.
func eventually(timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}

extension SegmentsClient {
    /// Waits until webhook `id` has no backlog on any shard: its last acknowledgement is saved
    /// (a receiver sees a request before the evaluator has its answer).
    func waitUntilCaughtUp(_ id: String) async throws {
        let caughtUp = try await eventually {
            try await self.webhookStatuses().first { $0.webhook.id == id }?.pending == 0
        }
        #expect(caughtUp, "webhook \(id) still has a backlog")
    }

    /// Sets `user`'s plan; with the segment `pro` (`plan = "pro"`) it makes an enter or an exit.
    @discardableResult
    func plan(_ user: String, _ plan: String) async throws -> UInt64 {
        try await self.setProfile(user, ["plan": .string(plan)]).seq
    }

    /// `"seq user change"` of every transition of `segment`, in log order; none while the
    /// evaluator has not applied the segment's creation yet.
    func historyLines(of segment: String) async throws -> [String] {
        let transitions: [SegmentsTransition]
        do throws(SegmentsClientError) {
            transitions = try await self.history(ofSegment: segment)
        } catch {
            guard error.code == .notFound else { throw error }
            return []
        }
        return transitions.map { "\($0.seq) \($0.userID) \($0.kind.rawValue)" }
    }
}

extension WebhookBody.Item {
    /// `"seq user change"`, comparable with ``SegmentsClient/historyLines(of:)``.
    var line: String { "\(self.seq) \(self.user) \(self.change)" }
}
