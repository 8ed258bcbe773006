import SegmentsRPC
import SegmentsWire
import SwiftProtobuf
import Synchronization

/// Methods served by the test router, declared with existing generated message types.
///
/// `Segments_V1_ClockResponse` doubles as a small general-purpose message: `seq` is a tag or a
/// count, `now_ms` a delay or a status code.
enum TestAPI {
    typealias Numbers = Segments_V1_ClockResponse

    /// Inline: answers with the request.
    static let inlineEcho = UnaryMethod<Segments_V1_Status, Segments_V1_Status>(
        "test.v1.Test/InlineEcho",
        role: .reader
    )
    /// Async: sleeps `now_ms` milliseconds, then answers with the request.
    static let asyncEcho = UnaryMethod<Numbers, Numbers>("test.v1.Test/AsyncEcho")
    /// Inline: throws `RPCError(request.code, request.message)`.
    static let inlineFail = UnaryMethod<Segments_V1_Status, Segments_V1_Status>("test.v1.Test/InlineFail")
    /// Async: throws `RPCError(request.code, request.message)`.
    static let asyncFail = UnaryMethod<Segments_V1_Status, Segments_V1_Status>("test.v1.Test/AsyncFail")
    /// Async: throws an error that is not an ``RPCError``.
    static let asyncCrash = UnaryMethod<Segments_V1_Status, Segments_V1_Status>("test.v1.Test/AsyncCrash")
    /// Async: waits until the probe's gate opens, then answers with the request.
    static let gated = UnaryMethod<Numbers, Numbers>("test.v1.Test/Gated")
    /// Stream: sends `seq` messages numbered 0…seq-1, then ends with OK, or with status code
    /// `now_ms` when it is not 0.
    static let count = ServerStreamMethod<Numbers, Numbers>("test.v1.Test/Count", role: .writer)
    /// Stream: sends a message every 10 ms until cancelled.
    static let infinite = ServerStreamMethod<Numbers, Numbers>("test.v1.Test/Infinite")
    /// Stream: sends 10,000 messages of 64 KiB each, counting them in the probe.
    static let bulk = ServerStreamMethod<Numbers, Segments_V1_RequestFrame>("test.v1.Test/Bulk")

    /// Inline first: answers on the event loop when `seq` is even, throws `RPCError(.outOfRange)`
    /// there when `seq` is 13, and otherwise answers from a task with `now_ms` set to 1.
    static let inlineFirst = UnaryMethod<Numbers, Numbers>("test.v1.Test/InlineFirst")

    /// Registered nowhere.
    static let missing = UnaryMethod<Segments_V1_Status, Segments_V1_Status>("test.v1.Test/Missing")
    static let missingStream = ServerStreamMethod<Numbers, Numbers>("test.v1.Test/MissingStream")

    static let bulkMessageCount = 10_000
    static let bulkMessageSize = 64 * 1024

    /// A router serving every method above, reporting to `probe`.
    static func router(probe: Probe) -> RPCRouter {
        var router = RPCRouter()
        router.registerInline(Self.inlineEcho) { $0 }
        router.register(Self.asyncEcho) { request, _ in
            if request.nowMs > 0 {
                try await Task.sleep(for: .milliseconds(request.nowMs))
            }
            return request
        }
        router.register(
            Self.inlineFirst,
            inline: { request in
                if request.seq == 13 { throw RPCError(.outOfRange, "unlucky") }
                return request.seq % 2 == 0 ? request : nil
            },
            { request, _ in
                await Task.yield()
                var answer = request
                answer.nowMs = 1
                return answer
            }
        )
        router.registerInline(Self.inlineFail) { request in
            throw RPCError(RPCError.Code(request.code), request.message)
        }
        router.register(Self.asyncFail) { request, _ in
            await Task.yield()
            throw RPCError(RPCError.Code(request.code), request.message)
        }
        router.register(Self.asyncCrash) { _, _ in
            throw TestFailure("secret detail that must not reach the client")
        }
        router.register(Self.gated) { request, _ in
            probe.record(.gatedStarted)
            await probe.gate.wait()
            return request
        }
        router.register(Self.count) { request, writer, _ in
            for index in 0..<request.seq {
                try await writer.write(.with { $0.seq = index })
            }
            if request.nowMs != 0 {
                throw RPCError(RPCError.Code(Segments_V1_StatusCode(rawValue: Int(request.nowMs)) ?? .unknown), "ended")
            }
        }
        router.register(Self.infinite) { _, writer, _ in
            probe.record(.infiniteStarted)
            do {
                var index: UInt64 = 0
                while true {
                    try await writer.write(.with { $0.seq = index })
                    index += 1
                    try await Task.sleep(for: .milliseconds(10))
                }
            } catch {
                probe.record(.infiniteCancelled)
                throw error
            }
        }
        router.register(Self.bulk) { _, writer, _ in
            let payload = [UInt8](repeating: 0xAB, count: Self.bulkMessageSize)
            let message = try Segments_V1_RequestFrame.with { $0.payload = .init(payload) }.serializedBytes() as [UInt8]
            do {
                for _ in 0..<Self.bulkMessageCount {
                    probe.produced.add(1, ordering: .relaxed)
                    try await writer.write(serializedBytes: message)
                }
            } catch {
                probe.record(.bulkCancelled)
                throw error
            }
        }
        return router
    }
}

/// What the test handlers report back to the test.
final class Probe: Sendable {
    enum Event: Sendable, Hashable {
        case gatedStarted
        case infiniteStarted
        case infiniteCancelled
        case bulkCancelled
    }

    /// Messages the bulk stream has handed to its writer.
    let produced = Atomic<Int>(0)
    /// Holds gated calls until opened.
    let gate = Gate()
    private let events = Mutex<[Event]>([])

    func record(_ event: Event) {
        self.events.withLock { $0.append(event) }
    }

    func count(of event: Event) -> Int {
        self.events.withLock { $0.filter { $0 == event }.count }
    }

    /// Waits (polling) until `event` has been recorded `times` times.
    func waitFor(_ event: Event, times: Int = 1, within limit: Duration = .seconds(10)) async throws {
        let deadline = ContinuousClock.now + limit
        while self.count(of: event) < times {
            guard ContinuousClock.now < deadline else {
                throw TestFailure("\(event) was not recorded \(times) time(s) within \(limit)")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}

/// A one-shot barrier: ``wait()`` returns once ``open()`` has been called.
final class Gate: Sendable {
    private struct State {
        var isOpen = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    func open() {
        let waiters = self.state.withLock { state in
            state.isOpen = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let isOpen = self.state.withLock { state in
                if !state.isOpen { state.waiters.append(continuation) }
                return state.isOpen
            }
            if isOpen { continuation.resume() }
        }
    }
}
