import Foundation
import Logging
import NIOCore
import SegmentsWire

/// Serves the calls of one connection: decodes request frames, runs inline handlers on the
/// event loop, hands async calls to the connection's task, answers errors, enforces the idle
/// timeout and drains the connection on shutdown.
///
/// All state lives on the channel's event loop, in an ``RPCServerStateMachine``; the handler
/// performs what it decides.
final class RPCServerHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// A call to run in the connection's task group.
    struct AsyncCall: Sendable {
        enum Kind: Sendable {
            case unary(@Sendable (Data, RPCCallContext) async throws -> [UInt8])
            case serverStream(@Sendable (Data, RPCStreamSink, RPCCallContext) async throws -> Void, StreamControl)
        }

        let callID: UInt64
        let kind: Kind
        let payload: Data
        let context: RPCCallContext
        let channel: any Channel
        /// Tells the handler, on its event loop, that the call has ended.
        let ended: @Sendable () -> Void
    }

    private let router: RPCRouter
    /// Who is connected, and what they may do.
    private let peer: RPCPeer?
    private let role: RPCRole
    private let calls: AsyncStream<AsyncCall>.Continuation
    private let logger: Logger
    /// How a streaming call in flight is stopped and paced.
    struct StreamControl: Sendable {
        /// Fired when the client cancels the call, the connection closes or the server drains.
        let cancellation = CallCancellation()
        /// The frames the client has granted, when it flow-controls the stream itself.
        let window: StreamWindow?
    }

    /// Async calls in flight (streaming ones with their control), and draining.
    private var state: RPCServerStateMachine<StreamControl>
    private var context: ChannelHandlerContext?
    /// The connection was refused as a whole: what the client sends is ignored until it closes.
    private var refused = false

    init(
        router: RPCRouter,
        peer: RPCPeer?,
        role: RPCRole,
        calls: AsyncStream<AsyncCall>.Continuation,
        maximumCallsInFlight: Int,
        logger: Logger
    ) {
        self.router = router
        self.peer = peer
        self.role = role
        self.calls = calls
        self.state = RPCServerStateMachine(maximumCallsInFlight: maximumCallsInFlight)
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.refused else { return }
        let buffer = Self.unwrapInboundIn(data)
        let frame: Segments_V1_RequestFrame
        do {
            frame = try Segments_V1_RequestFrame(buffer: buffer)
        } catch {
            self.logger.debug("closing connection: frame is not a RequestFrame", metadata: ["error": "\(error)"])
            context.close(promise: nil)
            return
        }
        if frame.cancel {
            if case .apply(let control) = self.state.control(of: frame.callID) {
                control?.cancellation.cancel()
            }
            return
        }
        if frame.method.isEmpty, frame.window > 0 {
            // A grant for a stream; one that already ended needs none.
            if case .apply(let control) = self.state.control(of: frame.callID) {
                control?.window?.grant(frame.window)
            }
            return
        }
        switch self.state.request(frame.callID) {
        case .accept:
            break
        case .refuse(let error):
            self.respond(context, frame.callID, error: error)
            return
        case .close(let reason):
            self.logger.debug("closing connection: \(reason)", metadata: ["call": "\(frame.callID)"])
            context.close(promise: nil)
            return
        }
        if let refusal = self.router.refusal {
            self.respond(context, frame.callID, error: refusal())
            return
        }
        guard let handler = self.router.handlers[frame.method] else {
            let method = frame.method.isEmpty ? "(empty)" : frame.method
            self.respond(context, frame.callID, error: RPCError(.unimplemented, "unknown method \(method)"))
            return
        }
        let needed = self.router.requiredRoles[frame.method] ?? .admin
        guard self.role >= needed else {
            self.refuse(context, frame, needing: needed)
            return
        }
        switch handler {
        case .inline(let body):
            do {
                self.respondInline(context, frame.callID, payload: try body(frame.payload))
            } catch {
                self.respond(context, frame.callID, error: RPCError(mapping: error))
            }
        case .unary(let body):
            self.start(context, frame, kind: .unary(body), control: nil)
        case .inlineFirst(let inline, let fallback):
            let payload: [UInt8]?
            do {
                payload = try inline(frame.payload)
            } catch {
                self.respond(context, frame.callID, error: RPCError(mapping: error))
                return
            }
            guard let payload else {
                self.start(context, frame, kind: .unary(fallback), control: nil)
                return
            }
            self.respondInline(context, frame.callID, payload: payload)
        case .serverStream(let body):
            let control = StreamControl(window: frame.window > 0 ? StreamWindow(initial: frame.window) : nil)
            self.start(context, frame, kind: .serverStream(body, control), control: control)
        }
    }

    /// Answers a call beyond the connection's role with PERMISSION_DENIED naming the role needed, and logs it.
    private func refuse(_ context: ChannelHandlerContext, _ frame: Segments_V1_RequestFrame, needing needed: RPCRole) {
        let caller = self.peer.map { "\($0)" } ?? "a peer without credentials"
        self.logger.warning(
            "call refused: role too low",
            metadata: (self.peer?.logMetadata ?? [:]).merging(
                ["rpc.method": "\(frame.method)", "role": "\(self.role)", "needed": "\(needed)"]
            ) { _, new in new }
        )
        let method = frame.method.split(separator: "/").last.map(String.init) ?? frame.method
        self.respond(
            context,
            frame.callID,
            error: RPCError(
                .permissionDenied,
                "\(method) needs the \(needed) role; this caller (\(caller)) has the \(self.role) role"
            )
        )
    }

    /// Writes the response of a call answered on the event loop (flushed at read completion).
    private func respondInline(_ context: ChannelHandlerContext, _ callID: UInt64, payload: [UInt8]) {
        var out = context.channel.allocator.buffer(capacity: payload.count + 24)
        out.writeResponseFrame(callID: callID, payload: payload, end: true)
        context.write(Self.wrapOutboundOut(out), promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        for control in self.state.closed() {
            control.cancellation.cancel()
        }
        self.calls.finish()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read, self.state.idle() {
            self.logger.debug("closing idle connection")
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.logger.debug("closing connection after error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    // MARK: - Calls

    private func start(
        _ context: ChannelHandlerContext,
        _ frame: Segments_V1_RequestFrame,
        kind: AsyncCall.Kind,
        control: StreamControl?
    ) {
        if let refusal = self.state.startTask(frame.callID, control: control) {
            self.respond(context, frame.callID, error: refusal)
            return
        }
        var logger = self.logger
        logger[metadataKey: "rpc.call"] = "\(frame.callID)"
        logger[metadataKey: "rpc.method"] = "\(frame.method)"
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let callID = frame.callID
        let eventLoop = context.eventLoop
        self.calls.yield(
            AsyncCall(
                callID: callID,
                kind: kind,
                payload: frame.payload,
                context: RPCCallContext(method: frame.method, peer: self.peer, role: self.role, logger: logger),
                channel: context.channel,
                ended: { eventLoop.execute { loopBound.value.callEnded(callID) } }
            )
        )
    }

    private func callEnded(_ callID: UInt64) {
        if self.state.callEnded(callID) {
            self.context?.close(promise: nil)
        }
    }

    /// Refuses the whole connection: one response frame with call id 0 and `error`, then closes.
    ///
    /// The close is a lingering one: the server shuts its side for writing and ignores what the client sends until
    /// the client closes (or a second passes). Closing at once could reset the connection under a client that is
    /// still writing its first request, which would then see "connection reset" instead of the reason.
    func refuseConnection(_ error: RPCError) {
        guard let context = self.context else { return }
        self.refused = true
        var out = context.channel.allocator.buffer(capacity: 64 + error.message.utf8.count)
        out.writeResponseFrame(callID: 0, payload: [], end: true, error: error)
        let channel = context.channel
        context.writeAndFlush(Self.wrapOutboundOut(out)).whenComplete { _ in
            channel.close(mode: .output, promise: nil)
            channel.eventLoop.scheduleTask(in: .seconds(1)) { channel.close(promise: nil) }
        }
    }

    /// Stops taking new calls, cancels streams and closes once the unary calls in flight end.
    func drain() {
        let (streams, closeNow) = self.state.drain()
        for control in streams {
            control.cancellation.cancel()
        }
        if closeNow {
            self.context?.close(promise: nil)
        }
    }

    private func respond(_ context: ChannelHandlerContext, _ callID: UInt64, error: RPCError) {
        var out = context.channel.allocator.buffer(capacity: 64 + error.message.utf8.count)
        out.writeResponseFrame(callID: callID, payload: [], end: true, error: error)
        context.write(Self.wrapOutboundOut(out), promise: nil)
    }
}

extension RPCError {
    /// The status a handler's error is answered with: an ``RPCError`` as it is, cancellation as
    /// CANCELLED, anything else as INTERNAL without details (they may hold user data).
    init(mapping error: any Error) {
        switch error {
        case let error as RPCError:
            self = error
        case is CancellationError:
            self.init(.cancelled, "call cancelled")
        default:
            self.init(.internalError, "internal error")
        }
    }
}
