import Testing

@testable import SegmentLanguage

/// Every example of the contract parses, prints canonically, and means what its comment says.
@Suite struct ExampleTests {
    static let examples: [(source: String, canonical: String)] = [
        (
            #"plan = "pro" and country in ["DE", "FR"] and age >= 18"#,
            #"plan = "pro" and country in ["DE", "FR"] and age >= 18"#
        ),
        (
            "count(purchase) >= 1 and count(purchase within 30d) = 0      # lapsed buyers",
            "count(purchase) >= 1 and count(purchase within 30d) = 0"
        ),
        ("last(purchase) < 30d ago                                     # the same", "last(purchase) < 30d ago"),
        (
            #"count(page_view where url starts_with "/pricing" within 7d) >= 3"#,
            #"count(page_view where url starts_with "/pricing" within 7d) >= 3"#
        ),
        ("sum(purchase.amount within 90d) > 500", "sum(purchase.amount within 90d) > 500"),
        (
            "count(add_to_cart within 2d) >= 1 and count(purchase within 2d) = 0",
            "count(add_to_cart within 2d) >= 1 and count(purchase within 2d) = 0"
        ),
        (
            #"signup_at > 14d ago and not in_segment("employees")"#,
            #"signup_at > 14d ago and not in_segment("employees")"#
        ),
    ]

    @Test(arguments: 0..<examples.count)
    func parsesAndPrints(_ k: Int) throws {
        let (source, canonical) = Self.examples[k]
        let e = try SegmentExpression.parse(source)
        #expect(e.canonicalText == canonical)
        #expect(try SegmentExpression.parse(e.canonicalText) == e)
    }

    @Test func proInEuropeAdults() throws {
        let text = #"plan = "pro" and country in ["DE", "FR"] and age >= 18"#
        #expect(try Fixtures.eval(text, ["plan": .string("pro"), "country": .string("FR"), "age": .number(18)]))
        #expect(!(try Fixtures.eval(text, ["plan": .string("pro"), "country": .string("US"), "age": .number(40)])))
        #expect(!(try Fixtures.eval(text, ["plan": .string("pro"), "country": .string("DE"), "age": .number(17)])))
        #expect(!(try Fixtures.eval(text, ["plan": .string("pro"), "country": .string("DE")])))
    }

    @Test func lapsedBuyersBothWays() throws {
        let now = Fixtures.now
        let a = "count(purchase) >= 1 and count(purchase within 30d) = 0"
        let b = "last(purchase) < 30d ago"
        let cases: [([EventRecord], Bool)] = [
            ([], false),
            ([Fixtures.event("purchase", now - 31 * Fixtures.day)], true),
            ([Fixtures.event("purchase", now - 29 * Fixtures.day)], false),
            (
                [Fixtures.event("purchase", now - 40 * Fixtures.day), Fixtures.event("purchase", now - Fixtures.day)],
                false
            ),
            // Exactly 30 days ago: out of the window (now - D < at fails), and last < 30d ago is false too.
            ([Fixtures.event("purchase", now - 30 * Fixtures.day)], true),
        ]
        for (events, expected) in cases {
            #expect(try Fixtures.eval(a, events: events) == expected)
        }
        // `last(purchase) < 30d ago` is strictly before; at exactly 30d ago the two differ by one millisecond.
        #expect(!(try Fixtures.eval(b, events: [Fixtures.event("purchase", now - 30 * Fixtures.day)])))
        #expect(try Fixtures.eval(b, events: [Fixtures.event("purchase", now - 30 * Fixtures.day - 1)]))
        #expect(!(try Fixtures.eval(b, events: [])))
    }

    @Test func pricingPageViews() throws {
        let text = #"count(page_view where url starts_with "/pricing" within 7d) >= 3"#
        let now = Fixtures.now
        var events = (1...3).map {
            Fixtures.event("page_view", now - Int64($0) * Fixtures.day, ["url": .string("/pricing/team")])
        }
        #expect(try Fixtures.eval(text, events: events))
        events[0].properties["url"] = .string("/blog")
        #expect(!(try Fixtures.eval(text, events: events)))
        events[0].properties["url"] = .string("/pricing")
        events[1].atMs = now - 8 * Fixtures.day
        #expect(!(try Fixtures.eval(text, events: events)))
    }

