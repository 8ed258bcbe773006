import NIOCore
import SegmentsWire
import SwiftProtobuf

/// The responses of a server-streaming call, decoded as they are consumed.
public struct RPCResponseStream<Response: Message>: AsyncSequence {
    public typealias Element = Response

    let payloads: NIOThrowingAsyncSequenceProducer<
        ByteBuffer, any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, StreamDelegate
    >

    /// Iterates the responses.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var payloads:
            NIOThrowingAsyncSequenceProducer<
                ByteBuffer, any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, StreamDelegate
            >.AsyncIterator

        /// The next response, or `nil` after the server ended the stream with OK.
        /// - Throws: ``RPCError`` when the call failed.
        @concurrent public mutating func next() async throws -> Response? {
            guard let payload = try await self.payloads.next() else { return nil }
            do {
                return try Response(buffer: payload)
            } catch {
                throw RPCError(.internalError, "response is not a valid \(Response.protoMessageName)")
            }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(payloads: self.payloads.makeAsyncIterator())
    }
}
