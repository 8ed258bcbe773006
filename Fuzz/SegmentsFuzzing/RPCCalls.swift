import Foundation
import Logging
import SegmentsRPC
import SegmentsWire
import SwiftProtobuf
import Synchronization

/// One method a handler harness calls, with what it needs to check the answers.
struct FuzzMethod: Sendable {
    let name: String
    let isStreaming: Bool
    /// The call answers what it has and then waits for more (a live feed): the harness ends it
    /// after ``RPCCalls/liveStreamTime``, and the end is not a finding.
    let waitsForMore: Bool
    /// Whether bytes are a valid request message.
    let decodesRequest: @Sendable ([UInt8]) -> Bool
    /// Whether bytes are a valid response message.
    let decodesResponse: @Sendable ([UInt8]) -> Bool

    static func unary<Request, Response>(_ method: UnaryMethod<Request, Response>) -> FuzzMethod {
        FuzzMethod(
            name: method.name,
            isStreaming: false,
            waitsForMore: false,
            decodesRequest: { (try? Request(serializedBytes: $0)) != nil },
            decodesResponse: { (try? Response(serializedBytes: $0)) != nil }
        )
    }

    static func stream<Request, Response>(
        _ method: ServerStreamMethod<Request, Response>,
        waitsForMore: Bool = false
    ) -> FuzzMethod {
        FuzzMethod(
            name: method.name,
            isStreaming: true,
            waitsForMore: waitsForMore,
            decodesRequest: { (try? Request(serializedBytes: $0)) != nil },
            decodesResponse: { (try? Response(serializedBytes: $0)) != nil }
        )
    }
}

/// What one call did.
struct FuzzCallResult: Sendable {
    /// How the call ended.
    var invocation: RPCRouter.Invocation
    /// The responses of a streaming call, serialized.
    var streamed: [[UInt8]]
    /// The harness ended the call: it had not ended within its time, or had streamed as many responses as
    /// the harness wanted.
    var endedByHarness: Bool
    /// The harness ended the call because its time was up.
    var timedOut: Bool
}

/// Running handlers and checking their answers, for the store and evaluator harnesses.
///
/// Input: up to ``maximumCalls`` calls, each a method byte (an index into the harness's method
/// table, modulo its size), a two-byte little-endian length and that many bytes of request.
enum RPCCalls {
    static let maximumCalls = 4
    /// How long a call may take before it is a hang.
    static let callTimeLimit = Duration.seconds(3)
    /// How long a live stream is followed before the harness ends it.
    static let liveStreamTime = Duration.milliseconds(20)
    /// A stream is ended after this many responses (none of the seeded data needs more).
    static let maximumStreamed = 64

    /// A logger that drops everything.
    static let quietLogger = Logger(label: "segments-fuzz") { _ in SwiftLogNoOpLogHandler() }

    /// Checks that `methods` are exactly the methods `router` serves, each of the right kind, so a method added to a
    /// daemon without being added to its fuzz table is noticed.
    static func checkTable(_ methods: [FuzzMethod], of router: RPCRouter) throws(FuzzFinding) {
        let names = methods.map(\.name).sorted()
        guard names == router.methodNames else {
            throw FuzzFinding("setup: the fuzz table has \(names), the router serves \(router.methodNames)")
        }
        for method in methods where method.isStreaming != router.isStreaming(method.name) {
            throw FuzzFinding("setup: \(method.name) is \(method.isStreaming ? "" : "not ")a stream in the fuzz table")
        }
    }

    /// The calls encoded in `input`: (method, request bytes).
    static func calls(in input: [UInt8], methods: [FuzzMethod]) -> [(FuzzMethod, [UInt8])] {
        var reader = FuzzBytes(input)
        var calls: [(FuzzMethod, [UInt8])] = []
        while !reader.isAtEnd, calls.count < Self.maximumCalls {
            let method = methods[Int(reader.byte()) % methods.count]
            let length = reader.uint16()
            calls.append((method, reader.take(length)))
        }
        return calls
    }

    /// Encodes calls as an input of this format (for seeds).
    static func input(_ calls: [(name: String, request: any Message)], methods: [FuzzMethod]) -> [UInt8] {
        var bytes: [UInt8] = []
        for (name, request) in calls {
            guard let index = methods.firstIndex(where: { $0.name == name }),
                let payload = try? request.serializedBytes() as [UInt8]
            else { continue }
            bytes.append(UInt8(index))
            bytes.append(UInt8(payload.count & 0xFF))
            bytes.append(UInt8(payload.count >> 8))
            bytes += payload
        }
        return bytes
    }

