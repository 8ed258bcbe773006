import Testing

@testable import SegmentLanguage

/// Every error kind of the contract, with its exact position.
@Suite struct ErrorTests {
    struct Case: CustomStringConvertible, Sendable {
        var text: String
        var code: SegmentLanguageError.Code
        var line: Int
        var column: Int
        var reason: String?
        var description: String { text }
    }

    static let cases: [Case] = [
        // The contract's own example.
        Case(
            text: "count(purchase within days) >= 1",
            code: .syntax,
            line: 1,
            column: 23,
            reason: "expected a duration after 'within', found 'days'"
        ),
        Case(
            text: "count(purchase within 30 days) >= 1",
            code: .syntax,
            line: 1,
            column: 23,
            reason: "expected a duration after 'within', found '30'; write the unit right after the number, e.g. 30d"
        ),
        // Syntax.
        Case(text: "", code: .syntax, line: 1, column: 1, reason: "expected an expression, found end of input"),
        Case(
            text: "plan = ",
            code: .syntax,
            line: 1,
            column: 8,
            reason: "expected a value after '=', found end of input"
        ),
        Case(text: "plan", code: .syntax, line: 1, column: 5, reason: nil),
        Case(text: "vip and x = 1", code: .syntax, line: 1, column: 5, reason: nil),
        Case(
            text: "plan = \"pro\" AND x = 1",
            code: .syntax,
            line: 1,
            column: 14,
            reason: "expected 'and', 'or' or end of input, found 'AND' (keywords are lower case)"
        ),
        Case(text: "(plan = \"pro\"", code: .syntax, line: 1, column: 14, reason: nil),
        Case(text: "plan = \"pro\")", code: .syntax, line: 1, column: 13, reason: "unbalanced ')'"),
        Case(text: "a ! b", code: .syntax, line: 1, column: 3, reason: "unexpected '!'; write '!=' or 'not'"),
        Case(text: "a = 1 && b = 2", code: .syntax, line: 1, column: 7, reason: "unexpected '&'; write 'and'"),
        Case(text: "a = 'x'", code: .syntax, line: 1, column: 5, reason: nil),
        Case(text: "a = 1 $", code: .syntax, line: 1, column: 7, reason: "unexpected character '$'"),
        Case(text: "a = []", code: .syntax, line: 1, column: 6, reason: "a list needs at least one value"),
        Case(text: "a in [1, now]", code: .syntax, line: 1, column: 10, reason: nil),
        Case(text: "a not = 1", code: .syntax, line: 1, column: 7, reason: "expected 'in' after 'not', found '='"),
        Case(
            text: "x > 30d",
            code: .syntax,
            line: 1,
            column: 8,
            reason: "expected 'ago' after '30d', found end of input"
        ),
        Case(text: "first(purchase within 7d) > 1d ago", code: .syntax, line: 1, column: 16, reason: nil),
        Case(text: "count(purchase.amount) > 1", code: .syntax, line: 1, column: 15, reason: nil),
        Case(text: "exists(\"plan\")", code: .syntax, line: 1, column: 8, reason: nil),
        Case(text: "in_segment(vip)", code: .syntax, line: 1, column: 12, reason: nil),
        Case(
            text: "x = `a",
            code: .invalidString,
            line: 1,
            column: 5,
            reason: "unterminated name: missing closing '`'"
        ),
        Case(text: "x = ``", code: .syntax, line: 1, column: 5, reason: "empty name ``"),
        // Positions on later lines and after non-ASCII text count Unicode scalars.
        Case(
            text: "plan = \"pro\" and\n  count(purchase within days) > 1",
            code: .syntax,
            line: 2,
            column: 25,
            reason: "expected a duration after 'within', found 'days'"
        ),
        Case(text: "name = \"日本\" and x", code: .syntax, line: 1, column: 18, reason: nil),
        // Unknown functions.
        Case(text: "foo(x) = 1", code: .unknownFunction, line: 1, column: 1, reason: nil),
        Case(
            text: "a = 1 and Count(purchase) > 1",
            code: .unknownFunction,
            line: 1,
            column: 11,
            reason: "unknown function 'Count' (keywords are lower case: count)"
        ),
        Case(
            text: "count(purchase where lower(url) = \"x\") > 1",
            code: .unknownFunction,
            line: 1,
            column: 22,
            reason: nil
        ),
        // A filter, window, property or sum on something that is not an event.
        Case(text: "sum(amount) > 5", code: .notAnEvent, line: 1, column: 5, reason: nil),
        Case(text: "avg(purchase) > 5", code: .notAnEvent, line: 1, column: 5, reason: nil),
        Case(text: "count(42) > 1", code: .notAnEvent, line: 1, column: 7, reason: nil),
        Case(text: "sum(now.x) > 1", code: .notAnEvent, line: 1, column: 5, reason: nil),
        Case(text: "count(count(x)) > 1", code: .notAnEvent, line: 1, column: 7, reason: nil),
        Case(text: "count() > 1", code: .notAnEvent, line: 1, column: 7, reason: nil),
        Case(text: "plan where x = 1", code: .notAnEvent, line: 1, column: 6, reason: nil),
        Case(text: "plan = \"a\" where x = 1", code: .notAnEvent, line: 1, column: 12, reason: nil),
        Case(text: "plan within 7d", code: .notAnEvent, line: 1, column: 6, reason: nil),
        Case(text: "plan.x = 1", code: .notAnEvent, line: 1, column: 5, reason: nil),
        // Aggregates and in_segment inside a filter.
        Case(text: "count(purchase where count(x) > 1) > 0", code: .invalidFilter, line: 1, column: 22, reason: nil),
        Case(
            text: "count(purchase where in_segment(\"a\")) > 0",
            code: .invalidFilter,
            line: 1,
            column: 22,
            reason: "in_segment is not allowed inside 'where'"
        ),
        // Durations.
        Case(
            text: "count(purchase within 0d) = 0",
            code: .invalidDuration,
            line: 1,
            column: 23,
            reason: "a duration must be greater than zero: '0d'"
        ),
        Case(text: "last(purchase) < 0s ago", code: .invalidDuration, line: 1, column: 18, reason: nil),
        Case(text: "count(purchase within 30days) > 1", code: .invalidDuration, line: 1, column: 23, reason: nil),
        Case(text: "count(purchase within 1.5d) > 1", code: .invalidDuration, line: 1, column: 23, reason: nil),
        Case(text: "x > -3d ago", code: .invalidDuration, line: 1, column: 5, reason: nil),
        Case(text: "x > 99999999999999999999d ago", code: .invalidDuration, line: 1, column: 5, reason: nil),
        Case(text: "x > 99999999999999w ago", code: .invalidDuration, line: 1, column: 5, reason: nil),
        // Numbers, strings, timestamps.
        Case(text: "age > 1e999", code: .invalidNumber, line: 1, column: 7, reason: nil),
        Case(text: "age > 1.", code: .invalidNumber, line: 1, column: 7, reason: nil),
        Case(text: "plan = \"pro", code: .invalidString, line: 1, column: 8, reason: nil),
        Case(text: "plan = \"a\\q\"", code: .invalidString, line: 1, column: 10, reason: nil),
        Case(text: "plan = \"\\uD800\"", code: .invalidString, line: 1, column: 9, reason: nil),
        Case(text: "plan = \"\\u12\"", code: .invalidString, line: 1, column: 9, reason: nil),
        Case(text: "plan = \"a\nb\"", code: .invalidString, line: 1, column: 8, reason: nil),
        Case(
            text: "signup_at > 2026-11-01",
            code: .invalidTimestamp,
            line: 1,
            column: 13,
            reason: "a date alone is not a timestamp: write '2026-11-01T00:00:00Z'"
        ),
        Case(text: "signup_at > 2026-02-29T00:00:00Z", code: .invalidTimestamp, line: 1, column: 13, reason: nil),
        Case(text: "signup_at > 2026-01-01T00:00:00", code: .invalidTimestamp, line: 1, column: 13, reason: nil),
        Case(text: "signup_at > 2026-01-01 10:00:00Z", code: .invalidTimestamp, line: 1, column: 13, reason: nil),
    ]

