import NIOCore
import SegmentsRPC
import SegmentsWire
import SwiftProtobuf
import Synchronization
import Testing

/// Per-stream flow control (`rpc.proto`): a stream whose consumer stops reading holds up only
/// itself; the server never sends a stream more than its window; windowless streams (older or
/// foreign clients) still work; a cancelled unary call ends at once.
@Suite(.timeLimit(.minutes(1))) struct RPCFlowControlTests {
    private typealias Numbers = TestAPI.Numbers

    /// The evaluator's stall (issue 10) in miniature: one stream left unread with far more to
    /// send than any buffer holds, then a unary call and a whole second stream on the same
    /// connection. Both must finish; the unread stream's handler must wait at its window.
    @Test func aStreamNobodyReadsHoldsUpNothingElseOnItsConnection() async throws {
        let probe = Probe()
        try await TestServer.with(router: TestAPI.router(probe: probe), maximumFrameLength: 1 << 20) { server in
            let connection = try await server.connect()
            let unread = connection.stream(TestAPI.bulk, .init(), window: 8)
            var unreadIterator = unread.makeAsyncIterator()
            _ = try #require(try await unreadIterator.next())

            let echoed = try await withTimeout(.seconds(10), "a unary call beside the unread stream") {
                try await connection.call(TestAPI.asyncEcho, .with { $0.seq = 41 }).seq
            }
            #expect(echoed == 41)
            let counted = try await withTimeout(.seconds(10), "a second stream beside the unread one") {
                var count = 0
                for try await message in connection.stream(TestAPI.count, .with { $0.seq = 3_000 }) {
                    #expect(message.seq == UInt64(count))
                    count += 1
                }
                return count
            }
            #expect(counted == 3_000)
            // One taken, the window of 8, one write in progress: nothing more was produced.
            try await Task.sleep(for: .milliseconds(300))
            let produced = probe.produced.load(ordering: .relaxed)
            #expect(produced <= 1 + 8 + 1, "the unread stream's handler produced \(produced) messages")

            // Reading on resumes it, and dropping it cancels it on the server.
            for _ in 0..<50 {
                _ = try #require(try await unreadIterator.next())
            }
            _ = consume unreadIterator
            try await probe.waitFor(.bulkCancelled)
            #expect(try await connection.call(TestAPI.asyncEcho, .with { $0.seq = 42 }).seq == 42)
            await connection.close()
        }
    }

    /// On the wire: with a window of 3 the server sends 3 frames and waits; each grant lets
    /// exactly that many more through; the end frame needs none.
    @Test func theServerSendsAStreamNoMoreFramesThanGranted() async throws {
        let probe = Probe()
        try await TestServer.with(router: TestAPI.router(probe: probe)) { server in
            let socket = try RawSocket(path: server.socketPath, receiveTimeout: .milliseconds(400))
            let request = try Numbers.with { $0.seq = 10 }.serializedBytes() as [UInt8]
            #expect(socket.write(Self.requestFrame(callID: 1, method: TestAPI.count.name, payload: request, window: 3)))
            #expect(await Self.readSeqs(socket, count: 4) == [0, 1, 2], "3 frames, then nothing")

            #expect(socket.write(Self.requestFrame(callID: 1, method: "", payload: [], window: 5)))
            #expect(await Self.readSeqs(socket, count: 6) == [3, 4, 5, 6, 7], "5 more after a grant of 5")

            #expect(socket.write(Self.requestFrame(callID: 1, method: "", payload: [], window: 2)))
            let rest = await offThePool { (0..<3).compactMap { _ in socket.readFrame() } }
            let frames = try rest.map { try Segments_V1_ResponseFrame(serializedBytes: $0) }
            #expect(frames.count == 3)
            #expect(frames.prefix(2).map { try? Numbers(serializedBytes: $0.payload).seq } == [8, 9])
            #expect(frames.last?.end == true && frames.last?.status.code == .ok)

            // A grant for a call that has ended is ignored; the connection goes on.
            #expect(socket.write(Self.requestFrame(callID: 1, method: "", payload: [], window: 4)))
            #expect(socket.write(Self.requestFrame(callID: 2, method: TestAPI.count.name, payload: request, window: 0)))
            let windowless = await offThePool { (0..<11).compactMap { _ in socket.readFrame() } }
            #expect(windowless.count == 11, "a stream without a window is sent whole: 10 frames and the end")
        }
    }

    /// A unary call whose task is cancelled throws CANCELLED at once, though the server has not
    /// answered; the connection stays usable.
    @Test func cancellingAUnaryCallEndsItAtOnce() async throws {
        let probe = Probe()
        try await TestServer.with(router: TestAPI.router(probe: probe)) { server in
            let connection = try await server.connect()
            let call = Task {
                try await connection.call(TestAPI.gated, .with { $0.seq = 1 })
            }
            try await probe.waitFor(.gatedStarted)
            call.cancel()
            let result = await call.result
            #expect(throws: RPCError(.cancelled, "call cancelled")) { try result.get() }
            #expect(try await connection.call(TestAPI.asyncEcho, .with { $0.seq = 9 }).seq == 9)
            probe.gate.open()
            await connection.close()
        }
    }

    private static func requestFrame(callID: UInt64, method: String, payload: [UInt8], window: UInt32) -> [UInt8] {
        var buffer = ByteBuffer()
        buffer.writeRequestFrame(callID: callID, method: method, payload: payload, window: window)
        return Array(buffer.readableBytesView)
    }

    /// Reads up to `count` frames (stopping at the receive timeout) and returns their messages'
    /// `seq`s.
    private static func readSeqs(_ socket: RawSocket, count: Int) async -> [UInt64] {
        let payloads = await offThePool { () -> [[UInt8]] in
            var frames: [[UInt8]] = []
            while frames.count < count, let frame = socket.readFrame() {
                frames.append(frame)
            }
            return frames
        }
        return payloads.compactMap { payload in
            guard let frame = try? Segments_V1_ResponseFrame(serializedBytes: payload), !frame.end else { return nil }
            return try? Numbers(serializedBytes: frame.payload).seq
        }
    }
}
