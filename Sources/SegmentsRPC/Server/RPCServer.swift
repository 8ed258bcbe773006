import Logging
import NIOCore
import NIOPosix
import NIOSSL
import SegmentsWire
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Serves an ``RPCRouter`` on a Unix domain socket, and optionally a TCP listener with mutual TLS, until graceful
/// shutdown.
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
        /// Connections accepted but not yet admitted or refused (nothing is read from them meanwhile): closed when
        /// the server stops, or a client would wait on one for an answer that never comes.
        var unadmitted: [ObjectIdentifier: any Channel] = [:]
        /// Set once the server has stopped: a connection whose set-up runs after that is closed at once.
        var isStopped = false
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
    /// - Throws: ``RPCServerError`` when the socket cannot be owned or bound, or the TLS listener cannot be set up.
    public func run() async throws {
        let ownership = try UnixSocketOwnership(socketPath: self.configuration.socketPath)
        let unixChannel: NIOAsyncChannel<RPCServerConnection, Never>
        do {
            // Bound under a name of its own, given its mode, then renamed into place: at its path the socket has its
            // mode from the first connection on (bound in place, it briefly had the umask's, refusing other users).
            let staging = self.configuration.socketPath + ".~"
            unlink(staging)
            unixChannel = try await self.bindUnixSocket(at: staging)
            guard chmod(staging, mode_t(self.configuration.socketMode)) == 0,
                rename(staging, self.configuration.socketPath) == 0
            else {
                let reason = String(cString: strerror(errno))
                try? await unixChannel.channel.close()
                unlink(staging)
                throw RPCServerError(.socketUnavailable, "cannot put the socket in place: \(reason)")
            }
        } catch let error as RPCServerError {
            throw error
        } catch {
            throw RPCServerError(
                .socketUnavailable,
                "cannot listen on \(self.configuration.socketPath): \(error)"
            )
        }
        let tlsChannel: NIOAsyncChannel<EventLoopFuture<RPCServerConnection>, Never>?
        do {
            tlsChannel = try await self.bindTLSIfConfigured()
        } catch {
            try? await unixChannel.channel.close()
            throw error
        }
        defer {
            let unadmitted = self.connections.withLock { registry in
                registry.isStopped = true
                defer { registry.unadmitted.removeAll() }
                return Array(registry.unadmitted.values)
            }
            for channel in unadmitted {
                channel.close(promise: nil)
            }
        }
        try ownership.setMode(self.configuration.socketMode)
        self.logger.debug("listening", metadata: ["socket": "\(self.configuration.socketPath)"])
        if let listener = self.configuration.tlsListener, let address = tlsChannel?.channel.localAddress {
            self.logger.info("listening with TLS", metadata: ["address": "\(address)", "host": "\(listener.host)"])
        }
        self.onListening()

        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { try await self.accept(from: unixChannel) { $0 } }
                if let tlsChannel {
                    // A TLS connection is served once its handshake has verified the client's certificate.
                    group.addTask { try await self.accept(from: tlsChannel) { try? await $0.get() } }
                }
            }
        } onGracefulShutdown: {
            unixChannel.channel.close(promise: nil)
            tlsChannel?.channel.close(promise: nil)
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

    /// Serves each connection accepted on `serverChannel` in a task of its own, until the channel closes.
    /// - Parameters:
    ///   - serverChannel: the listening channel.
    ///   - ready: the connection an accepted element becomes, `nil` when it never does.
    private func accept<Accepted: Sendable>(
        from serverChannel: NIOAsyncChannel<Accepted, Never>,
        ready: @escaping @Sendable (Accepted) async -> RPCServerConnection?
    ) async throws {
        try await serverChannel.executeThenClose { inbound in
            try await withThrowingDiscardingTaskGroup { group in
                for try await accepted in inbound {
                    group.addTask {
                        guard let connection = await ready(accepted) else { return }
                        await self.serve(connection)
                    }
                }
            }
        }
    }

    private func bindUnixSocket(at path: String) async throws -> NIOAsyncChannel<RPCServerConnection, Never> {
        try await ServerBootstrap(group: self.eventLoopGroup)
            .serverChannelOption(.backlog, value: 256)
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: false) { channel in
                Self.peer(of: channel).flatMapThrowing { peer in
                    try self.startServing(channel, peer: peer)
                }
            }
    }

    private func bindTLSIfConfigured() async throws -> NIOAsyncChannel<EventLoopFuture<RPCServerConnection>, Never>? {
        guard let listener = self.configuration.tlsListener else { return nil }
        return try await self.bindTLS(listener)
    }

    /// Binds the TLS listener. Each accepted connection comes with the future of its serving, which succeeds once
    /// its handshake has verified the client's certificate (the handshake runs once the channel is registered, after
    /// this initializer); a failed handshake is logged with the client's address and the connection closed.
    private func bindTLS(
        _ listener: RPCTLSListener
    ) async throws -> NIOAsyncChannel<EventLoopFuture<RPCServerConnection>, Never> {
        let context: NIOSSLContext
        do {
            context = try listener.files.serverContext()
        } catch {
            throw RPCServerError(.tlsUnavailable, "cannot set up the TLS listener: \(error.message)")
        }
        let logger = self.logger
        let timeout = TimeAmount(listener.handshakeTimeout)
        do {
            return try await ServerBootstrap(group: self.eventLoopGroup)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .bind(host: listener.host, port: listener.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let address = Self.describe(channel.remoteAddress)
                        let handshake = channel.eventLoop.makePromise(of: NIOSSLCertificate?.self)
                        try channel.pipeline.syncOperations.addHandlers([
                            NIOSSLServerHandler(context: context),
                            TLSHandshakeWaiter(promise: handshake, timeout: timeout),
                        ])
                        return handshake.futureResult.flatMapErrorThrowing { error in
                            logger.warning(
                                "TLS handshake failed; connection closed",
                                metadata: ["address": "\(address)", "error": "\(error)"]
                            )
                            throw error
                        }.flatMapThrowing { certificate in
                            let commonName = certificate?.subjectName.first { $0.type == .commonName }?.value ?? ""
                            let peer = RPCPeer(certificateCommonName: commonName, address: address)
                            do {
                                return try self.startServing(channel, peer: peer)
                            } catch {
                                channel.close(promise: nil)
                                throw error
                            }
                        }
                    }
                }
        } catch {
            throw RPCServerError(
                .tlsUnavailable,
                "cannot listen with TLS on \(listener.host):\(listener.port): \(error)"
            )
        }
    }

    /// Decides what `peer` may do and adds the frame handlers to `channel`.
    private func startServing(_ channel: any Channel, peer: RPCPeer?) throws -> RPCServerConnection {
        let configuration = self.configuration
        let (seconds, attoseconds) = configuration.idleTimeout.components
        let idle = TimeAmount.nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        let grant = configuration.access.policy.grant(for: peer)
        let (calls, continuation) = AsyncStream.makeStream(of: RPCServerHandler.AsyncCall.self)
        let handler = RPCServerHandler(
            router: self.router,
            peer: peer,
            role: grant ?? .reader,
            calls: continuation,
            maximumCallsInFlight: configuration.maximumCallsInFlight,
            logger: self.logger
        )
        try channel.pipeline.syncOperations.addHandlers([
            IdleStateHandler(readTimeout: idle),
            ByteToMessageHandler(FrameDecoder(maximumFrameLength: configuration.maximumFrameLength)),
            handler,
        ])
        // Nothing is read until `serve` has admitted or refused the connection: a call sent at once must not be
        // served on a connection about to be refused (no access, too many connections).
        try channel.syncOptions?.setOption(ChannelOptions.autoRead, value: false)
        let key = ObjectIdentifier(channel)
        let stopped = self.connections.withLock { registry -> Bool in
            guard !registry.isStopped else { return true }
            registry.unadmitted[key] = channel
            return false
        }
        if stopped {
            // Accepted as the server stopped: no one will serve it.
            channel.close(promise: nil)
        }
        channel.closeFuture.whenComplete { _ in
            _ = self.connections.withLock { $0.unadmitted.removeValue(forKey: key) }
        }
        let loopBound = NIOLoopBound(handler, eventLoop: channel.eventLoop)
        let eventLoop = channel.eventLoop
        let startReading: @Sendable () -> Void = {
            channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
        }
        return RPCServerConnection(
            channel: channel,
            peer: peer,
            grant: grant,
            calls: calls,
            admit: startReading,
            drain: { eventLoop.execute { loopBound.value.drain() } },
            refuse: { error in
                eventLoop.execute {
                    loopBound.value.refuseConnection(error)
                    // Read again, only to notice the client closing (a refused connection ignores what it sends).
                    startReading()
                }
            }
        )
    }

    /// `10.0.0.2:50312`, `[fd00::2]:50312`.
    private static func describe(_ address: SocketAddress?) -> String {
        guard let address, let ip = address.ipAddress, let port = address.port else {
            return address.map { "\($0)" } ?? "an unknown address"
        }
        return ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
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
            registry.unadmitted.removeValue(forKey: ObjectIdentifier(connection.channel))
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
            connection.admit()
        case .shuttingDown:
            connection.drain()
            return
        case .denied:
            let caller = connection.peer.map { "\($0)" } ?? "a peer without credentials"
            self.logger.warning("connection refused: no access", metadata: connection.peer?.logMetadata ?? [:])
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
        // The server was cancelled (not shut down gracefully, which drains): close the connection, or a client
        // would wait on it for answers no one gives any more.
        if Task.isCancelled {
            connection.channel.close(promise: nil)
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
    /// Starts reading the connection's requests, once it is admitted.
    let admit: @Sendable () -> Void
    let drain: @Sendable () -> Void
    /// Tells the client why it is not served, and closes.
    let refuse: @Sendable (RPCError) -> Void
}
