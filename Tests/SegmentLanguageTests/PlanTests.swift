import Testing

@testable import SegmentLanguage

@Suite struct PlanTests {
    let now = Fixtures.now
    let day = Fixtures.day

    @Test func listsWhatItReads() throws {
        let e = try Fixtures.parse(
            """
            plan = "pro" and exists(age) and count(purchase within 24h) >= 1 and count("purchase" within 1d) < 5
            and sum(purchase.amount where currency = "EUR") > 10 and last(page_view) > 1h ago
            and in_segment("b") and not in_segment("a") and in_segment("b") and tags contains "x"
            """
        )
        let plan = SegmentPlan(e)
        #expect(plan.attributes == ["age", "plan", "tags"])
        #expect(
            plan.aggregates.map(\.canonicalText) == [
                "count(purchase within 1d)", "sum(purchase.amount where currency = \"EUR\")", "last(page_view)",
            ]
        )
        #expect(plan.aggregates[0].windowMs == day)
        #expect(plan.aggregates[1].filter?.canonicalText == "currency = \"EUR\"")
        #expect(plan.aggregates[1].filter?.propertyNames == ["currency"])
        #expect(plan.aggregates[1].property == "amount")
        #expect(plan.aggregates[2].kind == .last && plan.aggregates[2].windowMs == nil)
        #expect(plan.eventNames == ["page_view", "purchase"])
        #expect(plan.segments == ["b", "a"])
        #expect(plan.readsTime)
        #expect(!SegmentPlan(try Fixtures.parse("plan = \"pro\" and t > 2026-01-01T00:00:00Z")).readsTime)
    }

    /// Inputs counted as the plan asks for them.
    struct CountingInputs: PlanInputSource {
        var attributes: [AttributeValue?]
        var aggregates: [AttributeValue?]
        var members: Set<String> = []
        /// The plan's segments (the tests here name only `x`).
        var segments = ["x"]
        var aggregateReads: [Int] = []

        mutating func attribute(_ index: Int) -> AttributeValue? { attributes[index] }
        mutating func aggregate(_ index: Int) -> AttributeValue? {
            aggregateReads.append(index)
            return aggregates[index]
        }
        mutating func isMember(_ index: Int) -> Bool { members.contains(segments[index]) }
    }

    @Test func readsAnAggregateOnlyWhenNothingCheaperDecides() throws {
        // The aggregate comes first in the text; the attribute and the membership are tried first.
        let plan = SegmentPlan(
            try Fixtures.parse(#"sum(p.a within 1d) > 100 and not plan = "free" and not in_segment("x")"#)
        )
        var free = CountingInputs(attributes: [.string("free")], aggregates: [.number(500)])
        #expect(!plan.evaluate(&free, nowMs: now))
        #expect(free.aggregateReads.isEmpty)
        var inX = CountingInputs(attributes: [.string("pro")], aggregates: [.number(500)], members: ["x"])
        #expect(!plan.evaluate(&inX, nowMs: now))
        #expect(inX.aggregateReads.isEmpty)
        var pro = CountingInputs(attributes: [.string("pro")], aggregates: [.number(500)])
        #expect(plan.evaluate(&pro, nowMs: now))
        #expect(pro.aggregateReads == [0])
        // `or` stops at the first true item, cheapest first too.
        let either = SegmentPlan(try Fixtures.parse(#"count(p) >= 1 or plan = "pro""#))
        var decided = CountingInputs(attributes: [.string("pro")], aggregates: [.number(0)])
        #expect(either.evaluate(&decided, nowMs: now))
        #expect(decided.aggregateReads.isEmpty)
        var undecided = CountingInputs(attributes: [.string("free")], aggregates: [.number(0)])
        #expect(!either.evaluate(&undecided, nowMs: now))
        #expect(undecided.aggregateReads == [0])
        // The same answers as from arrays of every input.
        for inputs in [free, inX, pro] {
            #expect(
                plan.evaluate(
                    attributeValues: inputs.attributes,
                    aggregateValues: inputs.aggregates,
                    nowMs: now,
                    isMember: { inputs.members.contains($0) }
                ) == (inputs.aggregateReads == [0])
            )
        }
    }

    @Test func evaluatesFromMaintainedValues() throws {
        let e = try Fixtures.parse("count(p within 1d) = 2 and avg(p.a) > 1 and first(p) < 1h ago")
        let plan = SegmentPlan(e)
        let events = [
            Fixtures.event("p", now - 2 * Fixtures.hour, ["a": .number(1)]),
            Fixtures.event("p", now - 3 * Fixtures.hour, ["a": .number(2)]),
        ]
        let values = plan.aggregates.map { $0.value(of: events, nowMs: now) }
        #expect(values == [.number(2), .number(1.5), .timestamp(now - 3 * Fixtures.hour)])
        #expect(plan.evaluate(attributes: [:], aggregateValues: values, nowMs: now, isMember: { _ in false }))
        #expect(
            !plan.evaluate(
                attributes: [:],
                aggregateValues: [.number(1), nil, nil],
                nowMs: now,
                isMember: { _ in false }
            )
        )
    }

    /// The next change, and the value just before and at it.
    func transitions(
        _ text: String,
        _ attributes: [String: AttributeValue] = [:],
        _ events: [EventRecord] = []
    ) throws -> (next: Int64?, before: Bool, at: Bool) {
        let e = try Fixtures.parse(text)
        let next = SegmentPlan(e).nextChange(after: now, attributes: attributes, events: events)
        let eval = { (t: Int64) in
            ReferenceInterpreter.evaluate(e, attributes: attributes, events: events, nowMs: t, isMember: { _ in false })
        }
        return (next, eval((next ?? now + 1) - 1), eval(next ?? now))
    }

    @Test func eventLeavingAWindow() throws {
        let a = now - day
        let t = try transitions("count(purchase within 30d) >= 1", [:], [Fixtures.event("purchase", a)])
        #expect(t.next == a + 30 * day)
        #expect(t.before && !t.at)
    }

    @Test func futureDatedEventArriving() throws {
        let a = now + 5 * Fixtures.hour
        let t = try transitions("count(purchase) >= 1", [:], [Fixtures.event("purchase", a)])
        #expect(t.next == a)
        #expect(!t.before && t.at)
    }

    @Test func timestampAttributeCrossingAgo() throws {
        let s: Int64 = 1_792_886_400_000  // 2026-10-25T00:00:00Z
        for value in [AttributeValue.string("2026-10-25T00:00:00Z"), .number(1_792_886_400), .timestamp(s)] {
            // `s < t - 30d` turns true at s + 30d + 1: the plan offers s + 30d first (conservative), then s + 30d + 1.
            let e = try Fixtures.parse("signup_at < 30d ago")
            let plan = SegmentPlan(e)
            let first = plan.nextChange(after: now, attributes: ["signup_at": value], events: [])
            #expect(first == s + 30 * day)
            #expect(
                plan.nextChange(after: s + 30 * day, attributes: ["signup_at": value], events: []) == s + 30 * day + 1
            )
            let eval = { (t: Int64) in
                ReferenceInterpreter.evaluate(e, attributes: ["signup_at": value], events: [], nowMs: t) { _ in false }
            }
            #expect(!eval(s + 30 * day) && eval(s + 30 * day + 1))
        }
        // `x >= t - D` holds up to x + D included: the plan offers x + D, then x + D + 1 where it turns false.
        let x = now - day
        let t = try transitions("signup_at >= 10d ago", ["signup_at": .timestamp(x)])
        #expect(t.next == x + 10 * day && t.before && t.at)
        let e = try Fixtures.parse("signup_at >= 10d ago")
        #expect(
            SegmentPlan(e).nextChange(after: x + 10 * day, attributes: ["signup_at": .timestamp(x)], events: []) == x
                + 10 * day + 1
        )
        #expect(
            !ReferenceInterpreter.evaluate(
                e,
                attributes: ["signup_at": .timestamp(x)],
                events: [],
                nowMs: x + 10 * day + 1
            ) { _ in false }
        )
    }

    @Test func firstAndLastAgainstAgoAndNow() throws {
        let last = now - 2 * day
        let t = try transitions("last(purchase) < 30d ago", [:], [Fixtures.event("purchase", last)])
        #expect(t.next == last + 30 * day)
        let future = now + day
        let u = try transitions("first(purchase) = now", [:], [Fixtures.event("purchase", future)])
        #expect(u.next == future && !u.before && u.at)
    }

    @Test func timeInsideAFilter() throws {
        let ts = now - Fixtures.hour
        let t = try transitions(
            "count(e where ts > 1d ago) >= 1",
            [:],
            [Fixtures.event("e", now - 2 * day, ["ts": .timestamp(ts)])]
        )
        #expect(t.next == ts + day)
        #expect(t.before)
    }

    @Test func nothingChangesByTimeAlone() throws {
        #expect(try transitions("plan = \"pro\"").next == nil)
        #expect(try transitions("now > 1d ago and 2h ago < now").next == nil)
        #expect(try transitions("count(purchase) >= 1", [:], [Fixtures.event("purchase", now - day)]).next == nil)
        #expect(try transitions("t < now", ["t": .string("not a time")]).next == nil)
    }

    /// For random users and expressions, the value at every instant strictly between an instant and the reported
    /// next change is the value at that instant; walking from change to change several times.
    @Test(arguments: 0..<6)
    func nextChangeIsNeverLate(_ batch: Int) throws {
        var r = SeededRandom(seed: 0x71AE + UInt64(batch))
        let base = Fixtures.now
        let near: [Int64] = [-3 * day, -day, -Fixtures.hour, -1, 0, 1, Fixtures.hour, day, 2 * day].map { base + $0 }
        var generator = ExpressionGenerator()
        generator.names = ["plan", "age", "signup_at", "tags", "vip", "seen"]
        generator.properties = ["amount", "url", "ts"]
        generator.events = ["purchase", "page_view"]
        generator.segments = ["a"]
        generator.durations = [(1, .s), (90, .s), (5, .m), (1, .h), (12, .h), (1, .d), (2, .d), (1, .w)].map {
            Duration(count: $0, unit: $1)
        }
        generator.instants = near
        generator.strings = ["pro", "/pricing", RFC3339.format(base - day), RFC3339.format(base + 3_600_123)]
        generator.numbers = [0, 1, 18, 42.5, Double(base / 1_000 - 7_200)]
        generator.maximumDepth = 4
        var checked = 0
        var exact = 0
        for _ in 0..<150 {
            let e = SegmentExpression(root: generator.node(&r))
            let plan = SegmentPlan(e)
            func time() -> Int64 { r.pick(near) + Int64(r.int(-200_000_000...200_000_000)) }
            var attributes: [String: AttributeValue] = [:]
            for name in generator.names where r.chance(0.7) {
                attributes[name] = r.pick([
                    .string(RFC3339.format(time())), .number(Double(time()) / 1_000), .timestamp(time()),
                    .string("pro"), .number(18), .bool(true), .stringList(["pro", "x"]),
                ])
            }
            var events: [EventRecord] = []
            for _ in 0..<r.int(0...6) {
                var properties: [String: AttributeValue] = [:]
                if r.chance(0.7) { properties["amount"] = .number(Double(r.int(-5...100))) }
                if r.chance(0.5) {
                    properties["ts"] = r.chance(0.5) ? .timestamp(time()) : .string(RFC3339.format(time()))
                }
                if r.chance(0.3) { properties["url"] = .string("/pricing") }
                events.append(EventRecord(name: r.pick(generator.events), atMs: time(), properties: properties))
            }
            let member = r.chance(0.5)
            func eval(_ t: Int64) -> Bool {
                ReferenceInterpreter.evaluate(
                    e,
                    attributes: attributes,
                    events: events,
                    nowMs: t,
                    isMember: { _ in member }
                )
            }
            var t = time()
            for _ in 0..<6 {
                let value = eval(t)
                // The plan evaluated from maintained aggregate values agrees with the interpreter.
                let values = plan.aggregates.map { $0.value(of: events, nowMs: t) }
                #expect(
                    plan.evaluate(attributes: attributes, aggregateValues: values, nowMs: t, isMember: { _ in member })
                        == value
                )
                let next = plan.nextChange(after: t, attributes: attributes, events: events)
                if !plan.filtersReadTime {
                    // What the evaluator uses: the comparisons' next change from current values, with each
                    // aggregate's own next change (it tracks those itself), is never late either.
                    var combined =
                        plan.nextChange(
                            after: t,
                            attributeValues: plan.attributes.map { attributes[$0] },
                            aggregateValues: values
                        ) ?? .max
                    for key in plan.aggregates {
                        combined = min(combined, key.nextChange(after: t, events: events) ?? .max)
                    }
                    let until = combined == .max ? t + 30 * day : combined
                    #expect(until > t)
                    for probe in [t + 1, until - 1, (t + until) / 2] where probe > t && probe < until {
                        #expect(eval(probe) == value, "\(e.canonicalText) at \(t) → \(probe), values next \(until)")
                    }
                }
                let horizon = next ?? (t + 30 * day)
                #expect(horizon > t)
                var probes: [Int64] = [t + 1, t + 2, horizon - 1, horizon - 2]
                for _ in 0..<6 where horizon - t > 2 {
                    probes.append(Int64.random(in: (t + 1)...(horizon - 1), using: &r))
                }
                for probe in probes where probe > t && probe < horizon {
                    checked += 1
                    let later = eval(probe)
                    #expect(later == value, "\(e.canonicalText) at \(t) → \(probe), next \(String(describing: next))")
                    if later != value { break }
                }
                guard let next else { break }
                if eval(next) != value { exact += 1 }
                t = next
            }
        }
        #expect(checked > 1_000)
        #expect(exact > 0)
    }
}
