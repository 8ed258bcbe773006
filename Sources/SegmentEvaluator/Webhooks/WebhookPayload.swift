import Crypto
import SegmentLanguage
import SegmentsJSON
import SegmentsWire

/// One request's body and headers for a batch of transitions (see docs/webhooks.md):
///
/// ```
/// POST <url>
/// Content-Type: application/json
/// X-Segments-Signature: sha256=<hex HMAC-SHA256(secret, body)>
/// Idempotency-Key: <webhook id>-<shard>-<first seq>-<last seq>
///
/// {"webhook_id":"wh_…","shard":0,"shard_count":1,"transitions":[
///   {"seq":12,"segment":"vip","user":"u1","change":"enter","at":"2026-11-01T10:00:00Z","store_seq":40,
///    "idempotency_key":"wh_…-0-12"}, …]}
/// ```
struct WebhookPayload: Sendable, Hashable {
    /// The JSON body, UTF-8.
    let body: [UInt8]
    /// `sha256=` and the lowercase hex HMAC-SHA256 of ``body`` keyed with the secret.
    let signature: String
    /// Names this exact batch: the same batch re-sent has the same key.
    let idempotencyKey: String
    /// The batch's first and last transition-log numbers.
    let firstSeq: UInt64
    let lastSeq: UInt64

    /// The header carrying ``signature``.
    static let signatureHeader = "X-Segments-Signature"
    /// The header carrying ``idempotencyKey``.
    static let idempotencyHeader = "Idempotency-Key"

    /// Builds the request for `transitions` (non-empty, in log order) of `endpoint`, recorded by
    /// shard `shardIndex` of `shardCount`.
    init(endpoint: WebhookEndpoint, shardIndex: UInt32, shardCount: UInt32, transitions: [Segments_V1_Transition]) {
        let first = transitions.first?.seq ?? 0
        let last = transitions.last?.seq ?? 0
        var json = "{\"webhook_id\":" + Self.quoted(endpoint.id)
        json += ",\"shard\":\(shardIndex),\"shard_count\":\(shardCount),\"transitions\":["
        for (index, transition) in transitions.enumerated() {
            if index > 0 { json += "," }
            json += "{\"seq\":\(transition.seq)"
            json += ",\"segment\":" + Self.quoted(transition.segment)
            json += ",\"user\":" + Self.quoted(transition.userID)
            json += ",\"change\":" + (transition.kind == .exit ? "\"exit\"" : "\"enter\"")
            json += ",\"at\":\"" + RFC3339.format(transition.atMs) + "\""
            json += ",\"store_seq\":\(transition.storeSeq)"
            json += ",\"idempotency_key\":" + Self.quoted("\(endpoint.id)-\(shardIndex)-\(transition.seq)")
            json += "}"
        }
        json += "]}"
        self.body = Array(json.utf8)
        self.signature = Self.signature(of: self.body, secret: endpoint.secret)
        self.idempotencyKey = "\(endpoint.id)-\(shardIndex)-\(first)-\(last)"
        self.firstSeq = first
        self.lastSeq = last
    }

    /// `sha256=<hex>`: the HMAC-SHA256 of `body` keyed with the UTF-8 bytes of `secret`.
    static func signature(of body: [UInt8], secret: String) -> String {
        let key = SymmetricKey(data: Array(secret.utf8))
        let code = HMAC<SHA256>.authenticationCode(for: body, using: key)
        return "sha256=" + Self.hex(Array(code))
    }

    private static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A JSON string literal.
    static func quoted(_ text: String) -> String {
        JSONValue.string(text).serialized
    }
}
