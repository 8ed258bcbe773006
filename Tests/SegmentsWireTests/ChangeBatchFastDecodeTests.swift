import SegmentsWire
import SwiftProtobuf
import Testing

/// `Segments_V1_ChangeBatch(fastDecoding:)` must agree with SwiftProtobuf wherever it answers, and
/// answer for every kind of entry the store writes.
@Suite struct ChangeBatchFastDecodeTests {
    private func fast(_ bytes: [UInt8]) -> Segments_V1_ChangeBatch? {
        bytes.withUnsafeBytes { Segments_V1_ChangeBatch(fastDecoding: $0) }
    }

    private func value(_ number: Double) -> Segments_V1_Value {
        var value = Segments_V1_Value()
        value.numberValue = number
        return value
    }

    /// One entry of every kind, with random contents.
    private func randomBatch(_ generator: inout some RandomNumberGenerator) -> Segments_V1_ChangeBatch {
        let strings = ["", "u1", "plan", "é", "😀 x"]
        var batch = Segments_V1_ChangeBatch()
        batch.headSeq = UInt64.random(in: 0...UInt64.max, using: &generator)
        for kind in 0..<13 {
            var entry = Segments_V1_ChangeEntry()
            entry.seq = UInt64(kind + 1)
            entry.committedAtMs = Int64.random(in: -1...Int64.max, using: &generator)
            switch kind {
            case 0:
                var change = Segments_V1_ProfileChange()
                change.userID = strings.randomElement(using: &generator)!
                for name in strings.prefix(Int.random(in: 0...3, using: &generator)) {
                    change.set[name] = self.value(Double(name.utf8.count))
                }
                change.removed = Array(strings.suffix(Int.random(in: 0...2, using: &generator)))
                change.created = Bool.random(using: &generator)
                var upserted = Segments_V1_ProfilesUpserted()
                upserted.changes = [change, change]
                entry.change = .profilesUpserted(upserted)
            case 1:
                var deleted = Segments_V1_UserDeleted()
                deleted.userID = "u9"
                entry.change = .userDeleted(deleted)
            case 2:
                var tracked = Segments_V1_EventsTracked()
                for i in 0..<Int.random(in: 0...3, using: &generator) {
                    var event = Segments_V1_Event()
                    event.userID = "u\(i)"
                    event.name = strings.randomElement(using: &generator)!
                    event.atMs = Int64.random(in: 0...Int64.max, using: &generator)
                    event.properties["amount"] = self.value(Double(i))
                    tracked.events.append(event)
                }
                tracked.createdUsers = Array(strings.prefix(Int.random(in: 0...2, using: &generator)))
                entry.change = .eventsTracked(tracked)
            case 3:
                var put = Segments_V1_SegmentPut()
                put.segment.name = "buyers"
                put.segment.expression = "count(purchase) >= 1"
                entry.change = .segmentPut(put)
            case 4:
                var deleted = Segments_V1_SegmentDeleted()
                deleted.name = "buyers"
                entry.change = .segmentDeleted(deleted)
            case 5:
                var moved = Segments_V1_ClockMoved()
                moved.nowMs = 42
                entry.change = .clockMoved(moved)
            case 6:
                var created = Segments_V1_ListCreated()
                created.name = "vip"
                entry.change = .listCreated(created)
            case 7:
                var changed = Segments_V1_ListMembersChanged()
                changed.name = "vip"
                changed.added = ["u1", "u2"]
                changed.removed = ["u3"]
                entry.change = .listMembersChanged(changed)
            case 8:
                var deleted = Segments_V1_ListDeleted()
                deleted.name = "vip"
                entry.change = .listDeleted(deleted)
            case 9: entry.change = .webhookAdded(Segments_V1_WebhookAdded())
            case 10: entry.change = .webhookRemoved(Segments_V1_WebhookRemoved())
            default: break  // an entry with no change
            }
            batch.entries.append(entry)
        }
        return batch
    }

    @Test func agreesWithSwiftProtobufOnEveryKindOfEntry() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            let batch = self.randomBatch(&generator)
            let bytes: [UInt8] = try batch.serializedBytes()
            let decoded = try #require(self.fast(bytes))
            #expect(decoded == batch)
            #expect(decoded == (try Segments_V1_ChangeBatch(serializedBytes: bytes)))
        }
    }

    @Test func aFilterKeepsTheNamedEventsAndSkipsTheRest() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<100 {
            let batch = self.randomBatch(&generator)
            let bytes: [UInt8] = try batch.serializedBytes()
            for filter in [
                ChangeFilter(profiles: false, eventNames: ["u1", "é"]),
                ChangeFilter(profiles: true, eventNames: []),
            ] {
                let decoded = try #require(
                    bytes.withUnsafeBytes { Segments_V1_ChangeBatch(fastDecoding: $0, keeping: filter) }
                )
                var expected = batch
                for i in expected.entries.indices {
                    switch expected.entries[i].change {
                    case .eventsTracked(var tracked):
                        tracked.events.removeAll { event in !filter.eventNames.contains(Array(event.name.utf8)) }
                        expected.entries[i].change = .eventsTracked(tracked)
                    case .profilesUpserted where !filter.profiles:
                        expected.entries[i].change = .profilesUpserted(Segments_V1_ProfilesUpserted())
                    default:
                        break
                    }
                }
                #expect(decoded == expected)
            }
        }
    }

    @Test(arguments: [
        [0x0A, 3, 0x08, 1] as [UInt8],  // truncated entry
        [0x18, 1],  // unknown field 3 of the batch
        [0x0A, 2, 0x78, 1],  // unknown field 15 of an entry
        [0x0A, 4, 0x1A, 0, 0x2A, 0],  // two changes in one entry
        [0x0A, 4, 0x2A, 2, 0x0A, 0xFF],  // a truncated event
        [0x0A, 5, 0x32, 3, 0x0A, 1, 0xFF],  // a segment put SwiftProtobuf refuses (invalid UTF-8)
    ])
    func unusualInputFallsBack(bytes: [UInt8]) {
        #expect(self.fast(bytes) == nil)
    }

    @Test func theResponseStreamUsesIt() {
        // The RPC layer, generic over the response type, finds the hand-written decoder this way.
        func hasFastDecoder<M: Message>(_: M.Type) -> Bool { M.self is any FastDecodableMessage.Type }
        #expect(hasFastDecoder(Segments_V1_ChangeBatch.self))
        #expect(!hasFastDecoder(Segments_V1_Event.self))
    }
}
