import Testing

@testable import SegmentLanguage

/// Table tests for the parts of the contract that are easy to get wrong.
@Suite struct SemanticsTests {
    typealias Row = (text: String, expected: Bool)

    static let user: [String: AttributeValue] = [
        "plan": .string("basic"),
        "age": .number(34),
        "age_text": .string("34"),
        "vip": .bool(true),
        "country": .string("DE"),
        "tags": .stringList(["a", "beta"]),
        "allowed": .stringList(["basic", "pro"]),
        "signup_rfc": .string("2026-10-25T00:00:00Z"),
        "signup_offset": .string("2026-10-25T02:00:00+02:00"),
        "signup_secs": .number(1_792_886_400),  // 2026-10-25T00:00:00Z in Unix seconds
        "signup_ts": .timestamp(1_792_886_400_000),
        "signup_date": .string("2026-10-25"),
        "signup_bool": .bool(true),
        "name": .string("Zoë"),
    ]

    func check(_ rows: [Row], _ attributes: [String: AttributeValue] = SemanticsTests.user) throws {
        for row in rows {
            #expect(try Fixtures.eval(row.text, attributes) == row.expected, "\(row.text)")
        }
    }

    @Test func twoValuedLogic() throws {
        try check(
            [
                ("not (plan = \"pro\")", true),
                ("plan != \"pro\"", false),
                ("plan = \"pro\"", false),
                ("plan not in [\"pro\"]", false),
                ("not (plan in [\"pro\"])", true),
                ("plan < \"z\" or plan >= \"z\"", false),
                ("not exists(plan)", true),
            ],
            [:]
        )
        try check([("plan != \"pro\"", true), ("not (plan = \"pro\")", true), ("plan not in [\"pro\"]", true)])
    }

    @Test func typeMismatchesAreFalse() throws {
        try check([
            ("age_text > 18", false),
            ("age_text != 18", false),
            ("age_text = 34", false),
            ("age = \"34\"", false),
            ("age != \"34\"", false),
            ("vip = \"true\"", false),
            ("vip != 1", false),
            ("tags = \"a\"", false),
            ("plan in [1, 2]", false),
            ("plan not in [1, 2]", false),
            ("1 = \"1\"", false),
        ])
    }

    @Test func numbers() throws {
        try check([
            ("1 = 1.0", true),
            ("age = 34.0", true),
            ("age >= 34", true),
            ("age > 33.999", true),
            ("age < 34", false),
            ("age != 34", false),
            ("-1 < 0", true),
            ("1e3 = 1000", true),
        ])
    }

    @Test func stringsAndBools() throws {
        try check([
            ("plan = \"basic\"", true),
            ("plan = \"Basic\"", false),
            ("\"B\" < \"a\"", true),
            ("\"a\" < \"b\"", true),
            ("\"ab\" > \"a\"", true),
            ("name > \"Zo\"", true),
            // By Unicode scalar values: precomposed é is not e + combining acute.
            ("\"\\u00e9\" = \"e\\u0301\"", false),
            ("\"\\u00e9\" > \"z\"", true),
            ("vip = true", true),
            ("vip != false", true),
            ("vip > false", false),
            ("vip >= true", false),
            ("true = true", true),
        ])
    }

    @Test func timeCoercion() throws {
        // now is 2026-11-01T10:00:00Z; every signup_* below is 2026-10-25T00:00:00Z, about 7.4 days ago.
        let yes = ["signup_rfc", "signup_offset", "signup_secs", "signup_ts"]
        for name in yes {
            try check([
                ("\(name) > 14d ago", true),
                ("\(name) < 7d ago", true),
                ("\(name) < now", true),
                ("\(name) = 2026-10-25T00:00:00Z", true),
                ("\(name) >= 2026-10-25T00:00:00.001Z", false),
                ("\(name) > 8d ago", true),
            ])
        }
        for name in ["signup_date", "signup_bool", "plan", "tags", "missing"] {
            try check([
                ("\(name) > 14d ago", false),
                ("\(name) < 14d ago", false),
                ("\(name) != now", false),
                ("not (\(name) > 14d ago)", true),
            ])
        }
        try check([
            // Literals are never read as timestamps.
            ("\"2026-10-25T00:00:00Z\" < now", false),
            ("0 < now", false),
            ("1792886400 < now", false),
            // Time operands compare with each other.
            ("now > 1d ago", true),
            ("2026-01-01T00:00:00Z < now", true),
            ("1s ago < now", true),
            // Attributes compared with each other are not read as timestamps.
            ("signup_rfc = signup_ts", false),
            ("signup_ts = signup_ts", true),
            // Unix seconds with a fraction: milliseconds.
        ])
        try check([("t = 2026-10-25T00:00:00.250Z", true)], ["t": .number(1_792_886_400.25)])
        try check([("t = 2026-10-25T00:00:00.250Z", true)], ["t": .string("2026-10-25T00:00:00.2509Z")])
        try check([("t > 1d ago", false)], ["t": .number(1e300)])
    }

