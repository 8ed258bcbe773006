import Foundation
import NIOCore
import SegmentsWire
import SwiftProtobuf
import Testing

/// The hand-written envelope writers must produce exactly what the generated
/// `Segments_V1_RequestFrame` / `Segments_V1_ResponseFrame` decode.
@Suite struct FrameEnvelopeTests {
    /// Every status code, including values no version of `rpc.proto` declares and a negative one
    /// (legal for a proto3 enum; it must not trap the writer).
    private static let codes: [Segments_V1_StatusCode] =
        Segments_V1_StatusCode.allCases + [
            .UNRECOGNIZED(17), .UNRECOGNIZED(1000), .UNRECOGNIZED(Int(Int32.max)), .UNRECOGNIZED(-1),
        ]

    /// Splits one written frame into its length prefix and body, checking the prefix.
    private static func body(of buffer: ByteBuffer) throws -> ByteBuffer {
        var buffer = buffer
        guard let length = buffer.readInteger(endianness: .big, as: UInt32.self) else {
            throw FramingError.truncatedFrame(bufferedBytes: buffer.readableBytes)
        }
        #expect(Int(length) == buffer.readableBytes, "the length prefix covers exactly the rest")
        return buffer
    }

    private static func randomPayload(_ random: inout SeededRandom) -> [UInt8] {
        switch random.int(0...9) {
        case 0...2: []
        case 3: random.bytes(count: random.int(16_000...70_000))  // multi-byte length varints
        default: random.bytes(count: random.int(1...200))
        }
    }

    // MARK: - Request frames

    @Test func requestFramesDecodeWithTheGeneratedType() throws {
        var random = SeededRandom(seed: 42)
        for round in 0..<500 {
            let callID = random.varintValue()
            let method = random.chance(0.5) ? "segments.v1.ProfileStore/UpsertProfiles" : random.text()
            let payload = Self.randomPayload(&random)
            let cancel = random.chance(0.2)

            var buffer = ByteBuffer()
            buffer.writeRequestFrame(callID: callID, method: method, payload: payload, cancel: cancel)
            let decoded = try Segments_V1_RequestFrame(buffer: Self.body(of: buffer))

            #expect(decoded.callID == callID, "round \(round)")
            #expect(decoded.method == method, "round \(round)")
            #expect(decoded.payload == Data(payload), "round \(round)")
            #expect(decoded.cancel == cancel, "round \(round)")
            if callID != 0 {
                // Same field order and proto3 default elision: byte-for-byte what SwiftProtobuf writes.
                let expected: [UInt8] = try decoded.serializedBytes()
                #expect(Array(try Self.body(of: buffer).readableBytesView) == expected, "round \(round)")
            }
        }
    }

    @Test func cancelFrameCarriesOnlyTheCallID() throws {
        var buffer = ByteBuffer()
        buffer.writeRequestFrame(callID: 7, method: "", payload: [], cancel: true)
        let decoded = try Segments_V1_RequestFrame(buffer: Self.body(of: buffer))
        var expected = Segments_V1_RequestFrame()
        expected.callID = 7
        expected.cancel = true
        #expect(decoded == expected)
    }

    @Test func severalFramesAppendedToOneBufferStaySeparate() throws {
        var buffer = ByteBuffer()
        for id in UInt64(1)...5 {
            buffer.writeRequestFrame(callID: id, method: "m\(id)", payload: Array(repeating: UInt8(id), count: Int(id)))
        }
        let processor = NIOSingleStepByteToMessageProcessor(FrameDecoder())
        var decoded: [Segments_V1_RequestFrame] = []
        try processor.process(buffer: buffer) { decoded.append(try Segments_V1_RequestFrame(buffer: $0)) }
        #expect(decoded.map(\.callID) == [1, 2, 3, 4, 5])
        #expect(decoded.map(\.method) == ["m1", "m2", "m3", "m4", "m5"])
        #expect(decoded.map(\.payload.count) == [1, 2, 3, 4, 5])
    }

    // MARK: - Response frames

    @Test func responseFramesDecodeWithTheGeneratedType() throws {
        var random = SeededRandom(seed: 7)
        for round in 0..<500 {
            let callID = random.varintValue()
            let payload = Self.randomPayload(&random)
            let end = random.chance(0.6)
            let error: RPCError? =
                end && random.chance(0.6)
                ? RPCError(RPCError.Code(random.pick(Self.codes)), random.text(maximumLength: 300)) : nil

            var buffer = ByteBuffer()
            buffer.writeResponseFrame(callID: callID, payload: payload, end: end, error: error)
            let decoded = try Segments_V1_ResponseFrame(buffer: Self.body(of: buffer))

            #expect(decoded.callID == callID, "round \(round)")
            #expect(decoded.payload == Data(payload), "round \(round)")
            #expect(decoded.end == end, "round \(round)")
            #expect(decoded.hasStatus == end, "round \(round): the status travels on end frames only")
            #expect(decoded.status.code == (error?.code.wireValue ?? .ok), "round \(round)")
            #expect(decoded.status.message == (error?.message ?? ""), "round \(round)")
            if let error, end {
                #expect(RPCError(status: decoded.status) == error, "round \(round)")
            }
            if callID != 0 {
                let expected: [UInt8] = try decoded.serializedBytes()
                #expect(Array(try Self.body(of: buffer).readableBytesView) == expected, "round \(round)")
            }
        }
    }

    @Test func okEndFrameHasAnEmptyStatus() throws {
        var buffer = ByteBuffer()
        buffer.writeResponseFrame(callID: 3, payload: [], end: true)
        let decoded = try Segments_V1_ResponseFrame(buffer: Self.body(of: buffer))
        #expect(decoded.end)
        #expect(decoded.hasStatus)
        #expect(decoded.status == Segments_V1_Status())
    }

    @Test func everyErrorRoundTripsThroughItsStatus() {
        for code in Self.codes {
            let error = RPCError(RPCError.Code(code), "message for \(code)")
            #expect(RPCError(status: error.status) == error)
            #expect(error.description.hasPrefix(error.code.description + ": "))
        }
        #expect(RPCError.Code.notFound.description == "NOT_FOUND")
        #expect(RPCError.Code(.UNRECOGNIZED(99)).description == "CODE_99")
    }

    // MARK: - Message decoding helper

    @Test func messageInitFromBufferReadsOnlyTheReadableBytes() throws {
        let status = Segments_V1_Status.with {
            $0.code = .notFound
            $0.message = "no such user"
        }
        var buffer = ByteBuffer(bytes: [0xFF, 0xFF])
        buffer.writeBytes(try status.serializedBytes() as [UInt8])
        buffer.moveReaderIndex(forwardBy: 2)
        #expect(try Segments_V1_Status(buffer: buffer) == status)
    }

    @Test func invalidBytesAreADecodingError() {
        // Field 1 as a varint that never ends.
        let buffer = ByteBuffer(bytes: [0x08, 0xFF, 0xFF, 0xFF])
        #expect(throws: (any Error).self) {
            try Segments_V1_RequestFrame(buffer: buffer)
        }
    }
}
