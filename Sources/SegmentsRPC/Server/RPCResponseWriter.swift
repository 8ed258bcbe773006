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

/// The connection-side half of a streaming call: frames out, with flow control.
struct RPCStreamSink: Sendable {
    let callID: UInt64
    let channel: any Channel
    /// The client's grants, when it flow-controls this stream.
    let window: StreamWindow?

    func write(payload: [UInt8]) async throws {
        try Task.checkCancellation()
        try await self.window?.take()
        var buffer = self.channel.allocator.buffer(capacity: payload.count + 16)
        buffer.writeResponseFrame(callID: self.callID, payload: payload, end: false)
        let written = self.channel.eventLoop.makePromise(of: Void.self)
        self.channel.writeAndFlush(buffer, promise: written)
        do {
            try await written.futureResult.waitUnlessCancelled()
        } catch {
            throw CancellationError()
        }
    }
}