    /// Runs one call: ended by the harness after ``liveStreamTime`` when it waits for more by
    /// design, after ``callTimeLimit`` otherwise (a hang: the check reports it), or once it has streamed
    /// `responses` responses.
    ///
    /// - Parameters:
    ///   - method: The method.
    ///   - request: The request bytes.
    ///   - router: The daemon's router.
    ///   - responses: How many responses to take before ending the call (at most ``maximumStreamed``).
    ///   - limit: How long to wait instead of the method's time; a check that needs the first batch of a live
    ///     stream waits up to ``callTimeLimit`` for it rather than ``liveStreamTime``, which a process off the
    ///     CPU for a moment can miss.
    static func run(
        _ method: FuzzMethod,
        _ request: [UInt8],
        on router: RPCRouter,
        responses: Int = maximumStreamed,
        limit: Duration? = nil
    ) async -> FuzzCallResult {
        final class Collected: Sendable {
            let responses = Mutex<[[UInt8]]>([])
            /// The harness ended the call after enough responses.
            let stopped = Mutex(false)
        }
        let wanted = min(responses, Self.maximumStreamed)
        enum Child: Sendable {
            case ended(RPCRouter.Invocation)
            case timeUp
        }
        let collected = Collected()
        let limit = limit ?? (method.waitsForMore ? Self.liveStreamTime : Self.callTimeLimit)
        let payload = Data(request)
        return await withTaskGroup(of: Child.self) { group in
            group.addTask {
                .ended(
                    await router.invoke(method.name, payload: payload, logger: Self.quietLogger) { response in
                        let count = collected.responses.withLock {
                            $0.append(response)
                            return $0.count
                        }
                        if count >= wanted {
                            collected.stopped.withLock { $0 = true }
                            throw CancellationError()
                        }
                    }
                )
            }
            group.addTask {
                try? await Task.sleep(for: limit)
                return .timeUp
            }
            var invocation: RPCRouter.Invocation?
            var timedOut = false
            while let child = await group.next() {
                switch child {
                case .ended(let ended):
                    invocation = ended
                    group.cancelAll()
                case .timeUp:
                    if invocation == nil {
                        timedOut = true
                        group.cancelAll()
                    }
                }
            }
            return FuzzCallResult(
                invocation: invocation ?? .failed(RPCError(.cancelled, "no result")),
                streamed: collected.responses.withLock { $0 },
                endedByHarness: timedOut || collected.stopped.withLock { $0 },
                timedOut: timedOut
            )
        }
    }

    /// Checks what every answer must be:
    /// - the call ends by itself (unless it waits for more by design);
    /// - a unary call answers one response that decodes as its response type, a stream only
    ///   responses that do, and neither both;
    /// - a failure has a code other than OK, INTERNAL and UNKNOWN (those mean a handler threw
    ///   something it did not mean to) and a non-empty message; CANCELLED only when the harness
    ///   ended the call;
    /// - a request that is not a valid message is refused with INVALID_ARGUMENT.
    static func check(_ method: FuzzMethod, _ request: [UInt8], _ result: FuzzCallResult) throws(FuzzFinding) {
        let what = "\(method.name) with request \(request)"
        if result.timedOut, !method.waitsForMore {
            throw FuzzFinding("\(what) did not end within \(Self.callTimeLimit)")
        }
        for response in result.streamed where !method.decodesResponse(response) {
            throw FuzzFinding("\(what) streamed a response that is not its response type: \(response)")
        }
        let validRequest = method.decodesRequest(request)
        switch result.invocation {
        case .unknownMethod:
            throw FuzzFinding("\(what): the router does not serve it")
        case .response(let response):
            guard !method.isStreaming else { throw FuzzFinding("\(what): a stream answered as a unary call") }
            guard method.decodesResponse(response) else {
                throw FuzzFinding("\(what) answered bytes that are not its response type: \(response)")
            }
            guard validRequest else { throw FuzzFinding("\(what) answered an invalid request") }
        case .streamEnded:
            guard method.isStreaming else { throw FuzzFinding("\(what): a unary call answered as a stream") }
            guard validRequest else { throw FuzzFinding("\(what) served an invalid request") }
        case .failed(let error):
            guard !error.message.isEmpty else { throw FuzzFinding("\(what) failed with \(error.code) and no message") }
            switch error.code {
            case .internalError, .unknown, RPCError.Code(.ok):
                throw FuzzFinding("\(what) failed with \(error)")
            case .cancelled where !result.endedByHarness:
                throw FuzzFinding("\(what) was cancelled though nobody cancelled it: \(error)")
            default:
                break
            }
            if !validRequest, error.code != .invalidArgument {
                throw FuzzFinding("\(what): an invalid request is refused with \(error), not INVALID_ARGUMENT")
            }
        }
    }
}

/// Runs async work to its end from synchronous code (libFuzzer's callback), on the global
/// executor.
func runBlocking<Result: Sendable>(_ body: @escaping @Sendable () async -> Result) -> Result {
    let box = BlockingResult<Result>()
    let done = DispatchSemaphore(value: 0)
    Task {
        let result = await body()
        box.value.withLock { $0 = result }
        done.signal()
    }
    done.wait()
    // Set before the semaphore was signalled.
    return box.value.withLock { $0! }
}

/// Hands ``runBlocking(_:)``'s result from the task to the waiting thread.
private final class BlockingResult<Value: Sendable>: Sendable {
    let value = Mutex<Value?>(nil)
}
