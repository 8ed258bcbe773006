import Foundation
import Logging
import SegmentsRPC
import SegmentsWire
import SwiftProtobuf
import Synchronization
import Testing

/// `RPCRouter.invoke`: handlers run without a channel, answering as a connection would.
@Suite struct RPCRouterInvokeTests {
    let router = TestAPI.router(probe: Probe())
    let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    func payload(_ message: some Message) throws -> Data {
        try message.serializedData()
    }

    @Test func unaryHandlersOfEveryKindAnswerTheirResponse() async throws {
        let status = Segments_V1_Status.with { $0.message = "hi" }
        let inline = await self.router.invoke(
            TestAPI.inlineEcho.name,
            payload: try self.payload(status),
            logger: logger
        )
        guard case .response(let bytes) = inline else { throw TestFailure("inline: \(inline)") }
        #expect(try Segments_V1_Status(serializedBytes: bytes) == status)

        for seq: UInt64 in [2, 3] {
            let numbers = TestAPI.Numbers.with { $0.seq = seq }
            let first = await self.router.invoke(
                TestAPI.inlineFirst.name,
                payload: try self.payload(numbers),
                logger: logger
            )
            guard case .response(let bytes) = first else { throw TestFailure("inline first: \(first)") }
            // Odd: answered by the async fallback, which sets now_ms.
            #expect(try TestAPI.Numbers(serializedBytes: bytes).nowMs == (seq % 2 == 0 ? 0 : 1))
        }
    }

    @Test func failuresAreMappedAsOnAConnection() async throws {
        let status = Segments_V1_Status.with {
            $0.code = .notFound
            $0.message = "nope"
        }
        let failed = await self.router.invoke(TestAPI.asyncFail.name, payload: try self.payload(status), logger: logger)
        guard case .failed(let error) = failed else { throw TestFailure("\(failed)") }
        #expect(error == RPCError(.notFound, "nope"))

        let crashed = await self.router.invoke(TestAPI.asyncCrash.name, payload: Data(), logger: logger)
        guard case .failed(let hidden) = crashed else { throw TestFailure("\(crashed)") }
        #expect(hidden == RPCError(.internalError, "internal error"))

        let garbage = await self.router.invoke(TestAPI.inlineEcho.name, payload: Data([0xFF]), logger: logger)
        guard case .failed(let invalid) = garbage else { throw TestFailure("\(garbage)") }
        #expect(invalid.code == .invalidArgument)

        let unknown = await self.router.invoke(TestAPI.missing.name, payload: Data(), logger: logger)
        guard case .unknownMethod = unknown else { throw TestFailure("\(unknown)") }
    }

    @Test func streamsHandEachResponseToTheCollector() async throws {
        let responses = Mutex<[UInt64]>([])
        let request = TestAPI.Numbers.with {
            $0.seq = 3
            $0.nowMs = Int64(Segments_V1_StatusCode.aborted.rawValue)
        }
        #expect(self.router.isStreaming(TestAPI.count.name))
        #expect(!self.router.isStreaming(TestAPI.inlineEcho.name))
        let ended = await self.router.invoke(TestAPI.count.name, payload: try self.payload(request), logger: logger) {
            bytes in
            let number = try TestAPI.Numbers(serializedBytes: bytes)
            responses.withLock { $0.append(number.seq) }
        }
        guard case .failed(let error) = ended else { throw TestFailure("\(ended)") }
        #expect(error.code == .aborted)
        #expect(responses.withLock { $0 } == [0, 1, 2])
    }

    @Test func aCollectorThatThrowsEndsTheStream() async throws {
        let ended = await self.router.invoke(TestAPI.infinite.name, payload: Data(), logger: logger) { _ in
            throw CancellationError()
        }
        guard case .failed(let error) = ended else { throw TestFailure("\(ended)") }
        #expect(error.code == .cancelled)
        #expect(self.router.methodNames.contains(TestAPI.infinite.name))
    }
}
