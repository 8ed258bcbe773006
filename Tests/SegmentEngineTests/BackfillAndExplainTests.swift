import SegmentLanguage
import Testing

@testable import SegmentEngine

@Suite struct EngineBackfillTests {
    @Test func aNewSegmentOnDataSeenBeforeWaitsForItsBackfill() throws {
        let h = EngineHarness()
        h.profile("u1", ["plan": .string("pro")])
        h.profile("u2", ["plan": .string("free")])
        let outcome = try h.put("pro", #"plan = "pro""#)
        #expect(outcome.awaitsBackfill)
        #expect(outcome.newNeeds == RetentionNeeds(attributes: ["plan"]))
        #expect(outcome.transitions.isEmpty)
        #expect(h.engine.pendingNeeds == RetentionNeeds(attributes: ["plan"]))
        #expect(h.engine.savedSegments.map(\.active) == [false])
        // A snapshot of another log position is refused, and nothing changes.
        #expect(throws: MembershipEngineError.self) {
            try h.engine.backfill(snapshotSeq: h.seq - 1, profiles: [], events: [])
        }
        let transitions = try h.engine.backfill(
            snapshotSeq: h.seq,
            profiles: [("u1", ["plan": .string("pro")]), ("u2", ["plan": .string("free")])],
            events: []
        )
        #expect(transitions == [entered("pro", "u1", baseMs)])
        #expect(h.engine.pendingNeeds.isEmpty)
        #expect(h.profile("u2", ["plan": .string("pro")]) == [entered("pro", "u2", baseMs)])
    }

