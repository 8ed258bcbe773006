import NIOCore
import SegmentsWire

/// Routes response frames to the calls waiting for them, multiplexing many calls on one
/// connection. All state lives on the channel's event loop.
///
/// Streams are flow-controlled: when a stream's consumer falls behind its buffer's high
/// watermark the handler stops reading from the socket (the server then blocks on its writes)
/// until the consumer catches up.
final class RPCClientHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = Never
    typealias OutboundIn = Command
    typealias OutboundOut = ByteBuffer

    typealias StreamSource = NIOThrowingAsyncSequenceProducer<
        ByteBuffer, any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, StreamDelegate
    >.Source

    /// What the connection asks the handler to do.
    enum Command {
        /// Send a unary request; complete the promise with the response payload.
        case unary(callID: UInt64, frame: ByteBuffer, promise: EventLoopPromise<ByteBuffer>)
        /// Send a streaming request; feed response payloads to the source.
        case stream(callID: UInt64, frame: ByteBuffer, source: StreamSource)
    }

    private enum Pending {
        case unary(EventLoopPromise<ByteBuffer>)
        case stream(StreamSource)
    }

    private var pending: [UInt64: Pending] = [:]
    private var pausedStreams: Set<UInt64> = []
    private var closedError: RPCError?
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let command = Self.unwrapOutboundIn(data)
        let callID: UInt64
        let frame: ByteBuffer
        switch command {
        case .unary(let id, let buffer, let responsePromise):
            if let closedError {
                responsePromise.fail(closedError)
                promise?.fail(closedError)
                return
            }
            (callID, frame) = (id, buffer)
            self.pending[callID] = .unary(responsePromise)
        case .stream(let id, let buffer, let source):
            if let closedError {
                source.finish(closedError)
                promise?.fail(closedError)
                return
            }
            (callID, frame) = (id, buffer)
            self.pending[callID] = .stream(source)
        }
        context.write(Self.wrapOutboundOut(frame), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame: Segments_V1_ResponseFrame
        do {
            frame = try Segments_V1_ResponseFrame(buffer: Self.unwrapInboundIn(data))
        } catch {
            self.failAll(RPCError(.internalError, "server sent a frame that is not a ResponseFrame"))
            context.close(promise: nil)
            return
        }
        guard let pending = self.pending[frame.callID] else {
            return  // a call we cancelled or gave up on
        }
        let failure: RPCError? =
            frame.end && frame.hasStatus && frame.status.code != .ok ? RPCError(status: frame.status) : nil
        switch pending {
        case .unary(let promise):
            self.pending.removeValue(forKey: frame.callID)
            if let failure {
                promise.fail(failure)
            } else {
                promise.succeed(ByteBuffer(bytes: frame.payload))
            }
        case .stream(let source):
            // Every non-end frame carries one message, and a message whose fields all hold
            // their defaults serializes to zero bytes: an empty payload is still a message.
            if !frame.end || !frame.payload.isEmpty {
                if source.yield(ByteBuffer(bytes: frame.payload)) == .stopProducing {
                    self.pausedStreams.insert(frame.callID)
                    context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
                }
            }
            if frame.end {
                self.pending.removeValue(forKey: frame.callID)
                self.resume(frame.callID)
                if let failure {
                    source.finish(failure)
                } else {
                    source.finish()
                }
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.failAll(RPCError(.unavailable, "connection closed"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.failAll(RPCError(.unavailable, "connection failed: \(error)"))
        context.close(promise: nil)
    }

    // MARK: - Flow control and cancellation (called on the event loop)

    /// The consumer of `callID` wants more: read from the socket again if nothing else is paused.
    func resume(_ callID: UInt64) {
        guard self.pausedStreams.remove(callID) != nil, self.pausedStreams.isEmpty, let context else { return }
        context.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
        context.read()
    }

    /// The consumer of `callID` went away: tell the server and forget the call.
    func cancel(_ callID: UInt64) {
        guard self.pending.removeValue(forKey: callID) != nil, let context else { return }
        self.resume(callID)
        var frame = context.channel.allocator.buffer(capacity: 16)
        frame.writeRequestFrame(callID: callID, method: "", payload: [], cancel: true)
        context.writeAndFlush(Self.wrapOutboundOut(frame), promise: nil)
    }

    private func failAll(_ error: RPCError) {
        self.closedError = self.closedError ?? error
        let pending = self.pending
        self.pending.removeAll()
        self.pausedStreams.removeAll()
        for call in pending.values {
            switch call {
            case .unary(let promise): promise.fail(error)
            case .stream(let source): source.finish(error)
            }
        }
    }
}

/// Connects a response stream's consumer demand back to its handler's event loop.
struct StreamDelegate: NIOAsyncSequenceProducerDelegate {
    let callID: UInt64
    let handler: NIOLoopBound<RPCClientHandler>

    func produceMore() {
        let (handler, callID) = (self.handler, self.callID)
        handler.eventLoop.execute { handler.value.resume(callID) }
    }

    func didTerminate() {
        let (handler, callID) = (self.handler, self.callID)
        handler.eventLoop.execute { handler.value.cancel(callID) }
    }
}
