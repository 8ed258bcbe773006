import Foundation
import NIOCore
import SegmentsWire

/// Routes response frames to the calls waiting for them, multiplexing many calls on one
/// connection. All state lives on the channel's event loop, in an ``RPCClientStateMachine``; the
/// handler performs what it decides.
///
/// Streams are flow-controlled one by one (`rpc.proto`): the server sends a stream no more frames
/// than its consumer has room for, and the consumer grants more as it takes them
/// (``grant(_:frames:)``). So the handler never stops reading the socket, and a consumer that
/// stops reading holds up only its own stream, never the connection's other calls.
final class RPCClientHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = Never
    typealias OutboundIn = Command
    typealias OutboundOut = ByteBuffer

    typealias StreamSource = NIOThrowingAsyncSequenceProducer<
        ByteBuffer, any Error, StreamWindowBackPressure, StreamDelegate
    >.Source

    /// What the connection asks the handler to do.
    enum Command {
        /// Send a unary request; complete the promise with the response payload, or fail it with
        /// DEADLINE_EXCEEDED when the deadline passes first.
        case unary(callID: UInt64, frame: ByteBuffer, promise: EventLoopPromise<ByteBuffer>, deadline: Deadline?)
        /// Send a streaming request; feed response payloads to the source.
        case stream(callID: UInt64, frame: ByteBuffer, source: StreamSource)
    }

    /// How long a unary call may wait for its response, and the call's method for the error.
    ///
    /// Scheduled by the handler when it sends the request, on its own event loop: the caller's thread
    /// then makes one hand-off to the loop per call (the write), not two.
    struct Deadline {
        var timeout: Duration
        var method: String
    }

    typealias Call = RPCClientStateMachine<EventLoopPromise<ByteBuffer>, StreamSource, Data>.Call

    private var state = RPCClientStateMachine<EventLoopPromise<ByteBuffer>, StreamSource, Data>()
    private var context: ChannelHandlerContext?
    /// Why the connection closed, for calls started after it did (their writes never reach the handler).
    let closeReason = ConnectionCloseReason()

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let (callID, frame, call): (UInt64, ByteBuffer, Call)
        switch Self.unwrapOutboundIn(data) {
        case .unary(let id, let buffer, let responsePromise, let deadline):
            (callID, frame, call) = (id, buffer, .unary(responsePromise))
            if let deadline {
                let expiry = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(deadline.timeout)) {
                    self.cancel(
                        id,
                        reason: RPCError(
                            .deadlineExceeded,
                            "no response to \(deadline.method) within \(deadline.timeout)"
                        )
                    )
                }
                responsePromise.futureResult.whenComplete { _ in expiry.cancel() }
            }
        case .stream(let id, let buffer, let source): (callID, frame, call) = (id, buffer, .stream(source))
        }
        switch self.state.start(callID, call) {
        case .send:
            context.write(Self.wrapOutboundOut(frame), promise: promise)
        case .fail(let call, let error):
            Self.fail(call, error)
            promise?.fail(error)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame: Segments_V1_ResponseFrame
        do {
            frame = try Segments_V1_ResponseFrame(buffer: Self.unwrapInboundIn(data))
        } catch {
            self.close(RPCError(.internalError, "server sent a frame that is not a ResponseFrame"))
            context.close(promise: nil)
            return
        }
        let failure: RPCError? =
            frame.end && frame.hasStatus && frame.status.code != .ok ? RPCError(status: frame.status) : nil
        if frame.callID == 0, let failure {
            // The server refuses the whole connection (e.g. too many connections): every call gets its reason.
            self.close(failure)
            context.close(promise: nil)
            return
        }
        switch self.state.receive(callID: frame.callID, end: frame.end, failure: failure, payload: frame.payload) {
        case .ignore:
            break
        case .succeed(let promise, let payload):
            promise.succeed(ByteBuffer(bytes: payload))
        case .fail(let promise, let error):
            promise.fail(error)
        case .deliver(let source, let payload, let end):
            // The server sends no more than the window the consumer granted, so the buffer stays
            // bounded without pausing the socket.
            if let payload { _ = source.yield(ByteBuffer(bytes: payload)) }
            switch end {
            case nil: break
            case .finished: source.finish()
            case .failed(let error): source.finish(error)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.close(RPCError(.unavailable, "connection closed"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.close(RPCError(.unavailable, "connection failed: \(error)"))
        context.close(promise: nil)
    }

    // MARK: - Flow control and cancellation (called on the event loop)

    /// The consumer of `callID` took `frames` frames: let the server send as many more.
    func grant(_ callID: UInt64, frames: UInt32) {
        guard self.state.acceptsGrant(callID), let context else { return }
        var frame = context.channel.allocator.buffer(capacity: 16)
        frame.writeRequestFrame(callID: callID, method: "", payload: [], window: frames)
        context.writeAndFlush(Self.wrapOutboundOut(frame), promise: nil)
    }

    /// The caller of `callID` went away (a stream's consumer, a cancelled unary caller, or one
    /// whose deadline passed): fail the call with `reason` if it waits, tell the server and
    /// forget the call.
    func cancel(_ callID: UInt64, reason: RPCError = RPCError(.cancelled, "call cancelled")) {
        guard case .tellServer(let waiting) = self.state.cancel(callID) else { return }
        waiting?.fail(reason)
        guard let context else { return }
        var frame = context.channel.allocator.buffer(capacity: 16)
        frame.writeRequestFrame(callID: callID, method: "", payload: [], cancel: true)
        context.writeAndFlush(Self.wrapOutboundOut(frame), promise: nil)
    }

    private func close(_ error: RPCError) {
        let (calls, error) = self.state.close(error)
        self.closeReason.record(error)
        for call in calls { Self.fail(call, error) }
    }

    private static func fail(_ call: Call, _ error: RPCError) {
        switch call {
        case .unary(let promise): promise.fail(error)
        case .stream(let source): source.finish(error)
        }
    }
}

/// Tells a response stream's handler, on its event loop, that the consumer went away.
struct StreamDelegate: NIOAsyncSequenceProducerDelegate {
    let callID: UInt64
    let handler: NIOLoopBound<RPCClientHandler>

    /// Demand is signalled by grants (``StreamGrants``), not by the buffer's depth.
    func produceMore() {}

    func didTerminate() {
        let (handler, callID) = (self.handler, self.callID)
        handler.eventLoop.execute { handler.value.cancel(callID) }
    }
}

/// A response stream's buffer never asks its producer to stop: the stream's window (the frames
/// its consumer granted) bounds it instead.
struct StreamWindowBackPressure: NIOAsyncSequenceProducerBackPressureStrategy {
    func didYield(bufferDepth: Int) -> Bool { true }
    func didConsume(bufferDepth: Int) -> Bool { true }
}

/// The consumer's half of a stream's flow control: counts the frames it takes and grants the
/// server that many more once they reach half the window.
struct StreamGrants: Sendable {
    let callID: UInt64
    let handler: NIOLoopBound<RPCClientHandler>
    /// Frames taken before a grant is sent.
    let every: UInt32

    /// Sends a grant of `frames` frames.
    func grant(_ frames: UInt32) {
        let (handler, callID) = (self.handler, self.callID)
        handler.eventLoop.execute { handler.value.grant(callID, frames: frames) }
    }
}