    @Test func windowBoundaries() throws {
        let now = Fixtures.now
        let d = 30 * Fixtures.day
        let text = "count(purchase within 30d) = 1"
        let rows: [(Int64, Bool)] = [
            (now - d, false),  // now - D < at fails
            (now - d + 1, true),
            (now - 1, true),
            (now, true),  // at <= now
            (now + 1, false),  // future-dated
        ]
        for (at, expected) in rows {
            #expect(try Fixtures.eval(text, events: [Fixtures.event("purchase", at)]) == expected, "at \(at - now)")
        }
        // The same with a seconds window, to be sure the unit is right.
        #expect(try Fixtures.eval("count(e within 90s) = 1", events: [Fixtures.event("e", now - 89_999)]))
        #expect(!(try Fixtures.eval("count(e within 90s) = 1", events: [Fixtures.event("e", now - 90_000)])))
        #expect(try Fixtures.eval("count(e within 2w) = 1", events: [Fixtures.event("e", now - 14 * Fixtures.day + 1)]))
        #expect(
            try Fixtures.eval("count(e within 15m) = 1", events: [Fixtures.event("e", now - 15 * Fixtures.minute + 1)])
        )
        #expect(try Fixtures.eval("count(e within 12h) = 0", events: [Fixtures.event("e", now - 12 * Fixtures.hour)]))
    }

    @Test func futureDatedEvents() throws {
        let now = Fixtures.now
        let future = [Fixtures.event("purchase", now + Fixtures.hour, ["amount": .number(5)])]
        for text in [
            "count(purchase) = 0", "sum(purchase.amount) = 0", "not exists(x) and not (avg(purchase.amount) >= 0)",
            "not (first(purchase) <= now)", "not (last(purchase) <= now)", "not (max(purchase.amount) > 0)",
        ] {
            #expect(try Fixtures.eval(text, events: future), "\(text)")
        }
        // From its own instant on, it counts.
        #expect(
            try Fixtures.eval("count(purchase) = 1 and last(purchase) = now", events: future, now: now + Fixtures.hour)
        )
        #expect(try Fixtures.eval("count(purchase within 1h) = 1", events: future, now: now + Fixtures.hour))
    }

    @Test func missingVersusZero() throws {
        let none: [EventRecord] = []
        let noNumbers = [
            Fixtures.event("p", Fixtures.now - 1, ["a": .string("5")]), Fixtures.event("p", Fixtures.now - 2),
        ]
        for events in [none, noNumbers] {
            let n = Double(events.count)
            try #require(n >= 0)
            #expect(try Fixtures.eval("count(p) = \(events.count)", events: events))
            #expect(try Fixtures.eval("sum(p.a) = 0", events: events))
            for kind in ["avg", "min", "max"] {
                #expect(!(try Fixtures.eval("\(kind)(p.a) = 0", events: events)))
                #expect(!(try Fixtures.eval("\(kind)(p.a) != 0", events: events)))
                #expect(try Fixtures.eval("not (\(kind)(p.a) = 0)", events: events))
            }
        }
        for kind in ["first", "last"] {
            #expect(!(try Fixtures.eval("\(kind)(p) < now", events: none)))
            #expect(!(try Fixtures.eval("\(kind)(p) >= now", events: none)))
        }
        let some = [
            Fixtures.event("p", Fixtures.now - 3 * Fixtures.day, ["a": .number(2)]),
            Fixtures.event("p", Fixtures.now - 1 * Fixtures.day, ["a": .number(-4)]),
            Fixtures.event("p", Fixtures.now - 2 * Fixtures.day, ["a": .string("x")]),
            Fixtures.event("q", Fixtures.now - 5 * Fixtures.day, ["a": .number(100)]),
        ]
        #expect(
            try Fixtures.eval(
                "count(p) = 3 and sum(p.a) = -2 and avg(p.a) = -1 and min(p.a) = -4 and max(p.a) = 2",
                events: some
            )
        )
        #expect(try Fixtures.eval("first(p) = 3d ago and last(p) = 1d ago", events: some))
        #expect(
            try Fixtures.eval(
                "count(p where a > 0) = 1 and count(p where exists(a)) = 3 and count(p where not exists(a)) = 0",
                events: some
            )
        )
        #expect(try Fixtures.eval("count(p where a = \"x\" within 3d) = 1", events: some))
    }

    @Test func membershipOperators() throws {
        try check([
            ("country in [\"DE\", \"FR\"]", true),
            ("country in [\"FR\"]", false),
            ("country not in [\"FR\", \"US\"]", true),
            ("country not in [\"DE\", \"US\"]", false),
            ("age in [1, 34]", true),
            ("age in [\"34\"]", false),
            ("tags in [\"a\"]", false),  // `in` compares one value
            ("tags contains \"a\"", true),
            ("tags contains \"b\"", false),  // element, not substring
            ("tags contains \"beta\"", true),
            ("plan contains \"asi\"", true),
            ("plan contains \"\"", true),
            ("plan contains \"Asi\"", false),
            ("plan contains 1", false),
            ("age contains 3", false),
            ("plan starts_with \"ba\"", true),
            ("plan starts_with \"as\"", false),
            ("plan ends_with \"sic\"", true),
            ("plan ends_with \"basicx\"", false),
            ("tags starts_with \"a\"", false),
            ("name ends_with \"ë\"", true),
            ("name ends_with \"e\"", false),
            ("plan in allowed", true),  // the right side may be a list attribute
            ("plan in plan", false),  // ... but must be a list
            ("missing in [\"a\"]", false),
            ("missing not in [\"a\"]", false),
            ("missing contains \"a\"", false),
            ("[1, 2] = [1, 2.0]", true),
            ("[1, 2] != [2, 1]", true),
            ("[\"a\", \"beta\"] = tags", true),
        ])
    }

    @Test func existsAndSegments() throws {
        #expect(try Fixtures.eval("exists(plan)", ["plan": .string("")]))
        #expect(!(try Fixtures.eval("exists(plan)", [:])))
        #expect(try Fixtures.eval("in_segment(\"a\") and not in_segment(\"b\")", members: ["a"]))
    }

    @Test func explanationShowsValues() throws {
        let e = try Fixtures.parse("count(purchase) >= 1 and count(purchase within 30d) = 0 and signup_at > 14d ago")
        let now = Fixtures.now
        let events = [
            Fixtures.event("purchase", now - Fixtures.day), Fixtures.event("purchase", now - 40 * Fixtures.day),
        ]
        let x = ReferenceInterpreter.explain(
            e,
            attributes: ["signup_at": .number(1_792_886_400)],
            events: events,
            nowMs: now,
            isMember: { _ in false }
        )
        #expect(x.result == .bool(false))
        #expect(
            x.description == """
                count(purchase) >= 1 and count(purchase within 30d) = 0 and signup_at > 14d ago → false
                  count(purchase) >= 1 → true
                    count(purchase) → 2
                  count(purchase within 30d) = 0 → false
                    count(purchase within 30d) → 1
                  signup_at > 14d ago → true
                    signup_at → 2026-10-25T00:00:00Z
                    14d ago → 2026-10-18T10:00:00Z
                """
        )
        let missing = ReferenceInterpreter.explain(
            try Fixtures.parse("not (avg(p.a) > 1)"),
            attributes: [:],
            events: [],
            nowMs: now,
            isMember: { _ in false }
        )
        #expect(missing.description == "not avg(p.a) > 1 → true\n  avg(p.a) > 1 → false\n    avg(p.a) → missing")
    }
}
