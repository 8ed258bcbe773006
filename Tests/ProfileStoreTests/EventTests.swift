@_spi(SegmentsInternal) import SegmentsClient
import SegmentsTesting
import SegmentsWire
import Testing

@Suite struct EventTests {
    @Test func eventsCreateUnknownUsersAndTakeTheClockWhenUndated() async throws {
        try await withStore(manualClockMs: 1_000_000) { store in
            let result = try await store.client.track([
                SegmentsEvent(userID: "u1", name: "view"),
                SegmentsEvent(userID: "u1", name: "buy", atMs: 500, properties: ["amount": .number(9.5)]),
            ])
            #expect(result.accepted == 2)
            #expect(try await store.client.profile("u1").attributes.isEmpty)
            let log = try await readLog(store.client, fromSeq: 1, count: 1)
            let events = log[0].eventsTracked.events
            #expect(events.map(\.atMs) == [1_000_000, 500])
            let allDated = events.allSatisfy(\.atGiven)
            #expect(allDated)
            #expect(log[0].eventsTracked.createdUsers == ["u1"])
            #expect(events[1].properties["amount"]?.numberValue == 9.5)
        }
    }

    /// The log entry is spliced from the request's event bytes (not re-serialized): it must
    /// decode to exactly the entry a re-serialization would give — accepted events only, in
    /// order, undated ones stamped, created users listed.
    @Test func splicedLogEntryDecodesLikeTheReserializedOne() async throws {
        try await withStore(manualClockMs: 7_000) { store in
            _ = try await store.client.track([SegmentsEvent(userID: "old", name: "seed", atMs: 1, id: "x")])
            let sent = [
                SegmentsEvent(
                    userID: "old",
                    name: "view",
                    properties: ["url": .string("/a"), "n": .number(2)],
                    id: "y"
                ),
                SegmentsEvent(userID: "old", name: "dup", atMs: 5, id: "x"),
                SegmentsEvent(userID: "", name: "bad"),
                SegmentsEvent(
                    userID: "new",
                    name: "buy",
                    atMs: 42,
                    properties: [
                        "amount": .number(9.5), "zero": .number(0), "neg": .number(-1e300), "ok": .bool(true),
                        "no": .bool(false), "when": .timestamp(-5), "tags": .stringList(["a", "", "é"]),
                        "none": .stringList([]), "empty": .string(""), "ünï": .string("😀"),
                    ]
                ),
                SegmentsEvent(userID: "new", name: "late"),
            ]
            let result = try await store.client.track(sent)
            #expect(result.accepted == 3)
            #expect(result.duplicates == 1)
            let entry = try #require(try await readLog(store.client, fromSeq: 2, count: 1).first)
            var expected = Segments_V1_ChangeEntry()
            expected.seq = 2
            expected.committedAtMs = 7_000
            var tracked = Segments_V1_EventsTracked()
            for index in [0, 3, 4] {
                var event = Segments_V1_Event()
                event.userID = sent[index].userID
                event.name = sent[index].name
                event.atMs = sent[index].atMs ?? 7_000
                event.atGiven = true
                event.properties = sent[index].properties.mapValues(\.wireValue)
                event.eventID = sent[index].id ?? ""
                tracked.events.append(event)
            }
            tracked.createdUsers = ["new"]
            expected.eventsTracked = tracked
            #expect(entry == expected)
        }
    }

    @Test func repeatedIdOfTheSameUserIsIgnored() async throws {
        try await withStore { store in
            let client = store.client
            let first = try await client.track([
                SegmentsEvent(userID: "u1", name: "buy", atMs: 1, id: "e1"),
                SegmentsEvent(userID: "u1", name: "buy", atMs: 2, id: "e1"),
                SegmentsEvent(userID: "u2", name: "buy", atMs: 3, id: "e1"),
            ])
            #expect(first.accepted == 2)
            #expect(first.duplicates == 1)
            let second = try await client.track([SegmentsEvent(userID: "u1", name: "buy", atMs: 4, id: "e1")])
            #expect(second.accepted == 0)
            #expect(second.duplicates == 1)
            #expect(second.seq == 0)
            #expect(try await client.storeInfo().eventCount == 2)
        }
    }

    @Test func badEventsAreRefusedAndGoodOnesKept() async throws {
        try await withStore { store in
            let result = try await store.client.track([
                SegmentsEvent(userID: "u1", name: ""),
                SegmentsEvent(userID: "u1", name: "ok", atMs: 1),
                SegmentsEvent(userID: "u1", name: "x", atMs: Int64.max),
                SegmentsEvent(userID: "u1", name: "x", properties: ["p": .number(.infinity)]),
                SegmentsEvent(userID: "u1", name: "x", id: String(repeating: "i", count: 300)),
            ])
            #expect(result.accepted == 1)
            #expect(result.rejected.map(\.index) == [0, 2, 3, 4])
            #expect(result.rejected[0].error.message == "event name is empty")
            #expect(result.rejected[1].error.message.contains("outside years 0001–9999"))
        }
    }
}
