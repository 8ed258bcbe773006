import NIOCore
import SegmentsWire
import Testing

/// The frame decoder, driven the way `ByteToMessageHandler` drives it: through NIOCore's
/// `NIOSingleStepByteToMessageProcessor`, which accumulates reads, calls `decode` until it
/// returns `nil` and `decodeLast` at EOF.
@Suite struct FrameDecoderTests {
    // MARK: - Helpers

    /// The bytes of `payloads` framed one after the other.
    private static func stream(of payloads: [[UInt8]]) -> [UInt8] {
        var bytes: [UInt8] = []
        for payload in payloads {
            withUnsafeBytes(of: UInt32(payload.count).bigEndian) { bytes.append(contentsOf: $0) }
            bytes.append(contentsOf: payload)
        }
        return bytes
    }

    /// Feeds `bytes` in chunks of the sizes `chunkSize` picks, then signals EOF, and returns every
    /// frame decoded along the way.
    private static func decode(
        _ bytes: [UInt8],
        maximumFrameLength: Int = FrameDecoder.defaultMaximumFrameLength,
        chunkSize: (inout SeededRandom) -> Int
    ) throws -> [[UInt8]] {
        var random = SeededRandom(seed: UInt64(bytes.count))
        let processor = NIOSingleStepByteToMessageProcessor(FrameDecoder(maximumFrameLength: maximumFrameLength))
        var frames: [[UInt8]] = []
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + max(1, chunkSize(&random)))
            try processor.process(buffer: ByteBuffer(bytes: bytes[offset..<end])) {
                frames.append(Array($0.readableBytesView))
            }
            offset = end
        }
        try processor.finishProcessing(seenEOF: true) { frames.append(Array($0.readableBytesView)) }
        return frames
    }

    private static func randomPayloads(_ random: inout SeededRandom, count: Int) -> [[UInt8]] {
        (0..<count).map { _ in
            random.chance(0.15) ? [] : random.bytes(count: random.int(1...(random.chance(0.1) ? 70_000 : 300)))
        }
    }

    // MARK: - Delivery patterns

    @Test func framesDeliveredOneByteAtATimeDecodeIdentically() throws {
        var random = SeededRandom(seed: 1)
        let payloads = Self.randomPayloads(&random, count: 40)
        let frames = try Self.decode(Self.stream(of: payloads)) { _ in 1 }
        #expect(frames == payloads)
    }

    @Test func framesDeliveredInRandomChunksDecodeIdentically() throws {
        for seed in UInt64(1)...20 {
            var random = SeededRandom(seed: seed)
            let payloads = Self.randomPayloads(&random, count: random.int(1...30))
            let frames = try Self.decode(Self.stream(of: payloads)) { $0.int(1...9000) }
            #expect(frames == payloads, "seed \(seed)")
        }
    }

    @Test func severalFramesInOneReadAllComeOut() throws {
        let payloads: [[UInt8]] = [[1], [2, 2], [], Array(repeating: 3, count: 1000), [4, 4, 4, 4]]
        let processor = NIOSingleStepByteToMessageProcessor(FrameDecoder())
        var frames: [[UInt8]] = []
        try processor.process(buffer: ByteBuffer(bytes: Self.stream(of: payloads))) {
            frames.append(Array($0.readableBytesView))
        }
        #expect(frames == payloads)
        try processor.finishProcessing(seenEOF: true) { _ in Issue.record("no frame expected at EOF") }
    }

    @Test func aFrameSplitAcrossReadsWaitsForItsLastByte() throws {
        var decoder = FrameDecoder()
        var buffer = ByteBuffer(bytes: [0, 0, 0, 5, 1, 2])
        #expect(try decoder.decode(buffer: &buffer) == nil)
        #expect(buffer.readableBytes == 6, "an incomplete frame is left in place")
        buffer.writeBytes([3, 4])
        #expect(try decoder.decode(buffer: &buffer) == nil)
        buffer.writeBytes([5, 6])
        let frame = try decoder.decode(buffer: &buffer)
        #expect(frame.map { Array($0.readableBytesView) } == [1, 2, 3, 4, 5])
        #expect(Array(buffer.readableBytesView) == [6], "the next frame's bytes stay buffered")
    }

    @Test func zeroLengthFramesAreEmptyFrames() throws {
        let payloads: [[UInt8]] = [[], [], [9], [], []]
        #expect(try Self.decode(Self.stream(of: payloads)) { _ in 1 } == payloads)
        #expect(try Self.decode(Self.stream(of: payloads)) { _ in 100 } == payloads)

        var decoder = FrameDecoder(maximumFrameLength: 0)
        var buffer = ByteBuffer(bytes: [0, 0, 0, 0])
        let frame = try decoder.decode(buffer: &buffer)
        #expect(frame?.readableBytes == 0)
        #expect(buffer.readableBytes == 0)
    }

    // MARK: - Limits

    @Test func oversizedLengthIsRefusedFromTheHeaderAlone() throws {
        let oneGiB = 1 << 30
        let processor = NIOSingleStepByteToMessageProcessor(FrameDecoder())
        var header = ByteBuffer()
        header.writeInteger(UInt32(oneGiB), endianness: .big)
        #expect(throws: FramingError.frameTooLarge(length: oneGiB, limit: FrameDecoder.defaultMaximumFrameLength)) {
            try processor.process(buffer: header) { _ in Issue.record("no frame expected") }
        }
    }

    @Test func oversizedLengthIsRefusedEvenWhenTheHeaderArrivesByteByByte() throws {
        var decoder = FrameDecoder(maximumFrameLength: 1024)
        var buffer = ByteBuffer()
        for byte: UInt8 in [0xFF, 0xFF, 0xFF] {
            buffer.writeInteger(byte)
            #expect(try decoder.decode(buffer: &buffer) == nil, "three header bytes are not enough to judge")
        }
        buffer.writeInteger(UInt8(0xFF))
        #expect(throws: FramingError.frameTooLarge(length: Int(UInt32.max), limit: 1024)) {
            try decoder.decode(buffer: &buffer)
        }
    }

    @Test func theLimitItselfIsAcceptedAndOneMoreIsNot() throws {
        let limit = 4096
        let atLimit = Array(repeating: UInt8(7), count: limit)
        #expect(try Self.decode(Self.stream(of: [atLimit]), maximumFrameLength: limit) { _ in 1000 } == [atLimit])

        var decoder = FrameDecoder(maximumFrameLength: limit)
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(limit + 1), endianness: .big)
        #expect(throws: FramingError.frameTooLarge(length: limit + 1, limit: limit)) {
            try decoder.decode(buffer: &buffer)
        }
    }

    @Test func theDefaultLimitIs16MiB() {
        #expect(FrameDecoder().maximumFrameLength == 16 * 1024 * 1024)
        #expect(FrameDecoder.headerLength == 4)
    }

    // MARK: - Garbage and truncation

    @Test func textGarbageReadsAsAHugeLengthAndIsRefused() throws {
        let processor = NIOSingleStepByteToMessageProcessor(FrameDecoder())
        let garbage = ByteBuffer(string: "GET / HTTP/1.1\r\nHost: example\r\n\r\n")
        #expect(throws: FramingError.self) {
            try processor.process(buffer: garbage) { _ in Issue.record("no frame expected") }
        }
    }

    @Test func randomGarbageNeverCrashesAndNeverYieldsAnOversizedFrame() {
        for seed in UInt64(1)...300 {
            var random = SeededRandom(seed: seed)
            let limit = random.int(0...2000)
            var bytes = random.bytes(count: random.int(0...5000))
            if random.chance(0.5), bytes.count >= 4 {
                // A plausible first header so some garbage gets past the first check.
                bytes[0] = 0
                bytes[1] = 0
            }
            let processor = NIOSingleStepByteToMessageProcessor(FrameDecoder(maximumFrameLength: limit))
            var offset = 0
            do {
                while offset < bytes.count {
                    let end = min(bytes.count, offset + random.int(1...700))
                    try processor.process(buffer: ByteBuffer(bytes: bytes[offset..<end])) { frame in
                        #expect(frame.readableBytes <= limit)
                    }
                    offset = end
                }
                try processor.finishProcessing(seenEOF: true) { frame in
                    #expect(frame.readableBytes <= limit)
                }
            } catch let error as FramingError {
                switch error {
                case .frameTooLarge(let length, let reportedLimit):
                    #expect(length > limit && reportedLimit == limit, "seed \(seed)")
                case .truncatedFrame(let buffered):
                    #expect(buffered > 0, "seed \(seed)")
                }
            } catch {
                Issue.record("seed \(seed): unexpected error \(error)")
            }
        }
    }

    @Test func truncatedPayloadAtEOFThrows() throws {
        let processor = NIOSingleStepByteToMessageProcessor(FrameDecoder())
        var frames = 0
        try processor.process(buffer: ByteBuffer(bytes: Self.stream(of: [[1, 2, 3]]) + [0, 0, 0, 10, 1, 2])) { _ in
            frames += 1
        }
        #expect(frames == 1, "the complete frame before the truncated one is delivered")
        #expect(throws: FramingError.truncatedFrame(bufferedBytes: 6)) {
            try processor.finishProcessing(seenEOF: true) { _ in Issue.record("no frame expected") }
        }
    }

    @Test func truncatedHeaderAtEOFThrows() throws {
        var decoder = FrameDecoder()
        var buffer = ByteBuffer(bytes: [0, 0])
        #expect(try decoder.decode(buffer: &buffer) == nil)
        #expect(throws: FramingError.truncatedFrame(bufferedBytes: 2)) {
            try decoder.decodeLast(buffer: &buffer, seenEOF: true)
        }
    }

    @Test func cleanEOFBetweenFramesIsNotAnError() throws {
        var decoder = FrameDecoder()
        var buffer = ByteBuffer(bytes: Self.stream(of: [[1], [2]]))
        #expect(try decoder.decodeLast(buffer: &buffer, seenEOF: true).map { Array($0.readableBytesView) } == [1])
        #expect(try decoder.decodeLast(buffer: &buffer, seenEOF: true).map { Array($0.readableBytesView) } == [2])
        #expect(try decoder.decodeLast(buffer: &buffer, seenEOF: true) == nil)
    }

    @Test func errorDescriptionsNameTheSizes() {
        #expect(FramingError.frameTooLarge(length: 20, limit: 10).description.contains("20"))
        #expect(FramingError.truncatedFrame(bufferedBytes: 3).description.contains("3 bytes"))
    }
}
