import Foundation
import Logging
import SegmentsWire

extension RPCRouter {
    /// How a call made with ``invoke(_:payload:logger:collect:)`` ended.
    package enum Invocation: Sendable {
        /// No handler serves the method.
        case unknownMethod
        /// A unary call answered with this serialized response.
        case response([UInt8])
        /// A streaming call ended OK (its responses went to `collect`).
        case streamEnded
        /// The call failed with this status, as a connection would send it: an ``RPCError`` as
        /// thrown, cancellation as CANCELLED, anything else as INTERNAL.
        case failed(RPCError)
    }

    /// The names of the methods served, sorted.
    package var methodNames: [String] {
        self.handlers.keys.sorted()
    }

    /// Whether `method` is served by a server-streaming handler.
    package func isStreaming(_ method: String) -> Bool {
        if case .serverStream = self.handlers[method] { return true }
        return false
    }

    /// Runs the handler of `method` on `payload` the way a connection runs it — the inline part
    /// first where there is one, then the async part — but without a channel, for in-process
    /// harnesses (the fuzz targets) that check every answer. Cancelling the calling task cancels
    /// the call, as a client's cancel would.
    /// - Parameters:
    ///   - method: the fully qualified method name.
    ///   - payload: the serialized request.
    ///   - logger: the call's logger.
    ///   - collect: receives each response of a streaming call, serialized; what it throws ends
    ///     the call (as a closed connection would).
    /// - Returns: how the call ended.
    package func invoke(
        _ method: String,
        payload: Data,
        logger: Logger,
        collect: @escaping @Sendable ([UInt8]) async throws -> Void = { _ in }
    ) async -> Invocation {
        guard let handler = self.handlers[method] else { return .unknownMethod }
        // In-process callers are the daemon's own user: every role check passes, as on the daemon's socket.
        let context = RPCCallContext(method: method, peer: nil, role: .admin, logger: logger)
        do {
            switch handler {
            case .inline(let body):
                return .response(try body(payload))
            case .unary(let body):
                return .response(try await body(payload, context))
            case .inlineFirst(let inline, let fallback):
                if let response = try inline(payload) {
                    return .response(response)
                }
                return .response(try await fallback(payload, context))
            case .serverStream(let body):
                try await body(payload, RPCStreamSink(collecting: collect), context)
                return .streamEnded
            }
        } catch {
            return .failed(RPCError(mapping: error))
        }
    }
}
