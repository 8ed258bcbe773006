import Testing

@testable import SegmentEvaluator

/// URLs a webhook worker will not request (webhook-fuzz found that the HTTP client traps on them).
@Suite struct WebhookWorkerURLTests {
    @Test(arguments: ["http://127.0.0.1:99999/", "http://[::1]:70000/x", "http://h:0/"])
    func aPortOutsideOneTo65535FailsTheAttempt(_ url: String) {
        #expect(WebhookWorker.undeliverable(url)?.contains("is not from 1 to 65535") == true)
    }

    @Test(arguments: ["http://%5B%5D/", "http://%5B/x", "http://%5D:80/"])
    func aHostOfOnlyBracketsFailsTheAttempt(_ url: String) {
        #expect(WebhookWorker.undeliverable(url)?.hasSuffix("is empty") == true)
    }

    @Test(arguments: ["http://127.0.0.1:9/hook", "https://example.com/", "http://[::1]:65535/", "http://[::]/"])
    func otherURLsAreRequested(_ url: String) {
        #expect(WebhookWorker.undeliverable(url) == nil)
    }
}
