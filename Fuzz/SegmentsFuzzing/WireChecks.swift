import NIOCore
import SegmentsWire
import SwiftProtobuf

/// Checks of the wire layer on arbitrary bytes: the frame decoder, the request and response
/// envelopes and the hand-written fast decoders.
///
/// Input: a limit byte (the frame size limit is `16 × byte`, or the 16 MiB default for 255), a
/// chunking byte (how the stream is cut into reads), then the byte stream itself.
///
/// Properties:
/// - the decoder, fed the stream in arbitrary chunks, yields exactly the frames of a reference
///   split, refuses the first header over the limit with its length and the limit, and reports
///   a truncated tail with its size at the end of the stream;
/// - a frame that decodes as a `RequestFrame` is written back by `writeRequestFrame` to exactly
///   the bytes SwiftProtobuf serializes (unknown fields aside), and the same for `ResponseFrame`
///   and `writeResponseFrame`;
/// - where the fast `ChangeBatch` / `Event` decoders answer, SwiftProtobuf decodes the same bytes
///   to the same message; a filtered fast decode keeps exactly what the filter asks for; and a
///   message SwiftProtobuf decodes, serialized again without unknown fields, is one the fast
///   decoder answers (the shapes the store sends).
public enum WireChecks {
    /// Runs every check on one input.
    /// - Parameter input: the fuzz input.
    /// - Throws: ``FuzzFinding`` when a property does not hold.
    public static func check(_ input: [UInt8]) throws(FuzzFinding) {
        var reader = FuzzBytes(input)
        let limitByte = reader.byte()
        let limit = limitByte == 255 ? FrameDecoder.defaultMaximumFrameLength : Int(limitByte) * 16
        let chunking = reader.byte()
        let stream = reader.rest()
        let frames = try Self.checkFraming(stream, limit: limit, chunking: chunking)
        for frame in frames {
            try Self.checkRequestEnvelope(frame)
            try Self.checkResponseEnvelope(frame)
            try Self.checkFastDecoders(frame)
            // The envelopes' payloads are where the messages really are.
            if let request = try? Segments_V1_RequestFrame(serializedBytes: frame) {
                try Self.checkFastDecoders(Array(request.payload))
            }
            if let response = try? Segments_V1_ResponseFrame(serializedBytes: frame) {
                try Self.checkFastDecoders(Array(response.payload))
            }
        }
        // Bytes straight from the input are messages too, without a frame around them.
        try Self.checkFastDecoders(stream)
    }

    // MARK: - Framing

    private enum Outcome: Equatable {
        case ended
        case failed(FramingError)
    }

    /// Splits `stream` with `FrameDecoder` in chunks and compares with a reference split.
    /// - Returns: the frames' payloads.
    private static func checkFraming(_ stream: [UInt8], limit: Int, chunking: UInt8) throws(FuzzFinding) -> [[UInt8]] {
        // Reference: walk the headers.
        var expected: [[UInt8]] = []
        var expectedOutcome = Outcome.ended
        var offset = 0
        while true {
            let left = stream.count - offset
            if left == 0 { break }
            if left < 4 {
                expectedOutcome = .failed(.truncatedFrame(bufferedBytes: left))
                break
            }
            let length =
                Int(stream[offset]) << 24 | Int(stream[offset + 1]) << 16 | Int(stream[offset + 2]) << 8
                | Int(stream[offset + 3])
            if length > limit {
                expectedOutcome = .failed(.frameTooLarge(length: length, limit: limit))
                break
            }
            if left - 4 < length {
                expectedOutcome = .failed(.truncatedFrame(bufferedBytes: left))
                break
            }
            expected.append(Array(stream[(offset + 4)..<(offset + 4 + length)]))
            offset += 4 + length
        }

        // The decoder, as the channel runs it, over reads of 1 to 64 bytes (or all at once).
        let processor = NIOSingleStepByteToMessageProcessor(FrameDecoder(maximumFrameLength: limit))
        var got: [[UInt8]] = []
        var outcome = Outcome.ended
        var start = 0
        var step = UInt(chunking)
        do {
            while start < stream.count {
                let size = chunking == 0 ? stream.count : Int(step % 64) + 1
                step = step &* 31 &+ 7
                let end = min(stream.count, start + size)
                try processor.process(buffer: ByteBuffer(bytes: stream[start..<end])) { frame in
                    got.append(Array(frame.readableBytesView))
                }
                start = end
            }
            try processor.finishProcessing(seenEOF: true) { frame in
                got.append(Array(frame.readableBytesView))
            }
        } catch let error as FramingError {
            outcome = .failed(error)
        } catch {
            throw FuzzFinding("the frame decoder threw \(error), not a FramingError")
        }
        guard got == expected else {
            throw FuzzFinding(
                "frame decoder yielded \(got.map(\.count)) byte frames, expected \(expected.map(\.count)) (limit \(limit))"
            )
        }
        guard outcome == expectedOutcome else {
            throw FuzzFinding("frame decoder ended with \(outcome), expected \(expectedOutcome) (limit \(limit))")
        }
        if case .failed(let error) = outcome, error.description.isEmpty {
            throw FuzzFinding("a framing error has no description")
        }
        return got
    }

