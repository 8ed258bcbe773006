import SegmentLanguage
import SegmentsWire
import Testing

@testable import SegmentEvaluator

/// Entries prepared off the feed's thread: converted as the core used to convert them, this shard's users only, the
/// protobuf events and changes dropped, every other change kept as it came.
@Suite struct PreparedEntryTests {
    @Test func eventsAndProfilesAreConvertedForThisShardOnly() throws {
        var tracked = Segments_V1_ChangeEntry()
        tracked.seq = 7
        tracked.committedAtMs = 1_000
        tracked.eventsTracked.events = [
            Self.event("mine", "purchase", atMs: 900, ["amount": Self.number(12.5), "sku": Self.string("a")]),
            Self.event("theirs", "purchase", atMs: 901, [:]),
            Self.event("mine", "page_view", atMs: 902, ["url": Self.string("/")]),
        ]
        let owns: (String) -> Bool = { $0 == "mine" }
        let events = PreparedEntry(tracked, owns: owns)
        #expect(events.events.map(\.userID) == ["mine", "mine"])
        #expect(
            events.events.map(\.event) == [
                EventRecord(name: "purchase", atMs: 900, properties: ["amount": .number(12.5), "sku": .string("a")]),
                EventRecord(name: "page_view", atMs: 902, properties: ["url": .string("/")]),
            ]
        )
        #expect(events.profiles.isEmpty)
        #expect(events.entry.seq == 7 && events.entry.committedAtMs == 1_000)
        guard case .eventsTracked(let kept) = events.entry.change else {
            Issue.record("the change's kind is kept")
            return
        }
        #expect(kept.events.isEmpty)

        var upserted = Segments_V1_ChangeEntry()
        upserted.seq = 8
        var mine = Segments_V1_ProfileChange()
        mine.userID = "mine"
        mine.set = ["plan": Self.string("pro"), "age": Self.number(41)]
        mine.removed = ["country"]
        var theirs = Segments_V1_ProfileChange()
        theirs.userID = "theirs"
        theirs.set = ["plan": Self.string("free")]
        upserted.profilesUpserted.changes = [theirs, mine]
        let profiles = PreparedEntry(upserted, owns: owns)
        #expect(profiles.profiles.count == 1)
        #expect(profiles.profiles.first?.userID == "mine")
        #expect(profiles.profiles.first?.set == ["plan": .string("pro"), "age": .number(41)])
        #expect(profiles.profiles.first?.removed == ["country"])
        #expect(profiles.events.isEmpty)
        guard case .profilesUpserted(let keptChanges) = profiles.entry.change else {
            Issue.record("the change's kind is kept")
            return
        }
        #expect(keptChanges.changes.isEmpty)
    }

    @Test func otherChangesPassThroughUnchanged() {
        var put = Segments_V1_ChangeEntry()
        put.seq = 3
        put.segmentPut.segment.name = "pro"
        put.segmentPut.segment.expression = #"plan = "pro""#
        var list = Segments_V1_ChangeEntry()
        list.seq = 4
        list.listMembersChanged.name = "vip"
        list.listMembersChanged.added = ["a", "b"]
        for entry in [put, list] {
            let prepared = PreparedEntry(entry, owns: { _ in false })
            #expect(prepared.entry == entry)
            #expect(prepared.events.isEmpty && prepared.profiles.isEmpty)
        }
    }

    private static func event(
        _ user: String,
        _ name: String,
        atMs: Int64,
        _ properties: [String: Segments_V1_Value]
    ) -> Segments_V1_Event {
        var event = Segments_V1_Event()
        event.userID = user
        event.name = name
        event.atMs = atMs
        event.atGiven = true
        event.properties = properties
        return event
    }

    private static func string(_ value: String) -> Segments_V1_Value {
        var wire = Segments_V1_Value()
        wire.stringValue = value
        return wire
    }

    private static func number(_ value: Double) -> Segments_V1_Value {
        var wire = Segments_V1_Value()
        wire.numberValue = value
        return wire
    }
}
