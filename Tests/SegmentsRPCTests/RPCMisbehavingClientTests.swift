import NIOCore
import SegmentsRPC
import SegmentsWire
import SwiftProtobuf
import Testing

/// Clients that break the protocol, written on raw sockets: the server must close just their
/// connection, cleanly, and keep serving everyone else.
@Suite(.timeLimit(.minutes(1))) struct RPCMisbehavingClientTests {
    enum Misbehavior: String, CaseIterable, Sendable, CustomTestStringConvertible {
        /// A well-framed payload that is not a valid RequestFrame.
        case invalidEnvelope
        /// Text where a frame should be (its first 4 bytes read as a huge length).
        case textGarbage
        /// A length prefix over the limit, with no payload following.
        case oversizedLength
        /// A header announcing 100 bytes, 10 of them, then the client stops sending.
        case truncatedFrame
        /// A call id reused while that call is still in flight.
        case reusedCallID

        var testDescription: String { self.rawValue }
    }

    @Test func rawClientSpeakingTheProtocolGetsItsAnswer() async throws {
        let probe = Probe()
        try await TestServer.with(router: TestAPI.router(probe: probe)) { server in
            let socket = try RawSocket(path: server.socketPath)
            let response = await offThePool { () -> Segments_V1_ResponseFrame? in
                var out = ByteBuffer()
                out.writeRequestFrame(callID: 77, method: TestAPI.inlineEcho.name, payload: [0x12, 0x02, 0x68, 0x69])
                guard socket.write(Array(out.readableBytesView)), let frame = socket.readFrame() else { return nil }
                return try? Segments_V1_ResponseFrame(serializedBytes: frame)
            }
            let frame = try #require(response)
            #expect(frame.callID == 77)
            #expect(frame.end && frame.status.code == .ok)
            #expect(try Segments_V1_Status(serializedBytes: frame.payload).message == "hi")
        }
    }

    @Test(arguments: Misbehavior.allCases)
    func serverClosesOnlyTheMisbehavingConnection(_ misbehavior: Misbehavior) async throws {
        let probe = Probe()
        try await TestServer.with(router: TestAPI.router(probe: probe), maximumFrameLength: 1 << 20) { server in
            let bystander = try await server.connect()
            // A bystander stream in flight on another connection must not notice anything.
            let bystanderStream = bystander.stream(TestAPI.count, .with { $0.seq = 500 })
            var bystanderIterator = bystanderStream.makeAsyncIterator()
            #expect(try await bystanderIterator.next()?.seq == 0)

            let socket = try RawSocket(path: server.socketPath)
            let started = ContinuousClock.now
            let (ending, _) = await offThePool {
                switch misbehavior {
                case .invalidEnvelope:
                    // Field 1 (call_id) as a varint that never terminates.
                    socket.write(.frame([0x08, 0xFF, 0xFF, 0xFF, 0xFF]))
                case .textGarbage:
                    socket.write(Array("GET / HTTP/1.1\r\nHost: segments\r\n\r\n".utf8))
                case .oversizedLength:
                    socket.write(.header(announcing: 1 << 30))
                case .truncatedFrame:
                    socket.write(.header(announcing: 100) + [UInt8](repeating: 0x0A, count: 10))
                    socket.shutdownWrite()
                case .reusedCallID:
                    var out = ByteBuffer()
                    for _ in 0..<2 {
                        out.writeRequestFrame(callID: 5, method: TestAPI.infinite.name, payload: [])
                    }
                    socket.write(Array(out.readableBytesView))
                }
                return socket.drainUntilEnd()
            }
            #expect(ending == .closed, "\(misbehavior): the server should close the connection")
            #expect(ContinuousClock.now - started < .seconds(4), "\(misbehavior): closed promptly")
            if misbehavior == .reusedCallID {
                // The first call's stream was cancelled with its connection.
                try await probe.waitFor(.infiniteCancelled)
            }

            // A second, well-behaved connection works…
            let fresh = try await server.connect()
            #expect(try await fresh.call(TestAPI.asyncEcho, .with { $0.seq = 11 }).seq == 11)
            await fresh.close()
            // …and so does the bystander, stream included.
            var rest: [UInt64] = []
            while let message = try await bystanderIterator.next() {
                rest.append(message.seq)
            }
            #expect(rest == Array(1..<500))
            #expect(try await bystander.call(TestAPI.inlineEcho, .with { $0.message = "ok" }).message == "ok")
            await bystander.close()
        }
    }

    @Test func cancelForAnUnknownCallIsIgnored() async throws {
        let probe = Probe()
        try await TestServer.with(router: TestAPI.router(probe: probe)) { server in
            let socket = try RawSocket(path: server.socketPath)
            let response = await offThePool { () -> Segments_V1_ResponseFrame? in
                var out = ByteBuffer()
                out.writeRequestFrame(callID: 1234, method: "", payload: [], cancel: true)
                out.writeRequestFrame(callID: 1, method: TestAPI.inlineEcho.name, payload: [])
                guard socket.write(Array(out.readableBytesView)), let frame = socket.readFrame() else { return nil }
                return try? Segments_V1_ResponseFrame(serializedBytes: frame)
            }
            let frame = try #require(response, "the connection survives a stray cancel")
            #expect(frame.callID == 1)
            #expect(frame.status.code == .ok)
        }
    }

    @Test func emptyMethodIsUnimplementedNotACrash() async throws {
        let probe = Probe()
        try await TestServer.with(router: TestAPI.router(probe: probe)) { server in
            let socket = try RawSocket(path: server.socketPath)
            let response = await offThePool { () -> Segments_V1_ResponseFrame? in
                guard socket.write(.frame([])), let frame = socket.readFrame() else { return nil }
                return try? Segments_V1_ResponseFrame(serializedBytes: frame)
            }
            let frame = try #require(response)
            #expect(frame.callID == 0)
            #expect(frame.end)
            #expect(frame.status.code == .unimplemented)
        }
    }
}
