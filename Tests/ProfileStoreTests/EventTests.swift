import SegmentsClient
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
