/// How an evaluator delivers transitions to webhook endpoints (see docs/webhooks.md).
public struct WebhookDeliveryConfiguration: Sendable, Hashable {
    /// The delay after the first failed attempt; each further failure in a row doubles it.
    /// Default 1 s.
    public var retryBase: Duration
    /// The longest delay between two attempts. Default 5 minutes.
    public var retryCap: Duration
    /// How long one request may take, from connecting to the end of the response head; also the
    /// longest silence while reading the response. Default 10 s.
    public var requestTimeout: Duration
    /// How long connecting (TCP and TLS) may take. Default 5 s.
    public var connectTimeout: Duration
    /// Most transitions per request (1 sends one transition per request). Default 100.
    public var maximumBatchSize: Int

    /// Creates a configuration; every parameter has the default documented on its property.
    /// - Parameters:
    ///   - retryBase: the delay after the first failure.
    ///   - retryCap: the longest delay between attempts.
    ///   - requestTimeout: how long one request may take.
    ///   - connectTimeout: how long connecting may take.
    ///   - maximumBatchSize: most transitions per request, at least 1.
    public init(
        retryBase: Duration = .seconds(1),
        retryCap: Duration = .seconds(300),
        requestTimeout: Duration = .seconds(10),
        connectTimeout: Duration = .seconds(5),
        maximumBatchSize: Int = 100
    ) {
        self.retryBase = retryBase
        self.retryCap = retryCap
        self.requestTimeout = requestTimeout
        self.connectTimeout = connectTimeout
        self.maximumBatchSize = max(1, maximumBatchSize)
    }

    /// The delay before the next attempt after `failures` failed attempts in a row (≥ 1):
    /// `retryBase · 2^(failures − 1)`, at most ``retryCap``.
    public func retryDelay(afterFailures failures: UInt32) -> Duration {
        guard failures > 0 else { return .zero }
        let cap = max(self.retryCap, self.retryBase)
        var delay = self.retryBase
        var remaining = failures - 1
        while remaining > 0, delay < cap {
            delay *= 2
            remaining -= 1
        }
        return min(delay, cap)
    }
}
