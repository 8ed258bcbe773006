@testable import SegmentLanguage

/// Shared instants and helpers.
enum Fixtures {
    /// 2026-11-01T10:00:00Z.
    static let now: Int64 = 1_793_527_200_000
    static let second: Int64 = 1_000
    static let minute: Int64 = 60_000
    static let hour: Int64 = 3_600_000
    static let day: Int64 = 86_400_000

    static func parse(_ text: String) throws -> SegmentExpression { try SegmentExpression.parse(text) }

    /// Evaluates with the reference interpreter; `in_segment` is true for names in `members`.
    static func eval(
        _ text: String,
        _ attributes: [String: AttributeValue] = [:],
        events: [EventRecord] = [],
        now: Int64 = Fixtures.now,
        members: Set<String> = []
    ) throws -> Bool {
        let e = try SegmentExpression.parse(text)
        return ReferenceInterpreter.evaluate(e, attributes: attributes, events: events, nowMs: now) {
            members.contains($0)
        }
    }

    /// The error `parse` throws, or `nil` when it parses.
    static func error(_ text: String) -> SegmentLanguageError? {
        do {
            _ = try SegmentExpression.parse(text)
            return nil
        } catch {
            return error
        }
    }

    static func event(_ name: String, _ at: Int64, _ properties: [String: AttributeValue] = [:]) -> EventRecord {
        EventRecord(name: name, atMs: at, properties: properties)
    }
}
