import Foundation
import SegmentsWire
import SwiftProtobuf

/// A `TrackEventsRequest` split into its events, each kept with the exact bytes it was sent as,
/// so the change-log entry can be built by splicing those bytes instead of serializing the
/// decoded events again (which cost about as much as decoding them).
///
/// Splicing is sound because of two protobuf rules: a message's fields may come in any order,
/// and of a repeated scalar field the last occurrence wins. A spliced event followed by
/// `at_ms = now, at_given = true` therefore decodes exactly like the re-serialized event with
/// those fields set (unknown fields are kept either way).
///
/// Validation (per event, independent of the store's state) is also done here, off the writer
/// thread.
struct EventBatch: Sendable {
    /// One valid event of the request.
    struct Item: Sendable {
        /// Its position in the request (what rejections and duplicates are reported against).
        let index: Int
        let event: Segments_V1_Event
        /// The event's serialized bytes: a slice of the request payload (no copy).
        let bytes: Data
    }

    /// The valid events, in request order.
    private(set) var items: [Item] = []
    /// The invalid events' rejections, in request order.
    private(set) var rejected: [Segments_V1_ItemError] = []
    /// Total bytes of the valid events (to size the log entry).
    private(set) var totalBytes = 0

    /// Splits and validates a serialized `TrackEventsRequest`.
    /// - Throws: ``ProfileStoreError`` `.invalidArgument` when the payload is not a valid
    ///   `TrackEventsRequest` (the same answer the generic decoder gives).
    init(
        serializedRequest payload: Data,
        validate: (Segments_V1_Event) throws(ProfileStoreError) -> Void
    )
        throws(ProfileStoreError)
    {
        let invalid = ProfileStoreError(
            .invalidArgument,
            "request is not a valid \(Segments_V1_TrackEventsRequest.protoMessageName) message"
        )
        var slices: [Data]
        if let ranges = Self.eventRanges(in: payload) {
            slices = ranges.map { payload[$0] }
        } else {
            // Something the fast scanner does not handle (e.g. groups in unknown fields): let
            // SwiftProtobuf judge the request and re-serialize each event.
            do {
                let request = try Segments_V1_TrackEventsRequest(serializedBytes: payload)
                slices = try request.events.map { try $0.serializedData() }
            } catch {
                throw invalid
            }
        }
        self.items.reserveCapacity(slices.count)
        for (index, bytes) in slices.enumerated() {
            let event: Segments_V1_Event
            if let fast = bytes.withUnsafeBytes({ Segments_V1_Event(fastDecoding: $0) }) {
                event = fast
            } else {
                do {
                    event = try Segments_V1_Event(serializedBytes: bytes)
                } catch {
                    throw invalid
                }
            }
            do throws(ProfileStoreError) {
                try validate(event)
            } catch {
                self.rejected.append(.init(index: index, error: error))
                continue
            }
            self.items.append(Item(index: index, event: event, bytes: bytes))
            self.totalBytes += bytes.count
        }
    }

    /// The byte ranges (absolute `Data` indices) of the `events` fields (number 1) of a
    /// serialized `TrackEventsRequest`; other fields are skipped. `nil` when the bytes are not
    /// plain well-formed protobuf of that shape, in which case the caller falls back to the
    /// generic decoder.
    static func eventRanges(in payload: Data) -> [Range<Int>]? {
        payload.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> [Range<Int>]? in
            var ranges: [Range<Int>] = []
            var position = 0
            let end = raw.count
            func varint() -> UInt64? {
                var result: UInt64 = 0
                var shift: UInt64 = 0
                while position < end, shift < 64 {
                    let byte = raw[position]
                    position += 1
                    result |= UInt64(byte & 0x7F) << shift
                    if byte & 0x80 == 0 { return result }
                    shift += 7
                }
                return nil
            }
            while position < end {
                // A tag is a field number from 1 to 2^29 - 1 and a wire type, below 2^32 - 1 and in at most 5 bytes,
                // as SwiftProtobuf requires (without those limits, a request it refuses was served; fuzz findings
                // 4 and 6).
                let tagStart = position
                guard let tag = varint(), position - tagStart <= 5, tag >> 3 != 0, tag < UInt64(UInt32.max) else {
                    return nil
                }
                switch tag & 7 {
                case 0:
                    guard tag >> 3 != 1, varint() != nil else { return nil }
                case 1:
                    guard tag >> 3 != 1, end - position >= 8 else { return nil }
                    position += 8
                case 5:
                    guard tag >> 3 != 1, end - position >= 4 else { return nil }
                    position += 4
                case 2:
                    guard let length = varint(), length <= UInt64(end - position) else { return nil }
                    let start = position
                    position += Int(length)
                    if tag >> 3 == 1 {
                        ranges.append((payload.startIndex + start)..<(payload.startIndex + position))
                    }
                default:
                    return nil
                }
            }
            return ranges
        }
    }
}
