import Logging
import ProfileStore
import SegmentsClient
import SegmentsRPC
import ServiceLifecycle

/// A profile store running inside the test process on a temporary socket and directory.
public struct InProcessProfileStore: Sendable {
    /// The store's socket.
    public let socketPath: String
    /// Its data directory.
    public let dataDirectory: String
    /// A client connected to it.
    public let client: SegmentsClient

    /// Runs a store for the duration of `body`, then shuts it down gracefully.
    /// - Parameters:
    ///   - directory: where the socket and data go (e.g. from ``TemporaryDirectory``); reuse it to
    ///     restart a store on the same data.
    ///   - manualClockMs: start in test mode at this instant; `nil` for real time.
    ///   - durability: commit durability; tests default to `.normal` to spare fsyncs.
    ///   - maximumFrameLength: the frame size limit.
    ///   - feedSubscriberExpiry: how long an unseen feed subscriber stays registered.
    ///   - access: who may do what; default: this process is admin.
    ///   - body: the test.
    ///
    /// The store keeps its data on ``TestStoreBackend/current``: SQLite under `directory`, or a
    /// PostgreSQL database of its own for `directory`.
    public static func with<Result: Sendable>(
        directory: String,
        manualClockMs: Int64? = 1_793_491_200_000,
        durability: ProfileStoreConfiguration.Durability = .normal,
        maximumFrameLength: Int = 16 * 1024 * 1024,
        idleTimeout: Duration = .seconds(300),
        userIndexFlushEntries: Int = 400_000,
        feedSubscriberExpiry: Duration = .seconds(86_400),
        access: RPCAccessPolicy = RPCAccessPolicy(),
        _ body: @Sendable (InProcessProfileStore) async throws -> Result
    ) async throws -> Result {
        let socketPath = directory + "/store.sock"
        let dataDirectory = directory + "/store-data"
        var logger = Logger(label: "test-profile-store")
        logger.logLevel = .warning
        var configuration = ProfileStoreConfiguration(
            server: RPCServerConfiguration(
                socketPath: socketPath,
                maximumFrameLength: maximumFrameLength,
                idleTimeout: idleTimeout
            ),
            dataDirectory: dataDirectory,
            clock: manualClockMs.map { .manual(startMs: $0) } ?? .wall,
            durability: durability,
            userIndexFlushEntries: userIndexFlushEntries
        )
        configuration.feedSubscriberExpiry = feedSubscriberExpiry
        configuration.postgres = try TestStoreBackend.current.postgresURL(forDirectory: directory)
        configuration.server.access = RPCAccessControl(access)
        let (ready, readyContinuation) = AsyncStream.makeStream(of: Void.self)
        let service = ProfileStoreService(configuration: configuration, logger: logger) {
            readyContinuation.yield()
            readyContinuation.finish()
        }
        let group = ServiceGroup(services: [service], logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                // A store that fails to start never calls back: end the wait for it.
                defer { readyContinuation.finish() }
                try await group.run()
            }
            var iterator = ready.makeAsyncIterator()
            guard await iterator.next() != nil else {
                // The service ended before it was ready: surface its error.
                try await tasks.next()
                throw CancellationError()
            }
            let store = InProcessProfileStore(
                socketPath: socketPath,
                dataDirectory: dataDirectory,
                client: SegmentsClient(configuration: .init(storeSocketPath: socketPath))
            )
            do {
                let result = try await body(store)
                await store.client.close()
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
                return result
            } catch {
                await store.client.close()
                await group.triggerGracefulShutdown()
                try? await tasks.waitForAll()
                throw error
            }
        }
    }
}
