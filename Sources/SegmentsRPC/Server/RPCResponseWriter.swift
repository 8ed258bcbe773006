import NIOCore
import SegmentsWire
import SwiftProtobuf

/// Writes the responses of one server-streaming call.
///
/// Each ``write(_:)`` returns once the client's window for the stream admits the frame (when it
/// flow-controls the stream; see `rpc.proto`) and the frame has been handed to the socket, so a
/// client that reads slowly slows the handler down instead of growing a queue in the server.
public struct RPCResponseWriter<Response: Message>: Sendable {
    let sink: RPCStreamSink

    /// Sends one response message.
    /// - Parameter response: the message.
    /// - Throws: `CancellationError` when the call was cancelled or the connection closed.
    public func write(_ response: Response) async throws {
        try await self.sink.write(payload: try response.serializedBytes())
    }

    /// Sends one response already serialized as a `Response` message, for callers that build
    /// the bytes directly (e.g. by concatenating stored sub-messages).
    /// - Parameter bytes: the serialized message.
    /// - Throws: `CancellationError` when the call was cancelled or the connection closed.
    public func write(serializedBytes bytes: [UInt8]) async throws {
        try await self.sink.write(payload: bytes)
    }
}

/// Where a streaming call's responses go: the connection's frames, with flow control, or — for
/// calls made without a connection (``RPCRouter/invoke(_:payload:logger:collect:)``) — a closure.
struct RPCStreamSink: Sendable {
    private enum Destination: Sendable {
        /// Response frames of call `callID` on `channel`, paced by the client's grants when it
        /// flow-controls the stream.
        case channel(callID: UInt64, channel: any Channel, window: StreamWindow?)
        /// Each serialized response handed to the closure.
        case collector(@Sendable ([UInt8]) async throws -> Void)
    }

    private let destination: Destination

    /// A sink writing the responses of call `callID` to `channel`.
    /// - Parameters:
    ///   - callID: the call the frames answer.
    ///   - channel: the connection.
    ///   - window: the client's grants, when it flow-controls this stream.
    init(callID: UInt64, channel: any Channel, window: StreamWindow?) {
        self.destination = .channel(callID: callID, channel: channel, window: window)
    }

    /// A sink handing each serialized response to `collect`; what it throws ends the call.
    init(collecting collect: @escaping @Sendable ([UInt8]) async throws -> Void) {
        self.destination = .collector(collect)
    }

    func write(payload: [UInt8]) async throws {
        try Task.checkCancellation()
        switch self.destination {
        case .channel(let callID, let channel, let window):
            try await window?.take()
            var buffer = channel.allocator.buffer(capacity: payload.count + 16)
            buffer.writeResponseFrame(callID: callID, payload: payload, end: false)
            let written = channel.eventLoop.makePromise(of: Void.self)
            channel.writeAndFlush(buffer, promise: written)
            do {
                try await written.futureResult.waitUnlessCancelled()
            } catch {
                throw CancellationError()
            }
        case .collector(let collect):
            try await collect(payload)
        }
    }
}
