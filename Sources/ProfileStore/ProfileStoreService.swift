import DaemonSupport
import Logging
import SegmentsMetrics
import SegmentsPostgres
import SegmentsRPC
import SegmentsSQL
import SegmentsWire
import ServiceLifecycle

/// The profile store as a long-running service: opens the database, serves the
/// `segments.v1.ProfileStore` API on its socket, and on graceful shutdown finishes the writes in
/// flight before closing.
public final class ProfileStoreService: Service {
    /// The store's software version, reported by `GetInfo`.
    public static let version = "0.1.0"

    private let configuration: ProfileStoreConfiguration
    private let logger: Logger
    private let onReady: @Sendable () -> Void

    /// Creates the service; nothing is opened until ``run()``.
    /// - Parameters:
    ///   - configuration: socket, data directory, clock and durability.
    ///   - logger: the store's logger.
    ///   - onReady: called once the database is open and the socket accepts connections.
    public init(
        configuration: ProfileStoreConfiguration,
        logger: Logger,
        onReady: @escaping @Sendable () -> Void = {}
    ) {
        self.configuration = configuration
        self.logger = logger
        self.onReady = onReady
    }

    /// Opens the store and serves until graceful shutdown.
    /// - Throws: ``ProfileStoreError`` when the database cannot be opened, `RPCServerError` when
    ///   the socket cannot be owned.
    public func run() async throws {
        ProcessVitals.markStart()
        var postgresWriter: PostgresSQLConnection?
        if let url = self.configuration.postgres {
            let address: PostgresAddress
            do {
                address = try PostgresAddress(url: url)
            } catch {
                throw ProfileStoreError(.startup, error.message, underlying: error)
            }
            let election = WriterElection(
                address: address,
                advertisedAddress: self.configuration.advertisedAddress,
                interval: self.configuration.takeoverInterval,
                queryTimeout: self.configuration.postgresQueryTimeout,
                logger: self.logger
            )
            do {
                postgresWriter = try await election.becomeWriter(server: self.configuration.server)
            } catch is CancellationError {
                self.logger.info("profile store stopped while standing by")
                return
            }
        }
        let database = try StoreDatabase(
            configuration: self.configuration,
            postgresWriter: postgresWriter,
            logger: self.logger
        )
        self.logger.info(
            "profile store opened",
            metadata: [
                "database": "\(database.location)",
                "head-seq": "\(database.notifier.headSeq)",
                "clock": "\(database.clock.isManual ? "manual" : "wall")",
            ]
        )
        let (logger, onReady) = (self.logger, self.onReady)
        let headFile = DefaultSocketPaths.headFile(ofStoreSocket: self.configuration.server.socketPath)
        let server = RPCServer(
            configuration: self.configuration.server,
            router: self.configuration.metricsEndpoint == nil
                ? Self.router(database) : Self.router(database).instrumented(),
            logger: self.logger,
            onListening: {
                // Only once the socket is ours: a second instance must not publish a head.
                do {
                    database.notifier.mirror(to: try SharedSequence.publisher(path: headFile))
                } catch {
                    logger.error(
                        "cannot publish the change-log head; evaluator reads without min_seq will not wait for writes",
                        metadata: ["error": "\(error)"]
                    )
                }
                onReady()
            }
        )
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await server.run() }
                group.addTask { await cancelWhenGracefulShutdown { await database.loadEventIDFilter() } }
                group.addTask { await cancelWhenGracefulShutdown { await self.releaseExpiredHolds(database) } }
                // The writer's database connection lost (PostgreSQL): the store stops, with the reason.
                group.addTask {
                    try await cancelWhenGracefulShutdown {
                        for await failure in database.failures {
                            throw failure
                        }
                    }
                }
                if self.configuration.postgres != nil {
                    group.addTask { await cancelWhenGracefulShutdown { await Self.checkConnection(database) } }
                }
                if let endpoint = self.configuration.metricsEndpoint {
                    let metrics = StoreMetrics(database: database)
                    let server = MetricsServer(endpoint: endpoint, logger: self.logger) { await metrics.collect() }
                    group.addTask { try await server.run() }
                }
                // The first task to fail (e.g. the server, on a socket another instance owns) ends the others:
                // `waitForAll` would rethrow only once every task had ended, and the background tasks run until
                // cancelled, so a daemon that could not start never exited.
                defer { group.cancelAll() }
                while try await group.next() != nil {}
            }
        } catch {
            await database.close()
            throw error
        }
        await database.close()
        self.logger.info("profile store stopped", metadata: ["head-seq": "\(database.notifier.headSeq)"])
    }

    /// Until cancelled, forgets feed subscribers gone for longer than their expiry and releases
    /// the deleted users' data they held, every tenth of the expiry (at most every minute).
    private func releaseExpiredHolds(_ database: StoreDatabase) async {
        let interval = min(self.configuration.feedSubscriberExpiry / 10, .seconds(60))
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: interval)
                try await database.releaseExpiredHolds()
            } catch is CancellationError {
                return
            } catch {
                self.logger.warning("cannot release held change-log entries", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Until cancelled, runs an empty write every second, so that a writer whose PostgreSQL connection
    /// is gone finds out (and stops) while no one writes, not only at the next write.
    private static func checkConnection(_ database: StoreDatabase) async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: .seconds(1))
                try await database.writer.write { transaction in
                    try transaction.connection.execute("SELECT 1")
                }
            } catch {
                // A lost connection is reported through `database.failures`.
            }
        }
    }

    static func router(_ database: StoreDatabase) -> RPCRouter {
        var router = RPCRouter()
        router.register(ProfileStoreAPI.upsertProfiles) { request, _ in
            try await Self.mapped { try await database.upsertProfiles(request) }
        }
        router.register(ProfileStoreAPI.getProfile) { request, _ in
            try await Self.mapped { try await database.getProfile(request.userID) }
        }
        router.register(ProfileStoreAPI.listUserEvents) { request, _ in
            try await Self.mapped { try await database.recentEvents(request) }
        }
        router.register(ProfileStoreAPI.deleteProfile) { request, _ in
            try await Self.mapped { try await database.deleteProfile(request.userID) }
        }
        // Raw: the log entry is spliced from the request's own event bytes (see EventBatch).
        router.registerSerialized(ProfileStoreAPI.trackEvents) { payload, _ in
            try await Self.mapped { try await database.trackEvents(serializedRequest: payload) }
        }
        router.register(ProfileStoreAPI.putSegment) { request, _ in
            try await Self.mapped { try await database.putSegment(request) }
        }
        router.register(ProfileStoreAPI.getSegment) { request, _ in
            try await Self.mapped { try await database.getSegment(request.name) }
        }
        router.register(ProfileStoreAPI.listSegments) { _, _ in
            try await Self.mapped {
                var response = Segments_V1_ListSegmentsResponse()
                response.segments = try await database.listSegments()
                return response
            }
        }
        router.register(ProfileStoreAPI.deleteSegment) { request, _ in
            try await Self.mapped { try await database.deleteSegment(request.name) }
        }
        router.register(ProfileStoreAPI.putTrait) { request, _ in
            try await Self.mapped { try await database.putTrait(request) }
        }
        router.register(ProfileStoreAPI.getTrait) { request, _ in
            try await Self.mapped { try await database.getTrait(request.name) }
        }
        router.register(ProfileStoreAPI.listTraits) { _, _ in
            try await Self.mapped {
                var response = Segments_V1_ListTraitsResponse()
                response.traits = try await database.listTraits()
                return response
            }
        }
        router.register(ProfileStoreAPI.deleteTrait) { request, _ in
            try await Self.mapped { try await database.deleteTrait(request.name) }
        }
        router.register(ProfileStoreAPI.getTraitValues) { request, _ in
            try await Self.mapped { try await database.traitValues(ofUser: request.userID) }
        }
        router.register(ProfileStoreAPI.createList) { request, _ in
            try await Self.mapped { try await database.createList(request.name) }
        }
        router.register(ProfileStoreAPI.changeListMembers) { request, _ in
            try await Self.mapped { try await database.changeListMembers(request) }
        }
        router.register(ProfileStoreAPI.listMembers) { request, writer, _ in
            try await Self.mapped { try await database.listMembers(request, writer: writer) }
        }
        router.register(ProfileStoreAPI.listLists) { _, _ in
            try await Self.mapped { try await database.listLists() }
        }
        router.register(ProfileStoreAPI.deleteList) { request, _ in
            try await Self.mapped { try await database.deleteList(request.name) }
        }
        router.register(ProfileStoreAPI.setClock) { request, _ in
            try await Self.mapped { try await database.setClock(request) }
        }
        router.register(ProfileStoreAPI.getInfo) { _, _ in
            try await Self.mapped { try await database.info(version: Self.version) }
        }
        router.register(ProfileStoreAPI.subscribe) { request, writer, context in
            // Following the log is a read; registering a durable subscriber makes the store keep deleted users' data
            // replayable for it, which only a writer may ask for.
            if !request.subscriberID.isEmpty, context.role < .writer {
                context.logger.warning(
                    "call refused: role too low to register a feed subscriber",
                    metadata: (context.peer?.logMetadata ?? [:]).merging(["role": "\(context.role)"]) { _, new in new }
                )
                throw RPCError(
                    .permissionDenied,
                    "Subscribe with a subscriber_id ('\(request.subscriberID)') needs the writer role: the store keeps "
                        + "deleted users' data replayable for a registered subscriber; this caller has the "
                        + "\(context.role) role (subscribe without a subscriber_id to follow the log)"
                )
            }
            return try await Self.mapped { try await database.subscribe(request, writer: writer) }
        }
        router.register(ProfileStoreAPI.acknowledgeFeed) { request, _ in
            try await Self.mapped { try await database.acknowledgeFeed(request) }
        }
        router.register(ProfileStoreAPI.readSnapshot) { request, writer, _ in
            try await Self.mapped { try await database.snapshot(request, writer: writer) }
        }
        Self.registerWebhookMethods(in: &router, database)
        return router
    }

    /// Runs `body`, turning store errors into the status clients receive.
    static func mapped<Result>(_ body: () async throws -> Result) async throws -> Result {
        do {
            return try await body()
        } catch let error as ProfileStoreError {
            throw error.rpcError
        }
    }
}
