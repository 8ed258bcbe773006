import Logging
import SegmentsRPC
import SegmentsWire

extension SegmentEvaluatorService {
    /// The evaluator's RPC router — the one ``run()`` serves — over a data directory fed with
    /// `entries` as if they came from the store's change log, without a store, a socket, a feed
    /// or webhook delivery: for in-process harnesses that call the handlers directly (the fuzz
    /// targets). The entries are applied and persisted (transitions recorded, state saved) before
    /// it returns.
    ///
    /// Reads without a `min_seq` ask the store's head from the file the store publishes beside
    /// its socket (`configuration.storeSocketPath`); a harness publishes it itself. `Preview`
    /// reads a snapshot from the store's socket, so without a store it answers UNAVAILABLE.
    /// - Parameters:
    ///   - configuration: the data directory, shard, store socket path and limits.
    ///   - entries: change-log entries in order, numbered from 1. A segment must be put before
    ///     the data it reads: a back-fill would need the store.
    ///   - logger: the evaluator's logger.
    /// - Returns: the router.
    /// - Throws: ``SegmentEvaluatorError`` when the directory cannot be opened or written, or an
    ///   entry needs a back-fill.
    package static func harnessRouter(
        configuration: SegmentEvaluatorConfiguration,
        entries: [Segments_V1_ChangeEntry],
        logger: Logger
    ) throws(SegmentEvaluatorError) -> RPCRouter {
        let log = try TransitionLog(directory: configuration.dataDirectory, logger: logger)
        let core = EvaluatorCore(
            log: log,
            shardIndex: configuration.shardIndex,
            shardCount: configuration.shardCount,
            logger: logger
        )
        core.restore()
        let webhooks = try WebhookLedger(directory: configuration.dataDirectory)
        for entry in entries {
            try webhooks.apply(entry)
            core.apply(entry)
            guard core.beginBackfill() == nil else {
                throw SegmentEvaluatorError(
                    .invalidArgument,
                    "entry \(entry.seq) needs a back-fill from the store; put segments before their data"
                )
            }
        }
        try core.persistWithState()
        var router = EvaluatorRouter(core: core, webhooks: webhooks, configuration: configuration).router
        WebhookRoutes.register(in: &router, ledger: webhooks, core: core, configuration: configuration)
        return router
    }
}