    // MARK: - Envelopes

    /// A frame that decodes as a `RequestFrame` is written back exactly as SwiftProtobuf would.
    private static func checkRequestEnvelope(_ bytes: [UInt8]) throws(FuzzFinding) {
        guard var frame = try? Segments_V1_RequestFrame(serializedBytes: bytes) else { return }
        frame.unknownFields = UnknownStorage()
        var written = ByteBuffer()
        written.writeRequestFrame(
            callID: frame.callID,
            method: frame.method,
            payload: Array(frame.payload),
            cancel: frame.cancel,
            window: frame.window
        )
        try Self.compareEnvelope(written, frame, what: "request")
    }

    /// A frame that decodes as a `ResponseFrame` is written back exactly as SwiftProtobuf would,
    /// given what `writeResponseFrame` can express (a status only on an end frame, and its
    /// message only with a code other than OK).
    private static func checkResponseEnvelope(_ bytes: [UInt8]) throws(FuzzFinding) {
        guard var frame = try? Segments_V1_ResponseFrame(serializedBytes: bytes) else { return }
        frame.unknownFields = UnknownStorage()
        let error = frame.status.code == .ok ? nil : RPCError(status: frame.status)
        if frame.end {
            var status = Segments_V1_Status()
            status.code = frame.status.code
            if error != nil { status.message = frame.status.message }
            frame.status = status
        } else {
            frame.clearStatus()
        }
        var written = ByteBuffer()
        written.writeResponseFrame(callID: frame.callID, payload: Array(frame.payload), end: frame.end, error: error)
        try Self.compareEnvelope(written, frame, what: "response")
    }

    private static func compareEnvelope<Frame: Message & Equatable>(
        _ written: ByteBuffer,
        _ frame: Frame,
        what: String
    ) throws(FuzzFinding) {
        var written = written
        guard let length = written.readInteger(endianness: .big, as: UInt32.self),
            Int(length) == written.readableBytes
        else {
            throw FuzzFinding("the \(what) frame's length prefix does not match its size")
        }
        var body = Array(written.readableBytesView)
        guard let decoded = try? Frame(serializedBytes: body), decoded == frame else {
            throw FuzzFinding("hand-written \(what) frame \(body) does not decode to \(frame)")
        }
        let reference: [UInt8]
        do {
            reference = try frame.serializedBytes()
        } catch {
            throw FuzzFinding("SwiftProtobuf cannot serialize a decoded \(what) frame: \(error)")
        }
        // The writer always writes call_id (field 1, tag 0x08) first, even 0, which SwiftProtobuf leaves out.
        if body.starts(with: [0x08, 0x00]), !reference.starts(with: [0x08]) {
            body.removeFirst(2)
        }
        guard body == reference else {
            throw FuzzFinding("hand-written \(what) frame \(body) differs from SwiftProtobuf's \(reference)")
        }
    }

    // MARK: - Fast decoders

    static func checkFastDecoders(_ bytes: [UInt8]) throws(FuzzFinding) {
        try Self.checkFastEvent(bytes)
        try Self.checkFastChangeBatch(bytes)
    }

