import Foundation
import SegmentsWire
import SwiftProtobuf
import Testing

/// `Segments_V1_Event(fastDecoding:)` must agree with SwiftProtobuf wherever it answers, and
/// answer for everything SwiftProtobuf writes.
@Suite struct EventFastDecodeTests {
    private func fast(_ bytes: [UInt8]) -> Segments_V1_Event? {
        bytes.withUnsafeBytes { Segments_V1_Event(fastDecoding: $0) }
    }

    @Test func agreesWithSwiftProtobufOnRandomEvents() throws {
        var generator = SystemRandomNumberGenerator()
        let strings = ["", "a", "page_view", "é", "😀 x", String(repeating: "k", count: 300)]
        for _ in 0..<2000 {
            var event = Segments_V1_Event()
            event.userID = strings.randomElement(using: &generator)!
            event.name = strings.randomElement(using: &generator)!
            if Bool.random(using: &generator) {
                event.atMs = Int64.random(in: Int64.min...Int64.max, using: &generator)
                event.atGiven = Bool.random(using: &generator)
            }
            event.eventID = strings.randomElement(using: &generator)!
            for index in 0..<Int.random(in: 0...4, using: &generator) {
                var value = Segments_V1_Value()
                switch Int.random(in: 0...5, using: &generator) {
                case 0: value.stringValue = strings.randomElement(using: &generator)!
                case 1: value.numberValue = [0, -0.0, 1.5, -1e300, .infinity].randomElement(using: &generator)!
                case 2: value.boolValue = Bool.random(using: &generator)
                case 3: value.timestampMs = Int64.random(in: -1_000...1_000_000_000_000, using: &generator)
                case 4: value.stringList.values = Array(strings.prefix(Int.random(in: 0...3, using: &generator)))
                default: break  // no kind
                }
                event.properties["p\(index)"] = value
            }
            let bytes: [UInt8] = try event.serializedBytes()
            let decoded = try #require(self.fast(bytes))
            #expect(decoded == event)
            #expect(decoded == (try Segments_V1_Event(serializedBytes: bytes)))
        }
    }

    /// Fuzz finding 6: SwiftProtobuf reads a tag in at most 5 bytes, so `8A 80 80 80 80 00` (tag 10 in six) is
    /// malformed for it, and for the fast decoder too; five bytes are read alike by both.
    @Test func aTagInMoreThanFiveBytesIsRefusedLikeSwiftProtobuf() throws {
        let six: [UInt8] = [0x8A, 0x80, 0x80, 0x80, 0x80, 0x00, 0x00]
        #expect((try? Segments_V1_Event(serializedBytes: six)) == nil)
        #expect(six.withUnsafeBytes { Segments_V1_Event(fastDecoding: $0) } == nil)
        let five: [UInt8] = [0x8A, 0x80, 0x80, 0x80, 0x00, 0x00]
        let slow = try Segments_V1_Event(serializedBytes: five)
        #expect(five.withUnsafeBytes { Segments_V1_Event(fastDecoding: $0) } == slow)
    }

    @Test func repeatedFieldsAndKeysTakeTheLastLikeSwiftProtobuf() throws {
        // user_id "a" then "b"; at_ms 1 then 2; properties k = "x" then k = "y".
        let bytes: [UInt8] =
            [0x0A, 1, 0x61, 0x0A, 1, 0x62, 0x18, 1, 0x18, 2]
            + [0x2A, 7, 0x0A, 1, 0x6B, 0x12, 2, 0x0A, 0] + [0x2A, 8, 0x0A, 1, 0x6B, 0x12, 3, 0x0A, 1, 0x79]
        let reference = try Segments_V1_Event(serializedBytes: bytes)
        #expect(self.fast(bytes) == reference)
        #expect(reference.userID == "b" && reference.atMs == 2 && reference.properties["k"]?.stringValue == "y")
    }

    @Test(arguments: [
        [0x0A, 2, 0x61] as [UInt8],  // truncated string
        [0x0A, 1, 0xFF],  // invalid UTF-8
        [0x38, 1],  // unknown field 7
        [0x0A, 0x80],  // truncated varint
        [0x2A, 4, 0x12, 2, 0x18, 1],  // a Value is fine...
        [0x2A, 6, 0x12, 4, 0x18, 1, 0x20, 1],  // ...but two oneof fields fall back
        [0x0D, 0, 0, 0, 0],  // user_id with the wrong wire type
    ])
    func unusualInputFallsBack(bytes: [UInt8]) {
        let decoded = self.fast(bytes)
        if bytes == [0x2A, 4, 0x12, 2, 0x18, 1] {
            #expect(decoded == (try? Segments_V1_Event(serializedBytes: bytes)))
        } else {
            #expect(decoded == nil)
        }
    }
}
