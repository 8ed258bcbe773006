import Testing

@testable import SegmentLanguage

@Suite struct CatalogTests {
    func check(_ name: String, _ text: String, _ existing: [String: Set<String>]) throws -> SegmentLanguageError? {
        let e = try SegmentExpression.parse(text)
        do {
            try SegmentCatalog.check(name: name, expression: e, existing: existing)
            return nil
        } catch {
            return error
        }
    }

    @Test func acceptsKnownSegmentsAndLists() throws {
        #expect(
            try check("new", "in_segment(\"a\") or in_segment(\"list\")", ["a": ["b"], "b": [], "list": []]) == nil
        )
        #expect(try check("new", "x = 1", [:]) == nil)
    }

    @Test func refusesUnknownAtItsPosition() throws {
        let error = try #require(try check("new", "x = 1 and\n  in_segment(\"a\") and in_segment(\"nope\")", ["a": []]))
        #expect(error.code == .unknownSegment)
        #expect(error.line == 2 && error.column == 23)
        #expect(error.reason == "in_segment(\"nope\") names no saved segment or list")
        #expect(error.description.hasSuffix("  in_segment(\"a\") and in_segment(\"nope\")\n                      ^"))
    }

    @Test func refusesSelfReference() throws {
        let error = try #require(try check("a", "x = 1 or in_segment(\"a\")", [:]))
        #expect(error.code == .cycle && error.column == 10)
        #expect(error.reason == "in_segment(\"a\") makes a cycle: a -> a")
        // Also when replacing a saved segment.
        #expect(try check("a", "in_segment(\"a\")", ["a": []])?.code == .cycle)
    }

    @Test func refusesCyclesThroughSavedSegments() throws {
        let existing: [String: Set<String>] = ["b": ["c"], "c": ["a", "d"], "d": [], "e": ["b"]]
        let error = try #require(
            try check("a", "in_segment(\"d\") or in_segment(\"e\") or in_segment(\"b\")", existing)
        )
        #expect(error.code == .cycle)
        // The shortest cycle, at the call that starts it.
        #expect(error.reason == "in_segment(\"b\") makes a cycle: a -> b -> c -> a")
        #expect(error.column == 39)
        // Replacing `a` so that it no longer refers to `b` breaks the cycle even though the old `a` did.
        #expect(try check("a", "in_segment(\"d\")", ["a": ["b"], "b": ["a"], "d": []]) == nil)
    }

    @Test func longChainsDoNotRecurse() throws {
        var existing: [String: Set<String>] = [:]
        for k in 0..<100_000 { existing["s\(k)"] = ["s\(k + 1)"] }
        existing["s100000"] = ["new"]
        let error = try #require(try check("new", "in_segment(\"s0\")", existing))
        #expect(error.code == .cycle)
        #expect(error.reason.hasSuffix("s99999 -> s100000 -> new"))
    }
}
