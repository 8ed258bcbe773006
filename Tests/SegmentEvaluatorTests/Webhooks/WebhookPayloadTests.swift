import SegmentsWire
import Testing

@testable import SegmentEvaluator

/// The request body, signature and back-off as values.
@Suite struct WebhookPayloadTests {
    let endpoint = WebhookEndpoint(
        id: "wh_1",
        url: "http://127.0.0.1/x",
        segments: [],
        secret: "Jefe",
        addedStoreSeq: 1
    )

    func transition(_ seq: UInt64, _ user: String, _ kind: Segments_V1_TransitionKind) -> Segments_V1_Transition {
        var transition = Segments_V1_Transition()
        transition.seq = seq
        transition.segment = "vip"
        transition.userID = user
        transition.kind = kind
        transition.atMs = 1_793_491_200_250
        transition.storeSeq = 40
        return transition
    }

    @Test func bodyIsTheDocumentedJSON() {
        let payload = WebhookPayload(
            endpoint: self.endpoint,
            shardIndex: 1,
            shardCount: 2,
            transitions: [self.transition(7, "u\"1\n", .enter), self.transition(9, "é", .exit)]
        )
        let expected =
            #"{"webhook_id":"wh_1","shard":1,"shard_count":2,"transitions":["#
            + #"{"seq":7,"segment":"vip","user":"u\"1\n","change":"enter","at":"2026-11-01T00:00:00.250Z","store_seq":40,"idempotency_key":"wh_1-1-7"},"#
            + #"{"seq":9,"segment":"vip","user":"é","change":"exit","at":"2026-11-01T00:00:00.250Z","store_seq":40,"idempotency_key":"wh_1-1-9"}]}"#
        #expect(String(decoding: payload.body, as: UTF8.self) == expected)
        #expect(payload.idempotencyKey == "wh_1-1-7-9")
        #expect(payload.firstSeq == 7 && payload.lastSeq == 9)
        #expect(payload.signature == WebhookPayload.signature(of: payload.body, secret: "Jefe"))
    }

    @Test func controlCharactersAreEscaped() {
        #expect(WebhookPayload.quoted("a\u{01}b\\") == #""a\u0001b\\""#)
    }

    /// RFC 4231, test case 2.
    @Test func signatureIsHMACSHA256InLowercaseHex() {
        let signature = WebhookPayload.signature(of: Array("what do ya want for nothing?".utf8), secret: "Jefe")
        #expect(signature == "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func backOffDoublesUpToTheCap() {
        let configuration = WebhookDeliveryConfiguration(retryBase: .milliseconds(100), retryCap: .seconds(1))
        let delays = (0...6).map { configuration.retryDelay(afterFailures: UInt32($0)) }
        #expect(
            delays == [
                .zero, .milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1),
                .seconds(1),
            ]
        )
        #expect(configuration.retryDelay(afterFailures: .max) == .seconds(1))
    }

    @Test func batchSizeIsAtLeastOne() {
        #expect(WebhookDeliveryConfiguration(maximumBatchSize: 0).maximumBatchSize == 1)
    }
}
