import SegmentsRPC
import SegmentsWire
import SwiftProtobuf
import Synchronization
import Testing

/// Server-streaming calls: end markers, errors, cancellation and flow control.
@Suite(.timeLimit(.minutes(1))) struct RPCStreamTests {
    private typealias Numbers = TestAPI.Numbers

    @Test(arguments: [0, 1, 2_000])
    func streamDeliversEveryMessageInOrderThenEnds(count: Int) async throws {
        let probe = Probe()
        try await TestServer.with(router: TestAPI.router(probe: probe)) { server in
            let connection = try await server.connect()
            var received: [UInt64] = []
            for try await message in connection.stream(TestAPI.count, .with { $0.seq = UInt64(count) }) {
                received.append(message.seq)
            }
            #expect(received.count == count)
            #expect(received == Array(0..<UInt64(count)), "messages in order, the all-default one (seq 0) included")
            // The end marker leaves the connection usable.
            #expect(try await connection.call(TestAPI.asyncEcho, .with { $0.seq = 5 }).seq == 5)
            await connection.close()
        }
    }

    @Test func streamEndingWithAnErrorDeliversItsMessagesThenThrows() async throws {
        let probe = Probe()
        try await TestServer.with(router: TestAPI.router(probe: probe)) { server in
            let connection = try await server.connect()
            var received: [UInt64] = []
            let request = Numbers.with {
                $0.seq = 3
                $0.nowMs = Int64(Segments_V1_StatusCode.dataLoss.rawValue)
            }
            let error = await #expect(throws: RPCError.self) {
                for try await message in connection.stream(TestAPI.count, request) {
                    received.append(message.seq)
                }
            }
            #expect(received == [0, 1, 2])
            #expect(error == RPCError(.dataLoss, "ended"))
            await connection.close()
        }
    }

    @Test func concurrentStreamsAndUnaryCallsShareOneConnection() async throws {
        let probe = Probe()
        try await TestServer.with(router: TestAPI.router(probe: probe)) { server in
            let connection = try await server.connect()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<20 {
                    group.addTask {
                        if index % 2 == 0 {
                            let count = UInt64(50 + index)
                            var received: UInt64 = 0
                            for try await message in connection.stream(TestAPI.count, .with { $0.seq = count }) {
                                #expect(message.seq == received)
                                received += 1
                            }
                            #expect(received == count)
                        } else {
                            let tag = UInt64(index)
                            #expect(
                                try await connection.call(
                                    TestAPI.asyncEcho,
                                    .with {
                                        $0.seq = tag
                                        $0.nowMs = 3
                                    }
                                ).seq == tag
                            )
                        }
                    }
                }
                try await group.waitForAll()
            }
            await connection.close()
        }
    }

    @Test func droppingTheIteratorCancelsTheCallOnTheServer() async throws {
        let probe = Probe()
        try await TestServer.with(router: TestAPI.router(probe: probe)) { server in
            let connection = try await server.connect()
            try await Self.readThenDrop(connection, messages: 3)
            try await probe.waitFor(.infiniteCancelled)
            // The connection stays usable, and a new stream on it works.
            #expect(try await connection.call(TestAPI.asyncEcho, .with { $0.seq = 8 }).seq == 8)
            try await Self.readThenDrop(connection, messages: 1)
            try await probe.waitFor(.infiniteCancelled, times: 2)
            #expect(connection.isActive)
            await connection.close()
        }
    }

    @Test func breakingOutOfForAwaitCancelsTheCallOnTheServer() async throws {
        let probe = Probe()
        try await TestServer.with(router: TestAPI.router(probe: probe)) { server in
            let connection = try await server.connect()
            var received = 0
            for try await _ in connection.stream(TestAPI.infinite, .init()) {
                received += 1
                if received == 5 { break }
            }
            try await probe.waitFor(.infiniteCancelled)
            await connection.close()
        }
    }

    @Test func closingTheConnectionCancelsItsStreamsOnTheServer() async throws {
        let probe = Probe()
        try await TestServer.with(router: TestAPI.router(probe: probe)) { server in
            let connection = try await server.connect()
            let stream = connection.stream(TestAPI.infinite, .init())
            var iterator = stream.makeAsyncIterator()
            _ = try await iterator.next()
            await connection.close()
            try await probe.waitFor(.infiniteCancelled)
            // The consumer sees the call fail rather than hang.
            await #expect(throws: RPCError.self) {
                while try await iterator.next() != nil {}
            }
        }
    }

    @Test func slowReaderMakesTheServerWaitInsteadOfBuffering() async throws {
        let probe = Probe()
        try await TestServer.with(router: TestAPI.router(probe: probe), maximumFrameLength: 1 << 20) { server in
            let connection = try await server.connect()
            do {
                let stream = connection.stream(TestAPI.bulk, .init())
                var iterator = stream.makeAsyncIterator()
                var consumed = 0
                for _ in 0..<40 {
                    let message = try #require(try await iterator.next())
                    #expect(message.payload.count == TestAPI.bulkMessageSize)
                    consumed += 1
                    try await Task.sleep(for: .milliseconds(10))
                }
                // Give a server that ignored back-pressure plenty of time to run ahead.
                try await Task.sleep(for: .milliseconds(700))
                let ahead = probe.produced.load(ordering: .relaxed) - consumed
                // What may legitimately sit between handler and consumer: the stream's window
                // (16 frames) and the one write in progress.
                #expect(ahead <= 17, "the handler ran \(ahead) messages (\(ahead * 64) KiB) ahead of the reader")
                #expect(probe.produced.load(ordering: .relaxed) < TestAPI.bulkMessageCount)

                // Reading on lets the handler continue.
                for _ in 0..<100 {
                    _ = try #require(try await iterator.next())
                    consumed += 1
                }
                #expect(probe.produced.load(ordering: .relaxed) >= consumed)
            }
            try await probe.waitFor(.bulkCancelled)
            await connection.close()
        }
    }

    /// Starts an infinite stream, reads `messages` of it, then lets the stream and its iterator go.
    private static func readThenDrop(_ connection: RPCConnection, messages: Int) async throws {
        let stream = connection.stream(TestAPI.infinite, .init())
        var iterator = stream.makeAsyncIterator()
        for expected in 0..<UInt64(messages) {
            #expect(try await iterator.next()?.seq == expected)
        }
    }
}