    private static func checkFastEvent(_ bytes: [UInt8]) throws(FuzzFinding) {
        let fast = bytes.withUnsafeBytes { Segments_V1_Event(fastDecoding: $0) }
        let slow = try? Segments_V1_Event(serializedBytes: bytes)
        if let fast {
            guard let slow else {
                throw FuzzFinding("fast Event decoder accepts bytes SwiftProtobuf refuses: \(bytes)")
            }
            try Self.requireSame(fast, slow, "fast Event decoder disagrees with SwiftProtobuf on \(bytes)")
        }
        guard let slow else { return }
        let canonical = Self.withoutUnknownFields(slow)
        let again = Self.serialized(canonical)
        guard let fastAgain = again.withUnsafeBytes({ Segments_V1_Event(fastDecoding: $0) }) else {
            throw FuzzFinding("fast Event decoder refuses SwiftProtobuf's own serialization \(again)")
        }
        try Self.requireSame(fastAgain, canonical, "fast Event decoder misreads SwiftProtobuf's \(again)")
    }

    private static func checkFastChangeBatch(_ bytes: [UInt8]) throws(FuzzFinding) {
        let fast = bytes.withUnsafeBytes { Segments_V1_ChangeBatch(fastDecoding: $0) }
        let slow = try? Segments_V1_ChangeBatch(serializedBytes: bytes)
        if let fast {
            guard let slow else {
                throw FuzzFinding("fast ChangeBatch decoder accepts bytes SwiftProtobuf refuses: \(bytes)")
            }
            try Self.requireSame(fast, slow, "fast ChangeBatch decoder disagrees with SwiftProtobuf on \(bytes)")
            try Self.checkFilters(bytes, full: fast)
        }
        guard let slow else { return }
        let canonical = Self.withoutUnknownFields(slow)
        let again = Self.serialized(canonical)
        guard let fastAgain = again.withUnsafeBytes({ Segments_V1_ChangeBatch(fastDecoding: $0) }) else {
            throw FuzzFinding("fast ChangeBatch decoder refuses SwiftProtobuf's own serialization \(again)")
        }
        try Self.requireSame(fastAgain, canonical, "fast ChangeBatch decoder misreads SwiftProtobuf's \(again)")
    }

    /// A filtered decode equals the full one with the left-out parts removed.
    private static func checkFilters(_ bytes: [UInt8], full: Segments_V1_ChangeBatch) throws(FuzzFinding) {
        var names: [String] = []
        for entry in full.entries {
            if case .eventsTracked(let tracked) = entry.change, let first = tracked.events.first {
                names.append(first.name)
            }
        }
        for profiles in [true, false] {
            let filter = ChangeFilter(profiles: profiles, eventNames: names)
            guard let filtered = bytes.withUnsafeBytes({ Segments_V1_ChangeBatch(fastDecoding: $0, keeping: filter) })
            else {
                throw FuzzFinding("a filtered fast decode refuses bytes the full one accepts: \(bytes)")
            }
            var expected = full
            for index in expected.entries.indices {
                switch expected.entries[index].change {
                case .profilesUpserted where !profiles:
                    expected.entries[index].profilesUpserted = Segments_V1_ProfilesUpserted()
                case .eventsTracked(var tracked):
                    tracked.events.removeAll { !names.contains($0.name) }
                    expected.entries[index].eventsTracked = tracked
                default:
                    break
                }
            }
            try Self.requireSame(filtered, expected, "filtered fast decode (profiles: \(profiles)) of \(bytes)")
        }
    }

    /// Equal messages, where a NaN equals a NaN (compared by text format, which sorts map keys).
    private static func requireSame<M: Message & Equatable>(_ a: M, _ b: M, _ what: String) throws(FuzzFinding) {
        guard a != b else { return }
        guard a.textFormatString() == b.textFormatString() else {
            throw FuzzFinding("\(what):\n\(a.textFormatString())\nvs\n\(b.textFormatString())")
        }
    }

    private static func serialized(_ message: some Message) -> [UInt8] {
        // Serializing a decoded message cannot fail (no required fields in proto3).
        (try? message.serializedBytes()) ?? []
    }

    // MARK: - Unknown fields

