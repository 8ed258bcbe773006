import DaemonSupport
import Logging
import SegmentLanguage
import SegmentsMetrics
import SegmentsRPC
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The segment evaluator as a long-running service: follows the store's change log, keeps
/// membership exact in real time, records transitions, and serves the `segments.v1.Evaluator`
/// API on its socket until graceful shutdown.
///
/// On start it restores the engine state of its last checkpoint (or, without one, starts empty)
/// and replays the store's change log from there — deterministically, so the transitions an
/// earlier run recorded are reproduced and not recorded twice — then follows it live.
public final class SegmentEvaluatorService: Service {
    private let configuration: SegmentEvaluatorConfiguration
    private let logger: Logger
    private let onReady: @Sendable () -> Void

    /// Creates the service; nothing is opened until ``run()``.
    /// - Parameters:
    ///   - configuration: store socket, own socket, data directory, shard.
    ///   - logger: the evaluator's logger.
    ///   - onReady: called once the socket accepts connections.
    public init(
        configuration: SegmentEvaluatorConfiguration,
        logger: Logger,
        onReady: @escaping @Sendable () -> Void = {}
    ) {
        self.configuration = configuration
        self.logger = logger
        self.onReady = onReady
    }

    /// Runs until graceful shutdown.
    /// - Throws: ``SegmentEvaluatorError`` when the data directory cannot be opened,
    ///   `RPCServerError` when the socket cannot be owned.
    public func run() async throws {
        ProcessVitals.markStart()
        let storeHead = PublishedStoreHead(stores: self.configuration.storeAddresses, tls: self.configuration.storeTLS)
        let log = try self.openTransitionLog()
        let core = EvaluatorCore(
            log: log,
            shardIndex: self.configuration.shardIndex,
            shardCount: self.configuration.shardCount,
            logger: self.logger,
            transitionMetrics: self.configuration.metricsEndpoint == nil ? nil : TransitionMetrics()
        )
        let restored = core.restore()
        let webhooks = try WebhookLedger(directory: self.configuration.dataDirectory)
        self.logger.info(
            "segment evaluator opened",
            metadata: [
                "data-dir": "\(self.configuration.dataDirectory)",
                "shard": "\(self.configuration.shardIndex)/\(self.configuration.shardCount)",
                "recorded-transitions": "\(log.headSeq)",
                "checkpoint": "\(log.checkpointSeq)",
                "restored-state-at": "\(restored ? log.stateSeq : 0)",
            ]
        )
        var router = EvaluatorRouter(core: core, webhooks: webhooks, configuration: self.configuration).router
        WebhookRoutes.register(in: &router, ledger: webhooks, core: core, configuration: self.configuration)
        let server = RPCServer(
            configuration: self.configuration.server,
            router: self.configuration.metricsEndpoint == nil ? router : router.instrumented(),
            logger: self.logger,
            onListening: self.onReady
        )
        let applier = FeedApplier(
            core: core,
            webhooks: webhooks,
            configuration: self.configuration,
            logger: self.logger
        )
        let dispatcher = WebhookDispatcher(
            ledger: webhooks,
            transitions: core.transitions,
            configuration: self.configuration.webhooks,
            shardIndex: self.configuration.shardIndex,
            shardCount: self.configuration.shardCount,
            logger: self.logger
        )
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            group.addTask { await cancelWhenGracefulShutdown { await applier.run() } }
            group.addTask { await cancelWhenGracefulShutdown { await dispatcher.run() } }
            group.addTask {
                await cancelWhenGracefulShutdown { await Self.sampleStoreHead(into: core.lag, from: storeHead) }
            }
            if let endpoint = self.configuration.metricsEndpoint {
                let metrics = EvaluatorMetrics(core: core, webhooks: webhooks)
                let server = MetricsServer(endpoint: endpoint, logger: self.logger) { await metrics.collect() }
                group.addTask { try await server.run() }
            }
            // The first task to fail (e.g. the server, on a socket another instance owns) ends the others:
            // `waitForAll` would rethrow only once every task had ended, and the background tasks run until
            // cancelled, so a daemon that could not start never exited.
            defer { group.cancelAll() }
            while try await group.next() != nil {}
        }
        self.logger.info("segment evaluator stopped", metadata: ["applied-seq": "\(core.applied.headSeq)"])
    }

    /// Opens the data directory's transition log. A directory holding something this evaluator must not use — a
    /// damaged database, or one from a newer version — is moved aside (kept, renamed `…-unusable-TIME`) and a new
    /// one is started: the evaluator then rebuilds everything from the store's log instead of serving wrong answers
    /// or none.
    private func openTransitionLog() throws(SegmentEvaluatorError) -> TransitionLog {
        let directory = self.configuration.dataDirectory
        do {
            return try TransitionLog(directory: directory)
        } catch  where error.code == .unusableData {
            let aside = directory + "-unusable-" + RFC3339.format(WallClock.nowMs())
            self.logger.error(
                "the evaluator's data directory is unusable; moving it aside and rebuilding from the store",
                metadata: ["reason": "\(error.message)", "moved-to": "\(aside)"]
            )
            guard rename(directory, aside) == 0 else {
                throw SegmentEvaluatorError(
                    .startup,
                    "\(error.message); and it cannot be moved aside to \(aside): \(String(cString: strerror(errno)))"
                )
            }
            return try TransitionLog(directory: directory)
        }
    }

    /// Notes the head the store publishes every 100 ms, for the lag in time (see ``FeedLag``); a store that
    /// publishes none (another machine) is observed only through the feed's batches.
    private static func sampleStoreHead(into lag: FeedLag, from storeHead: PublishedStoreHead) async {
        while !Task.isCancelled {
            if let head = storeHead.published() {
                lag.observe(headSeq: head)
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }
}