    @Test(arguments: cases)
    func refused(_ c: Case) {
        let error = Fixtures.error(c.text)
        #expect(error?.code == c.code, "\(error?.message ?? "parsed")")
        #expect(error?.line == c.line, "\(error?.message ?? "parsed")")
        #expect(error?.column == c.column, "\(error?.message ?? "parsed")")
        if let reason = c.reason { #expect(error?.reason == reason) }
    }

    @Test func descriptionHasLineAndCaret() throws {
        let error = try #require(Fixtures.error("count(purchase within days) >= 1"))
        #expect(
            error.description == """
                1:23: expected a duration after 'within', found 'days'
                count(purchase within days) >= 1
                                      ^
                """
        )
        #expect(error.message == "1:23: expected a duration after 'within', found 'days'")
        let second = try #require(Fixtures.error("a = 1 and\n\tb ! 2"))
        #expect(second.description == "2:4: unexpected '!'; write '!=' or 'not'\n\tb ! 2\n\t  ^")
    }

    @Test func longLinesAreShortenedAroundTheCaret() throws {
        let text = String(repeating: "a = 1 and ", count: 50) + "b = "
        let error = try #require(Fixtures.error(text))
        #expect(error.column == 505)
        #expect(error.sourceLine.unicodeScalars.count <= 102)
        let lines = error.description.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 3)
        #expect(lines[2].count == lines[1].count + 1 - 1 || lines[2].last == "^")
    }

    @Test func tooLarge() throws {
        let text = "x = \"" + String(repeating: "a", count: 70_000) + "\""
        let error = try #require(Fixtures.error(text))
        #expect(error.code == .tooLarge)
        #expect(error.line == 1 && error.column == 65_537)
        // Exactly at the limit is fine.
        let atLimit = "x = \"" + String(repeating: "a", count: 65_536 - 6) + "\""
        #expect(atLimit.utf8.count == 65_536)
        #expect(Fixtures.error(atLimit) == nil)
    }

    @Test func tooLargeWhenCanonical() throws {
        // 65 000 bytes of source grow past 64 KiB when printed with spaces: refused, so canonical text always parses.
        let text = "x in [" + String(repeating: "1,", count: 32_490) + "1]"
        #expect(text.utf8.count <= 65_536)
        let error = try #require(Fixtures.error(text))
        #expect(error.code == .tooLarge)
    }

    @Test func tooDeepParentheses() throws {
        let ok = String(repeating: "(", count: 64) + "a = 1" + String(repeating: ")", count: 64)
        #expect(Fixtures.error(ok) == nil)
        let deep = String(repeating: "(", count: 65) + "a = 1" + String(repeating: ")", count: 65)
        let error = try #require(Fixtures.error(deep))
        #expect(error.code == .tooDeep && error.line == 1 && error.column == 65)
        // Any length, without exhausting the stack.
        let huge = String(repeating: "(", count: 65_000)
        #expect(Fixtures.error(huge)?.code == .tooDeep)
    }

    @Test func tooDeepNots() throws {
        let ok = String(repeating: "not ", count: 64) + "a = 1"
        #expect(Fixtures.error(ok) == nil)
        let deep = String(repeating: "not ", count: 65) + "a = 1"
        let error = try #require(Fixtures.error(deep))
        #expect(error.code == .tooDeep && error.column == 257)
        #expect(Fixtures.error(String(repeating: "not ", count: 16_000))?.code == .tooDeep)
    }

    @Test func tooDeepMixed() throws {
        let lists = "x in " + String(repeating: "[", count: 65) + "1" + String(repeating: "]", count: 65)
        #expect(Fixtures.error(lists)?.code == .tooDeep)
        let calls =
            String(repeating: "not (", count: 32) + "count(e where " + "(a = 1)" + ") > 1"
            + String(repeating: ")", count: 32)
        #expect(Fixtures.error(calls)?.code == .tooDeep)
        // Long flat chains are not nesting.
        let chain = (0..<3_000).map { "a\($0) = \($0)" }.joined(separator: " or ")
        #expect(Fixtures.error(chain) == nil)
    }
}
