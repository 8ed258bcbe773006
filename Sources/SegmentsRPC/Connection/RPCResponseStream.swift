import NIOCore
import SegmentsWire
import SwiftProtobuf

/// The responses of a server-streaming call, decoded as they are consumed.
public struct RPCResponseStream<Response: Message>: AsyncSequence {
    public typealias Element = Response

    let payloads: NIOThrowingAsyncSequenceProducer<ByteBuffer, any Error, StreamWindowBackPressure, StreamDelegate>
    let grants: StreamGrants

    /// Iterates the responses.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var payloads:
            NIOThrowingAsyncSequenceProducer<ByteBuffer, any Error, StreamWindowBackPressure, StreamDelegate>
                .AsyncIterator
        let grants: StreamGrants
        /// Frames taken since the last grant.
        var taken: UInt32 = 0

        /// The next response, or `nil` after the server ended the stream with OK.
        /// - Throws: ``RPCError`` when the call failed.
        @concurrent public mutating func next() async throws -> Response? {
            guard let payload = try await self.nextPayload() else { return nil }
            if let fast = Response.self as? any FastDecodableMessage.Type,
                let decoded = payload.withUnsafeReadableBytes({ fast.init(fastDecoding: $0) }) as? Response
            {
                return decoded
            }
            do {
                return try Response(buffer: payload)
            } catch {
                throw RPCError(.internalError, "response is not a valid \(Response.protoMessageName)")
            }
        }

        /// The next response's bytes, not decoded (for a reader that decodes part of it), or `nil`
        /// after the server ended the stream with OK.
        /// - Throws: ``RPCError`` when the call failed.
        @concurrent public mutating func nextPayload() async throws -> ByteBuffer? {
            guard let payload = try await self.payloads.next() else { return nil }
            self.taken += 1
            if self.taken >= self.grants.every {
                self.grants.grant(self.taken)
                self.taken = 0
            }
            return payload
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(payloads: self.payloads.makeAsyncIterator(), grants: self.grants)
    }
}
