import CoreMetrics
import Prometheus
import Synchronization

/// The daemons' metrics backend: swift-metrics instruments recorded into a Prometheus registry, which
/// ``MetricsServer`` serves in the Prometheus text format.
public enum SegmentsMetrics {
    /// The registry every instrument of this process records into (the one ``bootstrap()`` installs).
    public static var registry: PrometheusCollectorRegistry { PrometheusMetricsFactory.defaultRegistry }

    /// Makes swift-metrics record into ``registry``, with duration buckets from 25 µs to 10 s (a read over the
    /// socket takes tens of microseconds; a large import's commit, seconds). Call once, at start, and only when
    /// metrics are served: without it every instrument does nothing.
    /// Parses a daemon's `--metrics HOST:PORT` and installs the backend (``bootstrap()``).
    /// - Throws: ``MetricsEndpointError`` naming what is wrong with the address.
    public static func enable(at text: String) throws(MetricsEndpointError) -> MetricsEndpoint {
        let endpoint = try MetricsEndpoint(parsing: text)
        Self.bootstrap()
        return endpoint
    }

    public static func bootstrap() {
        var factory = PrometheusMetricsFactory(registry: Self.registry)
        factory.defaultDurationHistogramBuckets = [
            .microseconds(25), .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500),
            .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
            .seconds(2), .seconds(5), .seconds(10),
        ]
        MetricsSystem.bootstrap(factory)
    }
}

/// A swift-metrics counter for a total this process already keeps (an atomic counter of its own): at each scrape,
/// ``update(to:)`` adds what the total grew by since the last one.
public final class MirroredCounter: Sendable {
    private let counter: CoreMetrics.Counter
    private let last = Mutex<UInt64>(0)

    /// - Parameters:
    ///   - label: the metric's name.
    ///   - dimensions: its labels.
    public init(label: String, dimensions: [(String, String)] = []) {
        self.counter = CoreMetrics.Counter(label: label, dimensions: dimensions)
    }

    /// Brings the counter up to `total` (a total that went back, as after a reset, starts the count over).
    public func update(to total: UInt64) {
        let grown = self.last.withLock { last -> UInt64 in
            defer { last = total }
            return total >= last ? total - last : 0
        }
        if grown > 0 {
            self.counter.increment(by: Int64(clamping: grown))
        }
    }
}
