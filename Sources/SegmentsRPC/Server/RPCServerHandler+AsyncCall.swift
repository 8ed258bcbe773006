import Foundation
import NIOCore
import SegmentsWire

extension RPCServerHandler.AsyncCall {
    /// Runs the call to its end and writes its response or end frame.
    func run() async {
        defer { self.ended() }
        var out = self.channel.allocator.buffer(capacity: 64)
        switch self.kind {
        case .unary(let body):
            do {
                let payload = try await body(self.payload, self.context)
                out.writeResponseFrame(callID: self.callID, payload: payload, end: true)
            } catch {
                out.writeResponseFrame(callID: self.callID, payload: [], end: true, error: RPCError(mapping: error))
            }
        case .serverStream(let body, let control):
            let error = await self.runStream(body, control: control)
            out.writeResponseFrame(callID: self.callID, payload: [], end: true, error: error)
        }
        self.channel.writeAndFlush(out, promise: nil)
    }

    /// Runs a streaming handler until it returns, throws, or its call is cancelled.
    /// - Returns: the error to end the stream with, or `nil` for OK.
    private func runStream(
        _ body: @escaping @Sendable (Data, RPCStreamSink, RPCCallContext) async throws -> Void,
        control: RPCServerHandler.StreamControl
    ) async -> RPCError? {
        enum Outcome: Sendable {
            case finished(RPCError?)
            case cancelled
        }
        let sink = RPCStreamSink(callID: self.callID, channel: self.channel, window: control.window)
        let payload = self.payload
        let context = self.context
        return await withTaskGroup(of: Outcome.self) { group in
            group.addTask {
                do {
                    try await body(payload, sink, context)
                    return .finished(nil)
                } catch {
                    return .finished(RPCError(mapping: error))
                }
            }
            group.addTask {
                await control.cancellation.wait()
                return .cancelled
            }
            let first = await group.next() ?? .cancelled
            group.cancelAll()
            switch first {
            case .finished(let error):
                return error
            case .cancelled:
                return RPCError(.cancelled, "call cancelled")
            }
        }
    }
}
