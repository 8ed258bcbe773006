import Testing

@testable import SegmentLanguage

/// `EventFilter.matches` (the filter prepared once, what the evaluator runs per event) against the tree evaluated
/// the reference interpreter's way (`Evaluation.filterMatches`), over filters of every shape and properties of every
/// type, missing ones included.
@Suite struct PreparedFilterTests {
    static let filters = [
        #"url starts_with "/pricing""#,
        #"url = "/pricing" or url = "/docs""#,
        #"not (url = "/pricing")"#,
        #"url != "/pricing""#,
        #"amount > 50 and currency = "EUR""#,
        #"amount >= 50.5 or not exists(currency)"#,
        #"50 < amount"#,
        #"amount = "50""#,
        #"sku in ["a", "b", 3]"#,
        #"sku not in ["a", "b"]"#,
        #"tags contains "x""#,
        #"exists(url) and not exists(amount)"#,
        #"flag = true"#,
        #"amount > price"#,
        #"url ends_with "a" and (amount < 10 or amount > 100)"#,
        #"at > 3d ago"#,
        #"at < 2026-11-01T00:00:00Z"#,
        #"amount * 2 > 150"#,
    ]

    static let propertyMaps: [[String: AttributeValue]] = [
        [:],
        ["url": .string("/pricing")],
        ["url": .string("/pricing/team"), "amount": .number(60), "currency": .string("EUR")],
        ["url": .string("/docs"), "amount": .number(50.5)],
        ["amount": .string("50"), "currency": .number(1)],
        ["amount": .number(50), "price": .number(40), "sku": .string("a")],
        ["sku": .number(3), "tags": .stringList(["x", "y"]), "flag": .bool(true)],
        ["sku": .string("c"), "tags": .stringList([]), "flag": .string("true")],
        ["url": .string("/blog/a"), "amount": .number(5), "at": .timestamp(Fixtures.now - Fixtures.day)],
        ["at": .string("2026-10-01T00:00:00Z"), "amount": .number(101)],
    ]

    @Test func matchesAsTheTreeDoes() throws {
        var compared = 0
        for text in Self.filters {
            let expression = try Fixtures.parse("count(e where \(text)) > 0")
            let plan = SegmentPlan(expression)
            let filter = try #require(plan.aggregates.first?.filter, "\(text)")
            for properties in Self.propertyMaps {
                let prepared = filter.matches(properties, nowMs: Fixtures.now)
                let tree = Evaluation.filterMatches(filter.node, properties: properties, nowMs: Fixtures.now)
                #expect(prepared == tree, "\(text) over \(properties)")
                compared += 1
            }
        }
        #expect(compared == Self.filters.count * Self.propertyMaps.count)
    }
}
