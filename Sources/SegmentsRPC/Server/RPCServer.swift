import Logging
import NIOCore
import NIOPosix
import SegmentsWire
import ServiceLifecycle
import Synchronization

/// Serves an ``RPCRouter`` on a Unix domain socket until graceful shutdown.
///
/// On start it takes ownership of the socket path (refusing when a live instance has it and
/// replacing a stale socket file), binds, sets the socket's mode and calls `onListening`. Each
/// connection is served by a task of its own; a misbehaving connection is closed without
/// disturbing the others. On graceful shutdown it stops accepting, cancels streams, lets unary
/// calls in flight finish, then returns.
public final class RPCServer: Service {
    private let configuration: RPCServerConfiguration
    private let router: RPCRouter
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private let onListening: @Sendable () -> Void
    private let connections = Mutex(ConnectionRegistry())

    private struct ConnectionRegistry {
        var nextID = 0
        var drains: [Int: @Sendable () -> Void] = [:]
        var isShuttingDown = false
    }

    /// Creates a server.
    /// - Parameters:
    ///   - configuration: where to listen and the limits.
    ///   - router: the methods served.
    ///   - eventLoopGroup: the event loops for the sockets.
    ///   - logger: for connection-level events (debug and trace only).
    ///   - onListening: called once the socket accepts connections.
    public init(
        configuration: RPCServerConfiguration,
        router: RPCRouter,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger,
        onListening: @escaping @Sendable () -> Void = {}
    ) {
        self.configuration = configuration
        self.router = router
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        self.onListening = onListening
    }

    /// Listens and serves until graceful shutdown or cancellation.
    /// - Throws: ``RPCServerError`` when the socket cannot be owned or bound.
    public func run() async throws {
        let ownership = try UnixSocketOwnership(socketPath: self.configuration.socketPath)
        let serverChannel: NIOAsyncChannel<RPCServerConnection, Never>
        do {
            serverChannel = try await self.bind()
        } catch {
            throw RPCServerError(
                .socketUnavailable,
                "cannot listen on \(self.configuration.socketPath): \(error)"
            )
        }
        try ownership.setMode(self.configuration.socketMode)
        self.logger.debug("listening", metadata: ["socket": "\(self.configuration.socketPath)"])
        self.onListening()

        try await withGracefulShutdownHandler {
            try await serverChannel.executeThenClose { inbound in
                try await withThrowingDiscardingTaskGroup { group in
                    for try await connection in inbound {
                        group.addTask {
                            await self.serve(connection)
                        }
                    }
                }
            }
        } onGracefulShutdown: {
            serverChannel.channel.close(promise: nil)
            let drains = self.connections.withLock { registry in
                registry.isShuttingDown = true
                return Array(registry.drains.values)
            }
            for drain in drains {
                drain()
            }
        }
        _ = consume ownership
    }

    private func bind() async throws -> NIOAsyncChannel<RPCServerConnection, Never> {
        let configuration = self.configuration
        let router = self.router
        let logger = self.logger
        let (seconds, attoseconds) = configuration.idleTimeout.components
        let idle = TimeAmount.nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        return try await ServerBootstrap(group: self.eventLoopGroup)
            .serverChannelOption(.backlog, value: 256)
            .bind(unixDomainSocketPath: configuration.socketPath, cleanupExistingSocketFile: false) { channel in
                Self.peer(of: channel).flatMapThrowing { peer in
                    let grant = configuration.access.policy.grant(for: peer)
                    let (calls, continuation) = AsyncStream.makeStream(of: RPCServerHandler.AsyncCall.self)
                    let handler = RPCServerHandler(
                        router: router,
                        peer: peer,
                        role: grant ?? .reader,
                        calls: continuation,
                        maximumCallsInFlight: configuration.maximumCallsInFlight,
                        logger: logger
                    )
                    try channel.pipeline.syncOperations.addHandlers([
                        IdleStateHandler(readTimeout: idle),
                        ByteToMessageHandler(FrameDecoder(maximumFrameLength: configuration.maximumFrameLength)),
                        handler,
                    ])
                    let loopBound = NIOLoopBound(handler, eventLoop: channel.eventLoop)
                    let eventLoop = channel.eventLoop
                    return RPCServerConnection(
                        channel: channel,
                        peer: peer,
                        grant: grant,
                        calls: calls,
                        drain: { eventLoop.execute { loopBound.value.drain() } },
                        refuse: { error in eventLoop.execute { loopBound.value.refuseConnection(error) } }
                    )
                }
            }
    }

    /// The credentials of the process at the other end of `channel` (`SO_PEERCRED`), `nil` when not available.
    private static func peer(of channel: any Channel) -> EventLoopFuture<RPCPeer?> {
        guard let provider = channel as? any SocketOptionProvider else {
            return channel.eventLoop.makeSucceededFuture(nil)
        }
        let credentials: EventLoopFuture<PeerCredentials> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET),
            name: SocketOptionName(SO_PEERCRED)
        )
        return credentials.map { Optional(RPCPeer(pid: $0.pid, uid: $0.uid, gid: $0.gid)) }
            .recover { _ in nil }
    }

    private func serve(_ connection: RPCServerConnection) async {
        enum Admission {
            case admitted(Int)
            case shuttingDown, denied, full
        }
        let limit = self.configuration.maximumConnections
        let admission = self.connections.withLock { registry -> Admission in
            guard !registry.isShuttingDown else { return .shuttingDown }
            guard connection.grant != nil else { return .denied }
            guard registry.drains.count < limit else { return .full }
            defer { registry.nextID += 1 }
            registry.drains[registry.nextID] = connection.drain
            return .admitted(registry.nextID)
        }
        let id: Int
        switch admission {
        case .admitted(let admitted):
            id = admitted
        case .shuttingDown:
            connection.drain()
            return
        case .denied:
            let caller = connection.peer.map { "\($0)" } ?? "a peer without credentials"
            self.logger.warning(
                "connection refused: no access",
                metadata: ["uid": "\(connection.peer.map { "\($0.uid)" } ?? "?")", "peer": "\(caller)"]
            )
            connection.refuse(
                RPCError(.permissionDenied, "\(caller) has no access to this socket; the access file grants it none")
            )
            return
        case .full:
            self.logger.warning("connection refused: too many connections", metadata: ["limit": "\(limit)"])
            connection.refuse(
                RPCError(
                    .resourceExhausted,
                    "the server has \(limit) connections open, its limit (--max-connections); try again later"
                )
            )
            return
        }
        defer { _ = self.connections.withLock { $0.drains.removeValue(forKey: id) } }
        await withDiscardingTaskGroup { group in
            for await call in connection.calls {
                group.addTask {
                    await call.run()
                }
            }
            group.cancelAll()
        }
    }
}

/// Linux's `struct ucred` (which Glibc's module map hides behind `_GNU_SOURCE`): three 32-bit fields in this order.
private struct PeerCredentials: Sendable {
    var pid: Int32
    var uid: UInt32
    var gid: UInt32
}

/// One accepted connection: its channel, the async calls it asks for, and how to drain it.
struct RPCServerConnection: Sendable {
    let channel: any Channel
    /// Who connected, when the kernel said.
    let peer: RPCPeer?
    /// What they may do; `nil`: nothing.
    let grant: RPCAccessPolicy.Grant
    let calls: AsyncStream<RPCServerHandler.AsyncCall>
    let drain: @Sendable () -> Void
    /// Tells the client why it is not served, and closes.
    let refuse: @Sendable (RPCError) -> Void
}
