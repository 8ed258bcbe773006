import SegmentsMetrics
import SegmentsRPC

/// How a segment evaluator runs.
public struct SegmentEvaluatorConfiguration: Sendable {
    /// The profile store's socket, or its TLS listener as `tls://HOST:PORT`; or several stores of one
    /// PostgreSQL database, comma-separated, of which the evaluator follows the writer.
    public var storeSocketPath: String {
        didSet { self.storeAddresses = RPCAddressList(self.storeSocketPath) }
    }
    /// ``storeSocketPath`` as a list, and which store is followed now.
    public private(set) var storeAddresses: RPCAddressList
    /// The evaluator's client certificate, key and the CA that signs the store's certificate, for a `tls://` store
    /// address. Default none.
    public var storeTLS: RPCTLSFiles?
    /// The evaluator's own socket and its limits.
    public var server: RPCServerConfiguration
    /// Directory holding `evaluator.sqlite` (transition log and checkpoint); created if missing.
    public var dataDirectory: String
    /// This evaluator's shard: it owns users with `fnv1a64(id) % shardCount == shardIndex`.
    public var shardIndex: UInt32
    public var shardCount: UInt32
    /// How long a read with `min_seq` waits for the evaluator to catch up before
    /// DEADLINE_EXCEEDED. Default 10 s.
    public var readYourWritesTimeout: Duration
    /// How long to wait between attempts to reach the store. Default 0.5 s.
    public var reconnectDelay: Duration
    /// How long the evaluator may wait on the store, receiving nothing while the store's log is
    /// ahead of it, before it logs a warning and subscribes again. Default 15 s.
    public var stallTimeout: Duration
    /// How often, at least, the engine's state is saved with a checkpoint while the feed is busy
    /// (longer when saves are slow, see `FeedApplier`), and how long the feed must be idle before
    /// the changes since the last save are saved. A restart replays the log from the last save.
    /// Default 2 s.
    public var stateSaveInterval: Duration = .seconds(2)
    /// Webhook delivery: back-off, timeouts, batch size. Default: see ``WebhookDeliveryConfiguration``.
    public var webhooks = WebhookDeliveryConfiguration()
    /// Where to serve Prometheus metrics over HTTP (`GET /metrics`); `nil` (the default): not served, and nothing
    /// is measured. The process must have called ``SegmentsMetrics/bootstrap()``.
    public var metricsEndpoint: MetricsEndpoint?
    /// Most `Watch` streams served at once; one more is refused with RESOURCE_EXHAUSTED. Default 256. (A watcher
    /// that reads slowly costs nothing while it lags: each stream is flow-controlled and reads the transition log,
    /// so nothing is buffered for it.)
    public var maximumWatchers = 256
    /// A watch whose consumer takes nothing for this long while transitions wait for it (its window is full) is
    /// ended with RESOURCE_EXHAUSTED saying so and where to resume, so that it does not hold a watch slot forever.
    /// Default 5 minutes.
    public var watchStallTimeout: Duration = .seconds(300)

    /// Creates a configuration.
    public init(
        storeSocketPath: String,
        server: RPCServerConfiguration,
        dataDirectory: String,
        shardIndex: UInt32 = 0,
        shardCount: UInt32 = 1,
        readYourWritesTimeout: Duration = .seconds(10),
        reconnectDelay: Duration = .milliseconds(500),
        stallTimeout: Duration = .seconds(15)
    ) {
        self.storeSocketPath = storeSocketPath
        self.storeAddresses = RPCAddressList(storeSocketPath)
        self.server = server
        self.dataDirectory = dataDirectory
        self.shardIndex = shardIndex
        self.shardCount = shardCount
        self.readYourWritesTimeout = readYourWritesTimeout
        self.reconnectDelay = reconnectDelay
        self.stallTimeout = stallTimeout
    }
}

extension SegmentEvaluatorConfiguration {
    /// Opens a connection to the store: its socket, or its TLS listener with ``storeTLS``.
    /// - Throws: `RPCError` UNAVAILABLE when the store cannot be reached.
    func connectToStore() async throws -> RPCConnection {
        try await RPCConnection.connect(to: self.storeAddresses.current, tls: self.storeTLS)
    }
}
