import NIOCore
import NIOPosix
import NIOSSL
import SegmentsWire
import SwiftProtobuf
import Synchronization

/// A client connection to a Segments daemon's Unix socket or TLS listener, carrying any number of concurrent
/// calls.
///
/// ```swift
/// let connection = try await RPCConnection.connect(to: "/run/segments/store.sock")
/// let info = try await connection.call(ProfileStoreAPI.getInfo, .init())
/// for try await batch in connection.stream(ProfileStoreAPI.subscribe, .with { $0.fromSeq = 1 }) { … }
/// await connection.close()
/// ```
public final class RPCConnection: Sendable {
    private let channel: any Channel
    private let handler: NIOLoopBound<RPCClientHandler>
    /// Why the connection closed, once it has (shared with the handler).
    private let closeReason: ConnectionCloseReason
    private let nextCallID = Atomic<UInt64>(1)

    private init(channel: any Channel, handler: NIOLoopBound<RPCClientHandler>, closeReason: ConnectionCloseReason) {
        self.channel = channel
        self.handler = handler
        self.closeReason = closeReason
    }

    /// Connects to a daemon: its Unix socket, or its TLS listener (`tls://HOST:PORT`, see ``RPCAddress``).
    /// - Parameters:
    ///   - address: the daemon's socket path, or `tls://HOST:PORT`.
    ///   - tls: the client's certificate, key and the CA that signs the daemon's certificate; needed for a `tls://`
    ///     address, ignored for a socket.
    ///   - maximumFrameLength: the largest response frame accepted.
    ///   - connectTimeout: how long the connect (and the TLS handshake) may take.
    ///   - eventLoopGroup: the event loops to use.
    /// - Throws: ``RPCError`` with code UNAVAILABLE when nothing listens there, not in time, or the TLS handshake
    ///   fails; INVALID_ARGUMENT for an address that cannot be parsed, or a `tls://` address without `tls` files
    ///   (or with files that cannot be used).
    public static func connect(
        to address: String,
        tls: RPCTLSFiles? = nil,
        maximumFrameLength: Int = FrameDecoder.defaultMaximumFrameLength,
        connectTimeout: Duration = .seconds(10),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> RPCConnection {
        let parsed = try RPCAddress(address)
        let sslContext = try Self.tlsContext(for: parsed, address: address, tls: tls)
        let handshakeTimeout = TimeAmount(connectTimeout)
        // Completed by the connection's handshake (or failed below when there is no connection to complete it).
        let handshake = sslContext.map { _ in eventLoopGroup.any().makePromise(of: NIOSSLCertificate?.self) }
        let added = AddedClientHandler()
        do {
            let bootstrap = ClientBootstrap(group: eventLoopGroup)
                .connectTimeout(TimeAmount(connectTimeout))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let sslContext, let handshake, case .tls(let host, _) = parsed {
                            // SNI carries host names only; an IP address is checked against the certificate's IP
                            // addresses by the connected address.
                            let isIP = (try? SocketAddress(ipAddress: host, port: 0)) != nil
                            try channel.pipeline.syncOperations.addHandler(
                                try NIOSSLClientHandler(context: sslContext, serverHostname: isIP ? nil : host)
                            )
                            try channel.pipeline.syncOperations.addHandler(
                                TLSHandshakeWaiter(promise: handshake, timeout: handshakeTimeout)
                            )
                        }
                        let client = RPCClientHandler()
                        try channel.pipeline.syncOperations.addHandlers([
                            ByteToMessageHandler(FrameDecoder(maximumFrameLength: maximumFrameLength)),
                            client,
                        ])
                        // Kept now: a TLS connection the server refuses may be gone (its pipeline emptied) by the
                        // time the handshake is awaited.
                        added.set(NIOLoopBound(client, eventLoop: channel.eventLoop), client.closeReason)
                    }
                }
            let channel: any Channel
            switch parsed {
            case .unix(let path):
                channel = try await bootstrap.connect(unixDomainSocketPath: path).get()
            case .tls(let host, let port):
                channel = try await bootstrap.connect(host: host, port: port).get()
                do {
                    _ = try await handshake?.futureResult.get()
                } catch {
                    try? await channel.close()
                    throw error
                }
            }
            guard let (handler, closeReason) = added.get() else { throw ChannelError.inappropriateOperationForState }
            return RPCConnection(channel: channel, handler: handler, closeReason: closeReason)
        } catch {
            handshake?.fail(error)
            throw RPCError(.unavailable, "cannot connect to \(address): \(error)")
        }
    }

    /// The client TLS context for a `tls://` address (`nil` for a socket).
    private static func tlsContext(
        for parsed: RPCAddress,
        address: String,
        tls: RPCTLSFiles?
    ) throws(RPCError) -> NIOSSLContext? {
        guard case .tls = parsed else { return nil }
        guard let tls else {
            throw RPCError(
                .invalidArgument,
                "\(address) is a TLS address: a client certificate, its key and the CA that signs the daemon's "
                    + "certificate are needed (segclient: --tls-cert, --tls-key, --tls-ca or SEGMENTS_TLS_CERT, "
                    + "SEGMENTS_TLS_KEY, SEGMENTS_TLS_CA)"
            )
        }
        return try tls.clientContext()
    }

    /// Makes a unary call.
    /// - Parameters:
    ///   - method: the method.
    ///   - request: its request.
    ///   - timeout: how long to wait for the response; `nil`: as long as it takes.
    /// - Returns: the response.
    /// - Throws: ``RPCError`` with the server's status, UNAVAILABLE when the connection is gone,
    ///   CANCELLED when the calling task is cancelled first, or DEADLINE_EXCEEDED when `timeout`
    ///   passes first (either way the call is then forgotten; the server is told, and its answer,
    ///   if any, is dropped).
    public func call<Request, Response>(
        _ method: UnaryMethod<Request, Response>,
        _ request: Request,
        timeout: Duration? = nil
    ) async throws(RPCError) -> Response {
        let payload: [UInt8]
        do {
            payload = try request.serializedBytes()
        } catch {
            throw RPCError(.invalidArgument, "request cannot be serialized: \(error)")
        }
        return try await self.call(method, serializedRequest: payload, timeout: timeout)
    }

    /// Makes a unary call whose request the caller serialized (e.g. by hand, for speed).
    /// - Parameters:
    ///   - method: the method.
    ///   - serializedRequest: the request, as a serialized `Request` message.
    ///   - timeout: how long to wait for the response; `nil`: as long as it takes.
    /// - Returns: the response.
    /// - Throws: as ``call(_:_:timeout:)``.
    public func call<Request, Response>(
        _ method: UnaryMethod<Request, Response>,
        serializedRequest payload: [UInt8],
        timeout: Duration? = nil
    ) async throws(RPCError) -> Response {
        let callID = self.nextCallID.wrappingAdd(1, ordering: .relaxed).oldValue
        let frame = self.requestFrame(callID: callID, method: method.name, payload: payload)
        let promise = self.channel.eventLoop.makePromise(of: ByteBuffer.self)
        let deadline = timeout.map { RPCClientHandler.Deadline(timeout: $0, method: method.name) }
        self.channel.writeAndFlush(
            RPCClientHandler.Command.unary(callID: callID, frame: frame, promise: promise, deadline: deadline)
        ).cascadeFailure(to: promise)
        let payload: ByteBuffer
        do {
            let handler = self.handler
            payload = try await withTaskCancellationHandler {
                try await promise.futureResult.get()
            } onCancel: {
                handler.eventLoop.execute { handler.value.cancel(callID) }
            }
        } catch {
            throw self.closeReason.failure(for: error)
        }
        do {
            return try Response(buffer: payload)
        } catch {
            throw RPCError(.internalError, "response is not a valid \(Response.protoMessageName)")
        }
    }

    /// Response frames a stream may have in flight before its consumer takes some, by default.
    public static let defaultStreamWindow: UInt32 = 16

    /// Starts a server-streaming call.
    ///
    /// The stream is flow-controlled on its own (`rpc.proto`): the server sends at most `window`
    /// frames its consumer has not taken yet, and the consumer's iterator grants more as it takes
    /// them. A consumer that stops reading so holds up only its stream: the connection's other
    /// calls and streams go on.
    /// - Parameters:
    ///   - method: the method.
    ///   - request: its request.
    ///   - window: the most response frames buffered for the consumer (≥ 2).
    /// - Returns: the responses; iterating throws ``RPCError`` when the call fails. Dropping the
    ///   iterator (or the stream, unused) before the end cancels the call on the server and
    ///   frees what was buffered for it.
    public func stream<Request, Response>(
        _ method: ServerStreamMethod<Request, Response>,
        _ request: Request,
        window: UInt32 = RPCConnection.defaultStreamWindow
    ) -> RPCResponseStream<Response> {
        let window = max(window, 2)
        let callID = self.nextCallID.wrappingAdd(1, ordering: .relaxed).oldValue
        let produced = NIOThrowingAsyncSequenceProducer.makeSequence(
            elementType: ByteBuffer.self,
            backPressureStrategy: StreamWindowBackPressure(),
            finishOnDeinit: true,
            delegate: StreamDelegate(callID: callID, handler: self.handler)
        )
        do {
            let payload: [UInt8]
            do {
                payload = try request.serializedBytes()
            } catch {
                throw RPCError(.invalidArgument, "request cannot be serialized: \(error)")
            }
            var frame = self.channel.allocator.buffer(capacity: payload.count + method.name.utf8.count + 32)
            frame.writeRequestFrame(callID: callID, method: method.name, payload: payload, window: window)
            self.channel.writeAndFlush(
                RPCClientHandler.Command.stream(callID: callID, frame: frame, source: produced.source)
            )
            .whenFailure { [closeReason] error in
                produced.source.finish(closeReason.failure(for: error))
            }
        } catch {
            produced.source.finish(error)
        }
        return RPCResponseStream(
            payloads: produced.sequence,
            grants: StreamGrants(callID: callID, handler: self.handler, every: window / 2)
        )
    }

    /// A connection nobody holds any more is closed, so one opened for a single stream ends with
    /// the stream's last iterator.
    deinit {
        self.channel.close(promise: nil)
    }

    /// Closes the connection; calls in flight fail with UNAVAILABLE.
    public func close() async {
        try? await self.channel.close()
    }

    /// The event loop the connection runs on.
    public var eventLoop: any EventLoop { self.channel.eventLoop }

    /// Whether the connection is still open.
    public var isActive: Bool {
        self.channel.isActive
    }

    private func requestFrame(callID: UInt64, method: String, payload: [UInt8]) -> ByteBuffer {
        var frame = self.channel.allocator.buffer(capacity: payload.count + method.utf8.count + 24)
        frame.writeRequestFrame(callID: callID, method: method, payload: payload)
        return frame
    }
}

/// The client handler a connection's channel initializer added, handed to the connecting task.
private final class AddedClientHandler: Sendable {
    private let value = Mutex<(NIOLoopBound<RPCClientHandler>, ConnectionCloseReason)?>(nil)

    func set(_ handler: NIOLoopBound<RPCClientHandler>, _ closeReason: ConnectionCloseReason) {
        self.value.withLock { $0 = (handler, closeReason) }
    }

    func get() -> (NIOLoopBound<RPCClientHandler>, ConnectionCloseReason)? {
        self.value.withLock { $0 }
    }
}
