import SegmentsWire

/// A registered webhook endpoint (never with its secret).
public struct SegmentsWebhook: Sendable, Hashable {
    /// The store-assigned id, e.g. `wh_3f9c0a6e1d2b4c58`.
    public var id: String
    /// Where transitions are POSTed.
    public var url: String
    /// Segments (or lists) whose transitions are delivered; empty = all.
    public var segments: [String]
    /// Change-log number of the registration.
    public var createdSeq: UInt64

    init(_ wire: Segments_V1_Webhook) {
        self.id = wire.id
        self.url = wire.url
        self.segments = wire.segments
        self.createdSeq = wire.createdSeq
    }
}

/// How far one evaluator shard has delivered one webhook.
public struct SegmentsWebhookDelivery: Sendable, Hashable {
    /// The shard.
    public var shard: Int
    /// Last transition-log number of the shard acknowledged by the endpoint; 0 = none yet.
    public var deliveredSeq: UInt64
    /// Transitions waiting to be delivered (the backlog, or lag).
    public var pending: UInt64
    /// Transitions delivered so far.
    public var deliveredCount: UInt64
    /// Failed attempts in a row; 0 when the last attempt succeeded.
    public var failedAttempts: Int
    /// Why the last attempt failed, if it did.
    public var lastError: String?
    /// When the last attempt failed (ms since the Unix epoch).
    public var lastErrorAtMs: Int64?
    /// When the next attempt is due after a failure (ms since the Unix epoch).
    public var nextAttemptAtMs: Int64?
    /// When the endpoint last acknowledged a request (ms since the Unix epoch).
    public var lastDeliveredAtMs: Int64?

    init(_ wire: Segments_V1_WebhookDelivery, shard: Int) {
        self.shard = shard
        self.deliveredSeq = wire.deliveredSeq
        self.pending = wire.pending
        self.deliveredCount = wire.deliveredCount
        self.failedAttempts = Int(wire.failedAttempts)
        self.lastError = wire.lastError.isEmpty ? nil : wire.lastError
        self.lastErrorAtMs = wire.lastErrorAtMs == 0 ? nil : wire.lastErrorAtMs
        self.nextAttemptAtMs = wire.nextAttemptAtMs == 0 ? nil : wire.nextAttemptAtMs
        self.lastDeliveredAtMs = wire.lastDeliveredAtMs == 0 ? nil : wire.lastDeliveredAtMs
    }
}

/// A webhook with its delivery state on every evaluator shard.
public struct SegmentsWebhookStatus: Sendable, Hashable {
    /// The registration.
    public var webhook: SegmentsWebhook
    /// One entry per shard that knows the webhook, in shard order.
    public var deliveries: [SegmentsWebhookDelivery]

    /// The backlog over all shards.
    public var pending: UInt64 {
        self.deliveries.reduce(0) { $0 + $1.pending }
    }
}

extension SegmentsClient {
    /// Registers a webhook: every enter/exit of `segments` (all segments when empty) is POSTed to
    /// `url`, signed with HMAC-SHA256 keyed with `secret` (see docs/webhooks.md).
    /// - Parameters:
    ///   - url: an `http` or `https` URL with a host.
    ///   - segments: segment or list names; empty = all.
    ///   - secret: the signing key; not empty.
    /// - Returns: the registration and the write's change-log number.
    /// - Throws: ``SegmentsClientError`` `invalidArgument` for a bad URL, segment name or secret.
    public func addWebhook(
        url: String,
        segments: [String],
        secret: String
    ) async throws(SegmentsClientError) -> (webhook: SegmentsWebhook, seq: UInt64) {
        var request = Segments_V1_AddWebhookRequest()
        request.url = url
        request.segments = segments
        request.secret = secret
        let response = try await self.callStore(ProfileStoreAPI.addWebhook, request)
        return (SegmentsWebhook(response.webhook), response.seq)
    }

    /// The registered webhooks, oldest first (from the store only).
    public func webhooks() async throws(SegmentsClientError) -> [SegmentsWebhook] {
        try await self.callStore(ProfileStoreAPI.listWebhooks, .init()).webhooks.map(SegmentsWebhook.init)
    }

    /// The registered webhooks with the delivery state reported by every evaluator shard.
    ///
    /// Waits (bounded) until every shard has applied the newest registration, so a webhook just
    /// added is listed with its state.
    public func webhookStatuses() async throws(SegmentsClientError) -> [SegmentsWebhookStatus] {
        let webhooks = try await self.webhooks()
        guard !webhooks.isEmpty else { return [] }
        var request = Segments_V1_ListWebhookDeliveriesRequest()
        request.minSeq = webhooks.map(\.createdSeq).max() ?? 0
        let shards = try await self.callAllShards(EvaluatorAPI.listWebhookDeliveries, request)
        return webhooks.map { webhook in
            var deliveries: [SegmentsWebhookDelivery] = []
            for (shard, response) in shards.enumerated() {
                if let wire = response.deliveries.first(where: { $0.webhookID == webhook.id }) {
                    deliveries.append(SegmentsWebhookDelivery(wire, shard: shard))
                }
            }
            return SegmentsWebhookStatus(webhook: webhook, deliveries: deliveries)
        }
    }

    /// Removes a webhook; delivery to it stops.
    /// - Throws: ``SegmentsClientError`` `notFound` for an unknown id.
    @discardableResult
    public func removeWebhook(_ id: String) async throws(SegmentsClientError) -> SegmentsWriteResult {
        var request = Segments_V1_RemoveWebhookRequest()
        request.id = id
        return SegmentsWriteResult(try await self.callStore(ProfileStoreAPI.removeWebhook, request))
    }
}