    /// The first use with sequences: events loaded, then the segment defined; its steps' events are back-filled
    /// from the log, and the explanation answers from the maintained value.
    @Test func aSequenceOverLoadedDataIsBackFilled() throws {
        let h = EngineHarness()
        let events: [(String, EventRecord)] = [
            ("u1", EventRecord(name: "add_to_cart", atMs: baseMs)),
            ("u2", EventRecord(name: "add_to_cart", atMs: baseMs)),
            ("u2", EventRecord(name: "purchase", atMs: baseMs + 30 * 60_000)),
            ("u3", EventRecord(name: "view", atMs: baseMs, properties: ["page": .string("/pricing")])),
            ("u3", EventRecord(name: "add_to_cart", atMs: baseMs + 10 * 60_000)),
            ("u3", EventRecord(name: "purchase", atMs: baseMs + 20 * 60_000)),
        ]
        for (user, event) in events { h.record(h.engine.addEvents([(user, event)], seq: h.nextSeq())) }
        #expect(try h.put("abandoned", "add_to_cart not followed by purchase within 2h").awaitsBackfill)
        let funnel = #"view where page = "/pricing" then add_to_cart then purchase within 1d"#
        let outcome = try h.put("funnel", funnel)
        #expect(outcome.awaitsBackfill)
        // Every step's events are needed, the first step's and the others' (projected on the properties any step's
        // filter reads).
        #expect(h.engine.pendingNeeds.events == ["add_to_cart": ["page"], "purchase": ["page"], "view": ["page"]])
        h.record(try h.engine.backfill(snapshotSeq: h.seq, profiles: [], events: events))
        #expect(h.members("funnel").isEmpty)
        #expect(
            h.advance(to: baseMs + 2 * msHour) == [
                entered("funnel", "u3", baseMs + 20 * 60_000), entered("abandoned", "u1", baseMs + 2 * msHour),
            ]
        )
        #expect(h.engine.explain(userID: "u3", segment: "funnel")?.result == .bool(true))
        #expect(h.engine.explain(userID: "u2", segment: "abandoned")?.result == .bool(false))
    }

    @Test func aNeverSeenNameNeedsNoBackfill() throws {
        let h = EngineHarness()
        h.profile("u1", ["plan": .string("pro")])
        let outcome = try h.put("buyers", "count(purchase) >= 1 and not exists(age)")
        #expect(!outcome.awaitsBackfill)
        #expect(h.track("u1", "purchase") == [entered("buyers", "u1", baseMs)])
    }

    @Test func backfillMidStreamHasNoGapAndNoDoubleCount() throws {
        // The store's view: every event with its log number.
        var store: [(seq: UInt64, user: String, event: EventRecord)] = []
        let h = EngineHarness()
        func track(_ user: String, _ at: Int64) {
            let event = EventRecord(name: "purchase", atMs: at, properties: ["amount": .number(10)])
            let seq = h.nextSeq()
            store.append((seq, user, event))
            h.record(h.engine.addEvents([(user, event)], seq: seq))
        }
        track("u1", baseMs - 3 * msDay)
        track("u2", baseMs - 1 * msDay)
        let outcome = try h.put("spenders", "sum(purchase.amount within 7d) >= 30")
        #expect(outcome.newNeeds == RetentionNeeds(events: ["purchase": ["amount"]]))
        // The daemon asks for a snapshot; meanwhile writes keep flowing and are applied live.
        track("u1", baseMs)
        let session = h.engine.beginBackfill(snapshotSeq: h.seq + 1)
        track("u1", baseMs)  // this one is in the snapshot (seq == snapshot seq)
        let snapshotSeq = h.seq
        #expect(session.snapshotSeq == snapshotSeq)
        for item in store where item.seq <= snapshotSeq { session.addEvents([(item.user, item.event)]) }
        #expect(h.engine.memberCount(of: "spenders") == 0)
        #expect(try h.engine.finishBackfill(session) == [entered("spenders", "u1", baseMs)])
        // After the snapshot, events count live.
        track("u2", baseMs)
        #expect(h.engine.memberCount(of: "spenders") == 1)
        #expect(h.record(h.engine.advance(to: baseMs + msHour)).isEmpty)
        track("u2", baseMs + msHour)
        #expect(h.members("spenders") == ["u1", "u2"])
        // u1's purchase of -3d leaves the window at +4d (20 < 30), u2's of -1d at +6d.
        #expect(
            h.advance(to: baseMs + 7 * msDay) == [
                exited("spenders", "u1", baseMs + 4 * msDay), exited("spenders", "u2", baseMs + 6 * msDay),
            ]
        )
        // A finished session cannot be installed again.
        #expect(throws: MembershipEngineError.self) { try h.engine.finishBackfill(session) }
    }

    @Test func aShorterWindowOverKeptEventsIsComputedFromMemory() throws {
        let h = EngineHarness()
        try h.put("recent", "sum(purchase.amount within 30d) >= 1")
        h.track("u1", "purchase", at: baseMs - 10 * msDay, ["amount": .number(10)])
        h.track("u1", "purchase", at: baseMs - 2 * msDay, ["amount": .number(25)])
        h.track("u2", "purchase", at: baseMs - 1 * msDay, ["amount": .number(5)])
        h.track("u3", "purchase", at: baseMs - 20 * msDay, ["amount": .number(50)])
        // Same events, same (absent) filter, a shorter window: no back-fill.
        let week = try h.put("week", "count(purchase within 7d) >= 1")
        #expect(!week.awaitsBackfill)
        #expect(week.transitions == [entered("week", "u1", baseMs), entered("week", "u2", baseMs)])
        let spend = try h.put("spend", "sum(purchase.amount within 3d) >= 20")
        #expect(!spend.awaitsBackfill)
        #expect(spend.transitions == [entered("spend", "u1", baseMs)])
        // A longer window or another filter needs events the engine did not keep.
        #expect(try h.put("quarter", "count(purchase within 90d) >= 1").awaitsBackfill)
        #expect(try h.put("big", "count(purchase where amount > 20 within 7d) >= 1").awaitsBackfill)
        // The derived states move with time like any other: u1's -2d purchase leaves 3d at +1d, 7d at +5d.
        #expect(
            h.advance(to: baseMs + 7 * msDay) == [
                exited("spend", "u1", baseMs + 1 * msDay), exited("week", "u1", baseMs + 5 * msDay),
                exited("week", "u2", baseMs + 6 * msDay),
            ]
        )
    }

    @Test func anyAggregateOverKeptRawEventsIsComputedFromMemory() throws {
        let h = EngineHarness()
        // A filter that reads time keeps the events themselves, projected on `paid_at` and `amount`.
        try h.put("paid", "sum(purchase.amount where paid_at > 30d ago) >= 1")
        h.track("u1", "purchase", at: baseMs - 40 * msDay, ["amount": .number(10), "paid_at": .timestamp(baseMs)])
        h.track("u2", "purchase", at: baseMs - 1 * msDay, ["amount": .number(5), "paid_at": .timestamp(baseMs)])
        let outcome = try h.put("all_time", "count(purchase) >= 1 and sum(purchase.amount within 7d) < 10")
        #expect(!outcome.awaitsBackfill)
        #expect(outcome.transitions == [entered("all_time", "u1", baseMs), entered("all_time", "u2", baseMs)])
        // `url` was not kept.
        #expect(try h.put("pricing", #"count(purchase where url = "/pricing") >= 1"#).awaitsBackfill)
        #expect(h.track("u1", "purchase", ["amount": .number(20)]) == [exited("all_time", "u1", baseMs)])
    }

    @Test func aSnapshotOverrunByTheFeedIsRefused() throws {
        let h = EngineHarness()
        h.track("u1", "purchase")
        try h.put("buyers", "count(purchase) >= 1")
        let session = h.engine.beginBackfill(snapshotSeq: h.seq)
        session.addEvents([("u1", EventRecord(name: "purchase", atMs: baseMs))])
        h.track("u1", "purchase")
        #expect(throws: MembershipEngineError.self) { try h.engine.finishBackfill(session) }
        #expect(h.engine.memberCount(of: "buyers") == 0)
        #expect(!h.engine.pendingNeeds.isEmpty)
    }

    @Test func replacedSegmentKeepsItsMembersUntilTheBackfill() throws {
        let h = EngineHarness()
        try h.put("s", #"plan = "pro""#)
        h.profile("u1", ["plan": .string("pro"), "age": .number(10)])
        let outcome = try h.put("s", #"plan = "pro" and age >= 18"#)
        #expect(outcome.newNeeds == RetentionNeeds(attributes: ["age"]))
        #expect(h.engine.isMember(userID: "u1", segment: "s").member)
        let transitions = try h.engine.backfill(
            snapshotSeq: h.seq,
            profiles: [("u1", ["plan": .string("pro"), "age": .number(10)])],
            events: []
        )
        #expect(transitions == [exited("s", "u1", baseMs)])
    }
}

@Suite struct EngineExplainTests {
    @Test func explainShowsMaintainedValues() throws {
        let h = EngineHarness()
        let text = "count(purchase) >= 1 and count(purchase within 30d) = 0"
        try h.put("lapsed", text)
        h.track("u1", "purchase", at: baseMs - 40 * msDay)
        h.track("u1", "purchase", at: baseMs - 10 * msDay)
        let explanation = try #require(h.engine.explain(userID: "u1", segment: "lapsed"))
        let reference = ReferenceInterpreter.explain(
            try SegmentExpression.parse(text),
            attributes: [:],
            events: [
                EventRecord(name: "purchase", atMs: baseMs - 40 * msDay),
                EventRecord(name: "purchase", atMs: baseMs - 10 * msDay),
            ],
            nowMs: baseMs
        ) { _ in false }
        #expect(explanation == reference)
        #expect(
            explanation.description == """
                count(purchase) >= 1 and count(purchase within 30d) = 0 → false
                  count(purchase) >= 1 → true
                    count(purchase) → 2
                  count(purchase within 30d) = 0 → false
                    count(purchase within 30d) → 1
                """
        )
    }

    @Test func explainWithFirstLastAttributesAndSegments() throws {
        let h = EngineHarness()
        try h.put("pro", #"plan = "pro""#)
        let text = #"last(purchase where amount > 5) < 30d ago and in_segment("pro") and avg(purchase.amount) > 1"#
        try h.put("s", text)
        h.profile("u1", ["plan": .string("pro")])
        h.track("u1", "purchase", at: baseMs - 40 * msDay, ["amount": .number(10)])
        let explanation = try #require(h.engine.explain(userID: "u1", segment: "s"))
        let reference = ReferenceInterpreter.explain(
            try SegmentExpression.parse(text),
            attributes: [:],
            events: [EventRecord(name: "purchase", atMs: baseMs - 40 * msDay, properties: ["amount": .number(10)])],
            nowMs: baseMs
        ) { $0 == "pro" }
        #expect(explanation == reference)
        #expect(explanation.result == .bool(true))
        #expect(h.engine.explain(userID: "u1", segment: "nope") == nil)
    }

    /// Calculations and sequences explained from maintained values equal the reference's explanation from the
    /// events.
    @Test func explainWithCalculationsAndSequences() throws {
        let h = EngineHarness()
        let text =
            "sum(purchase.amount) / count(purchase) >= 10 and (view then purchase within 1d) and -age < 0 "
            + "and -count(purchase) < count(view)"
        try h.put("s", text)
        h.profile("u1", ["age": .number(30)])
        let events = [
            EventRecord(name: "view", atMs: baseMs - 2 * msHour),
            EventRecord(name: "purchase", atMs: baseMs - msHour, properties: ["amount": .number(15)]),
            EventRecord(name: "purchase", atMs: baseMs, properties: ["amount": .number(7)]),
        ]
        for event in events { h.track("u1", event.name, at: event.atMs, event.properties) }
        let explanation = try #require(h.engine.explain(userID: "u1", segment: "s"))
        let reference = ReferenceInterpreter.explain(
            try SegmentExpression.parse(text),
            attributes: ["age": .number(30)],
            events: events,
            nowMs: baseMs
        ) { _ in false }
        #expect(explanation == reference)
        #expect(explanation.result == .bool(true))
        #expect(explanation.description.contains("sum(purchase.amount) / count(purchase) → 11"))
    }
}
