import CoreMetrics
import Foundation
import SegmentsWire
import Synchronization

extension RPCRouter {
    /// The same router with every method measured through swift-metrics:
    /// - `segments_rpc_duration_seconds{method}`: a histogram of unary calls' time from the request decoded to the
    ///   response encoded (its `_count` is the number of calls);
    /// - `segments_rpc_streams_total{method}`: server streams started;
    /// - `segments_rpc_failures_total{method,code}`: calls ended with an error status, by gRPC code name.
    ///
    /// Only for a daemon that serves metrics: each call then pays two clock reads and a histogram update.
    public func instrumented() -> RPCRouter {
        var router = self
        for (method, handler) in self.handlers {
            router.handlers[method] = RPCMethodMetrics(method: method).measuring(handler)
        }
        return router
    }
}

/// One method's instruments: a duration histogram for a unary method, a counter of started streams for a streaming
/// one, and failure counters by code for both.
private final class RPCMethodMetrics: Sendable {
    let method: String
    /// Failure counters by code name, made on first use.
    let failures = Mutex<[String: CoreMetrics.Counter]>([:])

    init(method: String) {
        self.method = method
    }

    func measuring(_ handler: RPCRouter.Handler) -> RPCRouter.Handler {
        switch handler {
        case .inline(let body):
            let duration = self.makeDuration()
            return .inline { payload in try self.timedInline(duration) { try body(payload) }! }
        case .unary(let body):
            let duration = self.makeDuration()
            return .unary { payload, context in try await self.timed(duration) { try await body(payload, context) } }
        case .inlineFirst(let inline, let fallback):
            let duration = self.makeDuration()
            return .inlineFirst(
                inline: { payload in try self.timedInline(duration) { try inline(payload) } },
                fallback: { payload, context in try await self.timed(duration) { try await fallback(payload, context) }
                }
            )
        case .serverStream(let body):
            let streams = CoreMetrics.Counter(
                label: "segments_rpc_streams_total",
                dimensions: [("method", self.method)]
            )
            return .serverStream { payload, sink, context in
                streams.increment()
                do {
                    try await body(payload, sink, context)
                } catch {
                    self.countFailure(error)
                    throw error
                }
            }
        }
    }

    private func makeDuration() -> CoreMetrics.Timer {
        CoreMetrics.Timer(label: "segments_rpc_duration_seconds", dimensions: [("method", self.method)])
    }

    /// Runs a synchronous handler that may decline (an inline-first handler returning `nil`: the call goes on in a
    /// task, measured there), recording its time when it answered.
    private func timedInline<Result>(_ duration: CoreMetrics.Timer, _ body: () throws -> Result?) throws -> Result? {
        let start = ContinuousClock.now
        do {
            guard let result = try body() else { return nil }
            duration.recordNanoseconds(Self.nanoseconds(since: start))
            return result
        } catch {
            self.countFailure(error)
            throw error
        }
    }

    private func timed<Result>(
        _ duration: CoreMetrics.Timer,
        _ body: () async throws -> Result
    ) async throws -> Result {
        let start = ContinuousClock.now
        do {
            let result = try await body()
            duration.recordNanoseconds(Self.nanoseconds(since: start))
            return result
        } catch {
            self.countFailure(error)
            throw error
        }
    }

    private func countFailure(_ error: any Error) {
        let code = (error is CancellationError) ? "CANCELLED" : "\(RPCError(mapping: error).code)"
        let counter = self.failures.withLock { failures in
            if let counter = failures[code] { return counter }
            let counter = CoreMetrics.Counter(
                label: "segments_rpc_failures_total",
                dimensions: [("method", self.method), ("code", code)]
            )
            failures[code] = counter
            return counter
        }
        counter.increment()
    }

    private static func nanoseconds(since start: ContinuousClock.Instant) -> Int64 {
        let elapsed = (ContinuousClock.now - start).components
        return elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000
    }
}
