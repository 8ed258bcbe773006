import SegmentsRPC
import SegmentsTesting
import SegmentsWire
import ServiceLifecycle
import SwiftProtobuf
import Testing

/// Idle timeouts and graceful shutdown of a real ``RPCServer``.
@Suite(.timeLimit(.minutes(1))) struct RPCServerLifecycleTests {
    private typealias Numbers = TestAPI.Numbers

    @Test func idleConnectionIsClosedAfterTheTimeout() async throws {
        let probe = Probe()
        try await TestServer.with(router: TestAPI.router(probe: probe), idleTimeout: .seconds(1)) { server in
            let socket = try RawSocket(path: server.socketPath, receiveTimeout: .seconds(6))
            let started = ContinuousClock.now
            let (ending, bytes) = await offThePool { socket.drainUntilEnd() }
            let elapsed = ContinuousClock.now - started
            #expect(ending == .closed)
            #expect(bytes == 0)
            #expect(elapsed >= .milliseconds(900), "closed after \(elapsed), before the timeout")
            #expect(elapsed < .seconds(5), "closed after \(elapsed)")

            // The client library sees the close too.
            let connection = try await server.connect()
            #expect(try await connection.call(TestAPI.inlineEcho, .init()) == .init())
            try await Self.waitUntilInactive(connection, within: .seconds(5))
            let error = await #expect(throws: RPCError.self) {
                _ = try await connection.call(TestAPI.inlineEcho, .init())
            }
            #expect(error?.code == .unavailable)
        }
    }

    /// A client that sends half a frame (a length prefix promising more) and stops is closed after the timeout.
    @Test func halfAFrameThenSilenceIsClosedAfterTheTimeout() async throws {
        let probe = Probe()
        try await TestServer.with(router: TestAPI.router(probe: probe), idleTimeout: .seconds(1)) { server in
            let socket = try RawSocket(path: server.socketPath, receiveTimeout: .seconds(6))
            #expect(socket.write([0, 0, 0, 40, 0x0A, 0x03]))
            let started = ContinuousClock.now
            let (ending, _) = await offThePool { socket.drainUntilEnd() }
            let elapsed = ContinuousClock.now - started
            #expect(ending == .closed)
            #expect(elapsed >= .milliseconds(900), "closed after \(elapsed), before the timeout")
            #expect(elapsed < .seconds(5), "closed after \(elapsed)")
        }
    }

    @Test func connectionWithACallInFlightIsNotIdle() async throws {
        let probe = Probe()
        try await TestServer.with(router: TestAPI.router(probe: probe), idleTimeout: .seconds(1)) { server in
            let connection = try await server.connect()
            do {
                // The client sends nothing while the stream runs for well over the timeout.
                let stream = connection.stream(TestAPI.infinite, .init())
                var iterator = stream.makeAsyncIterator()
                let deadline = ContinuousClock.now + .milliseconds(2_500)
                var received = 0
                while ContinuousClock.now < deadline {
                    _ = try #require(try await iterator.next())
                    received += 1
                }
                #expect(received > 20)
                #expect(connection.isActive)
            }
            try await probe.waitFor(.infiniteCancelled)
            // Once the stream is gone the connection is idle and closed.
            try await Self.waitUntilInactive(connection, within: .seconds(5))
        }
    }

    @Test func gracefulShutdownFinishesUnaryCallsAndEndsStreams() async throws {
        let probe = Probe()
        try await TestServer.with(router: TestAPI.router(probe: probe)) { server in
            defer { probe.gate.open() }
            let connection = try await server.connect()
            let idle = try await server.connect()
            try await withThrowingTaskGroup(of: Void.self) { group in
                // A unary call that is in flight when shutdown begins.
                group.addTask {
                    let response = try await connection.call(TestAPI.gated, .with { $0.seq = 42 })
                    #expect(response.seq == 42)
                }
                // A stream that would never end by itself.
                let stream = connection.stream(TestAPI.infinite, .init())
                var iterator = stream.makeAsyncIterator()
                #expect(try await iterator.next()?.seq == 0)
                try await probe.waitFor(.gatedStarted)

                await server.group.triggerGracefulShutdown()

                // The stream ends (cancelled by the server), and its handler was cancelled.
                let streamError = await #expect(throws: RPCError.self) {
                    while try await iterator.next() != nil {}
                }
                #expect(streamError?.code == .cancelled)
                try await probe.waitFor(.infiniteCancelled)
                // The server no longer accepts connections; a connection with nothing in flight is closed.
                try await Self.waitUntilRefusingConnections(server.socketPath, within: .seconds(5))
                try await Self.waitUntilInactive(idle, within: .seconds(5))
                // New calls on a draining connection are refused.
                let refused = await #expect(throws: RPCError.self) {
                    _ = try await connection.call(TestAPI.asyncEcho, .init())
                }
                #expect(refused?.code == .unavailable)
                #expect(connection.isActive, "the connection stays open for the unary call in flight")

                // The unary call in flight completes normally…
                probe.gate.open()
                try await group.waitForAll()
            }
            // …and then the draining connection is closed.
            try await Self.waitUntilInactive(connection, within: .seconds(5))
        }
    }

    @Test func serverRemovesItsSocketWhenItStops() async throws {
        let probe = Probe()
        let socketPath = try await TestServer.with(router: TestAPI.router(probe: probe)) { server in
            #expect(UnixSocketProbe.canConnect(to: server.socketPath))
            return server.socketPath
        }
        #expect(!UnixSocketProbe.canConnect(to: socketPath))
    }

    /// The listening socket is closed asynchronously once shutdown begins.
    private static func waitUntilRefusingConnections(_ socketPath: String, within limit: Duration) async throws {
        let deadline = ContinuousClock.now + limit
        while UnixSocketProbe.canConnect(to: socketPath) {
            guard ContinuousClock.now < deadline else { throw TestFailure("still accepting after \(limit)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    private static func waitUntilInactive(_ connection: RPCConnection, within limit: Duration) async throws {
        let deadline = ContinuousClock.now + limit
        while connection.isActive {
            guard ContinuousClock.now < deadline else { throw TestFailure("connection still open after \(limit)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