    @Test func bigSpenders() throws {
        let text = "sum(purchase.amount within 90d) > 500"
        let now = Fixtures.now
        let events = [
            Fixtures.event("purchase", now - Fixtures.day, ["amount": .number(300)]),
            Fixtures.event("purchase", now - 2 * Fixtures.day, ["amount": .number(250.5)]),
            Fixtures.event("purchase", now - 91 * Fixtures.day, ["amount": .number(1000)]),
            Fixtures.event("purchase", now - Fixtures.day, ["amount": .string("9999")]),
        ]
        #expect(try Fixtures.eval(text, events: events))
        #expect(!(try Fixtures.eval(text, events: Array(events.dropFirst()))))
    }

    @Test func abandonedCarts() throws {
        let text = "count(add_to_cart within 2d) >= 1 and count(purchase within 2d) = 0"
        let now = Fixtures.now
        let cart = Fixtures.event("add_to_cart", now - Fixtures.hour)
        #expect(try Fixtures.eval(text, events: [cart]))
        #expect(!(try Fixtures.eval(text, events: [cart, Fixtures.event("purchase", now - 3 * Fixtures.hour)])))
        #expect(try Fixtures.eval(text, events: [cart, Fixtures.event("purchase", now - 3 * Fixtures.day)]))
    }

    @Test func recentSignupsNotEmployees() throws {
        let text = #"signup_at > 14d ago and not in_segment("employees")"#
        let recent: [String: AttributeValue] = ["signup_at": .string("2026-10-25T00:00:00Z")]
        #expect(try Fixtures.eval(text, recent))
        #expect(!(try Fixtures.eval(text, recent, members: ["employees"])))
        #expect(!(try Fixtures.eval(text, ["signup_at": .string("2026-10-01T00:00:00Z")])))
        #expect(!(try Fixtures.eval(text, [:])))
    }

    @Test func grammarCorners() throws {
        let cases: [(String, String)] = [
            ("a==1", "a = 1"),
            ("`first name` = \"Ann\"", "`first name` = \"Ann\""),
            ("`plan` = \"x\"", "plan = \"x\""),
            ("`count` = 1", "`count` = 1"),
            ("count(\"page view\") > 0", "count(\"page view\") > 0"),
            ("count(`page_view`) > 0", "count(page_view) > 0"),
            ("sum(\"page view\".`load ms`) > 0", "sum(\"page view\".`load ms`) > 0"),
            ("((a = 1))", "a = 1"),
            ("a = 1 or (b = 2 or c = 3)", "a = 1 or (b = 2 or c = 3)"),
            ("(a = 1 or b = 2) and c = 3", "(a = 1 or b = 2) and c = 3"),
            ("not not a = 1", "not not a = 1"),
            ("not (a = 1 and b = 2)", "not (a = 1 and b = 2)"),
            ("x not in [1, 2.5, -3, 1e20, true, \"s\", [1]]", "x not in [1, 2.5, -3, 1e+20, true, \"s\", [1]]"),
            ("t > 2026-01-01T01:00:00+01:00", "t > 2026-01-01T00:00:00Z"),
            ("t > 2026-01-01t00:00:00.250z", "t > 2026-01-01T00:00:00.250Z"),
            (
                "t < now and t > 90s ago and t > 15m ago and t > 12h ago and t > 2w ago",
                "t < now and t > 90s ago and t > 15m ago and t > 12h ago and t > 2w ago"
            ),
            ("s = \"a\\\"b\\\\c\\nd\\te\\u00e9\\uD83D\\uDE00\"", "s = \"a\\\"b\\\\c\\nd\\te\u{e9}\u{1F600}\""),
            (
                "avg(e.p where a = 1 within 1h) > 0 and min(e.p) < 0 and max(e.p) > 0",
                "avg(e.p where a = 1 within 1h) > 0 and min(e.p) < 0 and max(e.p) > 0"
            ),
            ("first(e where exists(p)) < last(e)", "first(e where exists(p)) < last(e)"),
            ("# only a comment\n  x = 1 # trailing\n", "x = 1"),
            ("exists(`weird name`) and in_segment(\"vip list\")", "exists(`weird name`) and in_segment(\"vip list\")"),
            ("AND = 1", "AND = 1"),
        ]
        for (source, canonical) in cases {
            let e = try SegmentExpression.parse(source)
            #expect(e.canonicalText == canonical, "\(source)")
            #expect(try SegmentExpression.parse(e.canonicalText) == e, "\(source)")
        }
    }

    @Test func referencedSegments() throws {
        let e = try SegmentExpression.parse(
            "in_segment(\"a\") or\n  (x = 1 and not in_segment(\"b\")) or in_segment(\"a\")"
        )
        #expect(e.referencedSegments.map(\.name) == ["a", "b", "a"])
        #expect(e.referencedSegments.map(\.position.description) == ["1:1", "2:18", "2:38"])
        #expect(e.referencedSegmentNames == ["a", "b"])
    }
}
