import Logging
import ProfileStore
import SegmentEvaluator
import SegmentsClient
import SegmentsRPC
import ServiceLifecycle

/// A profile store and one evaluator running inside the test process, on temporary sockets.
public struct InProcessDaemons: Sendable {
    /// The store's socket.
    public let storeSocketPath: String
    /// The evaluator's socket.
    public let evaluatorSocketPath: String
    /// A client connected to both.
    public let client: SegmentsClient

    /// Runs a store and an evaluator for the duration of `body`, then shuts both down.
    /// - Parameters:
    ///   - directory: where sockets and data go; reuse it to restart on the same data.
    ///   - manualClockMs: test-mode start instant; `nil` for real time.
    ///   - body: the test.
    public static func with<Result: Sendable>(
        directory: String,
        manualClockMs: Int64? = 1_793_491_200_000,
        webhooks: WebhookDeliveryConfiguration = WebhookDeliveryConfiguration(),
        _ body: @Sendable (InProcessDaemons) async throws -> Result
    ) async throws -> Result {
        try await InProcessProfileStore.with(directory: directory, manualClockMs: manualClockMs) { store in
            try await InProcessEvaluator.with(
                directory: directory,
                storeSocketPath: store.socketPath,
                webhooks: webhooks
            ) { evaluator in
                let daemons = InProcessDaemons(
                    storeSocketPath: store.socketPath,
                    evaluatorSocketPath: evaluator.socketPath,
                    client: SegmentsClient(
                        configuration: .init(
                            storeSocketPath: store.socketPath,
                            evaluatorSocketPaths: [evaluator.socketPath]
                        )
                    )
                )
                do {
                    let result = try await body(daemons)
                    await daemons.client.close()
                    return result
                } catch {
                    await daemons.client.close()
                    throw error
                }
            }
        }
    }
}

/// A segment evaluator running inside the test process.
public struct InProcessEvaluator: Sendable {
    /// Its socket.
    public let socketPath: String

    /// Runs an evaluator following `storeSocketPath` for the duration of `body`.
    public static func with<Result: Sendable>(
        directory: String,
        storeSocketPath: String,
        name: String = "evaluator",
        shardIndex: UInt32 = 0,
        shardCount: UInt32 = 1,
        webhooks: WebhookDeliveryConfiguration = WebhookDeliveryConfiguration(),
        _ body: @Sendable (InProcessEvaluator) async throws -> Result
    ) async throws -> Result {
        let socketPath = directory + "/\(name).sock"
        var logger = Logger(label: "test-evaluator")
        logger.logLevel = .warning
        var configuration = SegmentEvaluatorConfiguration(
            storeSocketPath: storeSocketPath,
            server: RPCServerConfiguration(socketPath: socketPath),
            dataDirectory: directory + "/\(name)-data",
            shardIndex: shardIndex,
            shardCount: shardCount,
            readYourWritesTimeout: .seconds(20),
            reconnectDelay: .milliseconds(50)
        )
        configuration.webhooks = webhooks
        let (ready, readyContinuation) = AsyncStream.makeStream(of: Void.self)
        let service = SegmentEvaluatorService(configuration: configuration, logger: logger) {
            readyContinuation.yield()
            readyContinuation.finish()
        }
        let group = ServiceGroup(services: [service], logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ready.makeAsyncIterator()
            guard await iterator.next() != nil else {
                try await tasks.next()
                throw CancellationError()
            }
            do {
                let result = try await body(InProcessEvaluator(socketPath: socketPath))
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
                return result
            } catch {
                await group.triggerGracefulShutdown()
                try? await tasks.waitForAll()
                throw error
            }
        }
    }
}
