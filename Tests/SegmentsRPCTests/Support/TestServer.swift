import Logging
import SegmentsRPC
import SegmentsTesting
import SegmentsWire
import ServiceLifecycle

/// A real ``RPCServer`` on a temporary Unix socket, run in a `ServiceGroup` for one test.
struct TestServer: Sendable {
    /// The socket the server listens on.
    let socketPath: String
    /// The group running the server; tests may trigger its graceful shutdown early.
    let group: ServiceGroup

    /// Connects a new client.
    func connect() async throws -> RPCConnection {
        try await RPCConnection.connect(to: self.socketPath)
    }

    /// Runs a server with `router` for the duration of `body`, then shuts it down gracefully and
    /// waits until it has stopped.
    static func with<Result: Sendable>(
        router: RPCRouter,
        idleTimeout: Duration = .seconds(300),
        maximumFrameLength: Int = 1 << 20,
        maximumCallsInFlight: Int = 4096,
        maximumConnections: Int = 1024,
        access: RPCAccessPolicy = RPCAccessPolicy(),
        _ body: @Sendable (TestServer) async throws -> Result
    ) async throws -> Result {
        try await TemporaryDirectory.with { directory in
            var configuration = RPCServerConfiguration(
                socketPath: directory + "/rpc.sock",
                maximumFrameLength: maximumFrameLength,
                idleTimeout: idleTimeout,
                maximumCallsInFlight: maximumCallsInFlight
            )
            configuration.maximumConnections = maximumConnections
            configuration.access = RPCAccessControl(access)
            var logger = Logger(label: "rpc-test-server")
            logger.logLevel = .warning
            let (listening, listeningContinuation) = AsyncStream.makeStream(of: Void.self)
            let server = RPCServer(configuration: configuration, router: router, logger: logger) {
                listeningContinuation.yield()
            }
            let group = ServiceGroup(services: [server], logger: logger)
            return try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask {
                    defer { listeningContinuation.finish() }
                    try await group.run()
                }
                var iterator = listening.makeAsyncIterator()
                guard await iterator.next() != nil else {
                    try await tasks.next()  // surfaces the server's error
                    throw TestFailure("server stopped before listening")
                }
                let running = TestServer(socketPath: configuration.socketPath, group: group)
                do {
                    let result = try await body(running)
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
}

/// A test precondition that did not hold.
struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs `body`, failing with ``TestFailure`` if it takes longer than `limit`.
func withTimeout<Result: Sendable>(
    _ limit: Duration,
    _ what: String = "operation",
    _ body: @escaping @Sendable () async throws -> Result
) async throws -> Result {
    try await withThrowingTaskGroup(of: Result?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let result = first else {
            throw TestFailure("\(what) did not finish within \(limit)")
        }
        return result
    }
}
