import Foundation
import SegmentsWire
import SwiftProtobuf
import Testing

@testable import ProfileStore

/// Splitting a serialized `TrackEventsRequest` (the store's hand-written scanner).
@Suite struct EventBatchTests {
    /// Found by store-rpc-fuzz: a field number beyond 2^29 - 1 (a tag longer than 32 bits) was skipped as an
    /// unknown field, so the store stored the request's events where SwiftProtobuf refuses the whole request.
    @Test(arguments: [
        [0xB0, 0xB0, 0x80, 0xF2, 0xB4, 0xC1, 0xB4, 0x3F, 0x38] as [UInt8],
        [0xF8, 0xFF, 0xFF, 0xFF, 0x10, 0x01],
        [0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x01],
    ])
    func aTagBeyond32BitsIsRefusedAsSwiftProtobufRefusesIt(_ unknownField: [UInt8]) throws {
        let event =
            try Segments_V1_Event.with {
                $0.userID = "u1"
                $0.name = "purchase"
            }.serializedBytes() as [UInt8]
        let payload = Data([0x0A, UInt8(event.count)] + event + unknownField)
        #expect(throws: (any Error).self) { try Segments_V1_TrackEventsRequest(serializedBytes: payload) }
        #expect(EventBatch.eventRanges(in: payload) == nil)
        #expect(throws: ProfileStoreError.self) { try EventBatch(serializedRequest: payload) { _ in } }
    }

    @Test func theLargestFieldNumberIsAnUnknownFieldLikeAnyOther() throws {
        // Field 2^29 - 1, wire type 0: tag 0xFFFFFFF8.
        let payload = Data([0x0A, 0x02, 0x0A, 0x00, 0xF8, 0xFF, 0xFF, 0xFF, 0x0F, 0x01])
        #expect(throws: Never.self) { try Segments_V1_TrackEventsRequest(serializedBytes: payload) }
        #expect(EventBatch.eventRanges(in: payload) == [2..<4])
    }
}