    private static func withoutUnknownFields(_ event: Segments_V1_Event) -> Segments_V1_Event {
        var event = event
        event.unknownFields = UnknownStorage()
        event.properties = event.properties.mapValues(Self.withoutUnknownFields)
        return event
    }

    private static func withoutUnknownFields(_ value: Segments_V1_Value) -> Segments_V1_Value {
        var value = value
        value.unknownFields = UnknownStorage()
        if case .stringList(var list) = value.kind {
            list.unknownFields = UnknownStorage()
            value.stringList = list
        }
        return value
    }

    /// The parts the fast decoder reads itself, without unknown fields (the rare entries it
    /// leaves to SwiftProtobuf keep theirs).
    private static func withoutUnknownFields(_ batch: Segments_V1_ChangeBatch) -> Segments_V1_ChangeBatch {
        var batch = batch
        batch.unknownFields = UnknownStorage()
        for index in batch.entries.indices {
            var entry = batch.entries[index]
            entry.unknownFields = UnknownStorage()
            switch entry.change {
            case .profilesUpserted(var upserted):
                upserted.unknownFields = UnknownStorage()
                for change in upserted.changes.indices {
                    upserted.changes[change].unknownFields = UnknownStorage()
                    upserted.changes[change].set = upserted.changes[change].set.mapValues(Self.withoutUnknownFields)
                }
                entry.profilesUpserted = upserted
            case .eventsTracked(var tracked):
                tracked.unknownFields = UnknownStorage()
                tracked.events = tracked.events.map(Self.withoutUnknownFields)
                entry.eventsTracked = tracked
            default:
                break
            }
            batch.entries[index] = entry
        }
        return batch
    }
}

extension WireChecks {
    /// Inputs to start fuzzing from: streams of real request and response frames (a unary call,
    /// a failure, a cancel, a grant, a change feed batch), an event, an oversized header and a
    /// truncated frame.
    public static var seeds: [[UInt8]] {
        var batch = Segments_V1_ChangeBatch()
        batch.entries = EvaluatorSeed.entries
        batch.headSeq = UInt64(batch.entries.count)
        let batchBytes = (try? batch.serializedBytes() as [UInt8]) ?? []
        let eventBytes = (try? StoreSeed.track.events[0].serializedBytes() as [UInt8]) ?? []
        let upsertBytes = (try? StoreSeed.upsert.serializedBytes() as [UInt8]) ?? []
        let trackBytes = (try? StoreSeed.track.serializedBytes() as [UInt8]) ?? []

        var calls = ByteBuffer()
        calls.writeRequestFrame(callID: 1, method: ProfileStoreAPI.upsertProfiles.name, payload: upsertBytes)
        calls.writeRequestFrame(callID: 2, method: ProfileStoreAPI.trackEvents.name, payload: trackBytes)
        calls.writeRequestFrame(callID: 3, method: ProfileStoreAPI.subscribe.name, payload: [0x08, 0x01], window: 8)
        calls.writeRequestFrame(callID: 3, method: "", payload: [], window: 4)
        calls.writeRequestFrame(callID: 3, method: "", payload: [], cancel: true)

        var answers = ByteBuffer()
        answers.writeResponseFrame(callID: 1, payload: [0x08, 0x05, 0x10, 0x03], end: true)
        answers.writeResponseFrame(callID: 3, payload: batchBytes, end: false)
        answers.writeResponseFrame(callID: 3, payload: [], end: true, error: RPCError(.cancelled, "call cancelled"))
        answers.writeResponseFrame(callID: 0, payload: [], end: true, error: RPCError(.resourceExhausted, "too many"))

        var event = ByteBuffer()
        event.writeInteger(UInt32(eventBytes.count), endianness: .big)
        event.writeBytes(eventBytes)

        let truncated: [UInt8] = [0, 0, 0, 10, 1, 2, 3]
        let oversized: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0]
        return [
            [255, 0] + Array(calls.readableBytesView),
            [255, 7] + Array(answers.readableBytesView),
            [255, 1] + Array(event.readableBytesView),
            [64, 0] + Array(calls.readableBytesView),
            [255, 3] + truncated,
            [255, 0] + oversized,
            [0, 0] + batchBytes,
            [0, 0] + eventBytes,
        ]
    }
}
