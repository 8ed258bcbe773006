import Testing

@testable import SegmentLanguage

@Suite struct SmokeTests {
    @Test func parses() throws {
        let e = try SegmentExpression.parse(#"plan = "pro" and country in ["DE", "FR"] and age >= 18"#)
        #expect(e.canonicalText == #"plan = "pro" and country in ["DE", "FR"] and age >= 18"#)
    }
}
