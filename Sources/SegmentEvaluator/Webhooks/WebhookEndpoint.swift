/// A registered webhook as an evaluator keeps it: learned from the change log's `WebhookAdded`
/// entry, secret included.
struct WebhookEndpoint: Sendable, Hashable {
    /// The store-assigned id.
    var id: String
    /// Where transitions are POSTed.
    var url: String
    /// Only transitions of these segments (or lists); empty = all.
    var segments: [String]
    /// The HMAC-SHA256 key.
    var secret: String
    /// The store change that registered it: transitions caused by this change and later ones are
    /// delivered, earlier ones never.
    var addedStoreSeq: UInt64
}

/// How far one endpoint has been delivered, as persisted beside the transition log.
struct WebhookDeliveryState: Sendable, Hashable {
    /// Last transition-log number acknowledged (every matching transition up to it was delivered).
    var deliveredSeq: UInt64 = 0
    /// Transitions delivered so far.
    var deliveredCount: UInt64 = 0
    /// Failed attempts in a row at the head of the backlog.
    var failedAttempts: UInt32 = 0
    /// Why the last attempt failed; empty after a success.
    var lastError = ""
    /// When the last attempt failed (ms since the Unix epoch); 0 = never.
    var lastErrorAtMs: Int64 = 0
    /// When the next attempt is due after a failure (ms); 0 = not waiting.
    var nextAttemptAtMs: Int64 = 0
    /// When a request was last acknowledged (ms); 0 = never.
    var lastDeliveredAtMs: Int64 = 0
}
