import Foundation

/// A segment condition the benchmark can write both in the segment language and in SQL over the
/// baseline's relational copy, so both sides answer the same question.
public indirect enum BenchCondition: Sendable, Hashable {
    /// `ATTR = "value"`.
    case equals(String, String)
    /// `ATTR in ["a", "b"]`.
    case isIn(String, [String])
    /// `ATTR OP number`, e.g. `age >= 18`.
    case number(String, String, Double)
    /// `ATTR = true|false`.
    case flag(String, Bool)
    /// `tags contains "vip"`.
    case hasTag(String)
    /// `ATTR > Nd ago` (`after` true) or `ATTR < Nd ago`.
    case timestamp(String, after: Bool, days: Int)
    /// `exists(ATTR)`.
    case exists(String)
    /// `count(EVENT [where url starts_with P] [within W]) OP N`; `window` is a duration such as `7d` or `2s`.
    case count(String, urlPrefix: String?, window: String?, op: String, value: Int)
    /// `sum(EVENT.PROP [within W]) OP X`.
    case sum(String, String, window: String?, op: String, value: Double)
    /// `last(EVENT) < W ago`.
    case lastBefore(String, ago: String)
    /// `in_segment("NAME")`.
    case inSegment(String)
    /// All of them.
    case and([BenchCondition])
    /// Any of them.
    case or([BenchCondition])
    /// Negation.
    case not(BenchCondition)

    // MARK: - Segment language

    /// The condition in the segment language.
    public var expression: String {
        switch self {
        case .equals(let attribute, let value): return "\(attribute) = \(Self.quoted(value))"
        case .isIn(let attribute, let values):
            return "\(attribute) in [\(values.map(Self.quoted).joined(separator: ", "))]"
        case .number(let attribute, let op, let value): return "\(attribute) \(op) \(Self.number(value))"
        case .flag(let attribute, let value): return "\(attribute) = \(value)"
        case .hasTag(let tag): return "tags contains \(Self.quoted(tag))"
        case .timestamp(let attribute, let after, let days): return "\(attribute) \(after ? ">" : "<") \(days)d ago"
        case .exists(let attribute): return "exists(\(attribute))"
        case .count(let event, let prefix, let window, let op, let value):
            var inner = event
            if let prefix { inner += " where url starts_with \(Self.quoted(prefix))" }
            if let window { inner += " within \(window)" }
            return "count(\(inner)) \(op) \(value)"
        case .sum(let event, let property, let window, let op, let value):
            let within = window.map { " within \($0)" } ?? ""
            return "sum(\(event).\(property)\(within)) \(op) \(Self.number(value))"
        case .lastBefore(let event, let ago): return "last(\(event)) < \(ago) ago"
        case .inSegment(let name): return "in_segment(\(Self.quoted(name)))"
        case .and(let parts): return parts.map { "(\($0.expression))" }.joined(separator: " and ")
        case .or(let parts): return parts.map { "(\($0.expression))" }.joined(separator: " or ")
        case .not(let inner): return "not (\(inner.expression))"
        }
    }

    // MARK: - SQL

    /// The condition as an SQL boolean over `users u`, with `?1` bound to "now" (ms).
    ///
    /// Every leaf is wrapped in `coalesce(…, 0)` so that a missing value is false, as in the
    /// language's two-valued logic, and `NOT` of it is true.
    /// - Parameter segments: resolves `in_segment` names (inlined, as a view would be).
    /// - Throws: ``SegbenchError`` for an unknown segment name.
    public func sql(segments: [String: BenchCondition]) throws(SegbenchError) -> String {
        switch self {
        case .equals(let attribute, let value):
            return "coalesce(\(try Self.column(attribute)) = \(Self.sqlString(value)), 0)"
        case .isIn(let attribute, let values):
            return
                "coalesce(\(try Self.column(attribute)) IN (\(values.map(Self.sqlString).joined(separator: ", "))), 0)"
        case .number(let attribute, let op, let value):
            return "coalesce(\(try Self.column(attribute)) \(Self.sqlOp(op)) \(Self.number(value)), 0)"
        case .flag(let attribute, let value): return "coalesce(\(try Self.column(attribute)) = \(value ? 1 : 0), 0)"
        case .hasTag(let tag): return "coalesce(instr(',' || u.tags || ',', \(Self.sqlString("," + tag + ","))) > 0, 0)"
        case .timestamp(let attribute, let after, let days):
            return "coalesce(\(try Self.column(attribute)) \(after ? ">" : "<") ?1 - \(Int64(days) * 86_400_000), 0)"
        case .exists(let attribute): return "(\(try Self.column(attribute)) IS NOT NULL)"
        case .count(let event, let prefix, let window, let op, let value):
            return
                "((SELECT count(*) FROM events e WHERE \(try Self.eventFilter(event, prefix, window))) \(Self.sqlOp(op)) \(value))"
        case .sum(let event, let property, let window, let op, let value):
            guard property == "amount" else { throw SegbenchError(.baseline, "no SQL column for property \(property)") }
            return
                "((SELECT coalesce(sum(e.amount), 0) FROM events e WHERE \(try Self.eventFilter(event, nil, window))) \(Self.sqlOp(op)) \(Self.number(value)))"
        case .lastBefore(let event, let ago):
            let agoMs = try Self.durationMs(ago)
            return
                "coalesce((SELECT max(e.at_ms) FROM events e WHERE \(try Self.eventFilter(event, nil, nil))) < ?1 - \(agoMs), 0)"
        case .inSegment(let name):
            guard let condition = segments[name] else {
                throw SegbenchError(.baseline, "in_segment names unknown segment \(name)")
            }
            return "(\(try condition.sql(segments: segments)))"
        case .and(let parts):
            return "("
                + (try parts.map { part throws(SegbenchError) in try part.sql(segments: segments) }).joined(
                    separator: " AND "
                ) + ")"
        case .or(let parts):
            return "("
                + (try parts.map { part throws(SegbenchError) in try part.sql(segments: segments) }).joined(
                    separator: " OR "
                ) + ")"
        case .not(let inner): return "(NOT \(try inner.sql(segments: segments)))"
        }
    }

    /// Milliseconds of a duration such as `30d`, `12h`, `2s`.
    public static func durationMs(_ text: String) throws(SegbenchError) -> Int64 {
        guard let unit = text.last, let amount = Int64(text.dropLast()), amount > 0 else {
            throw SegbenchError(.invalidArgument, "bad duration \(text)")
        }
        switch unit {
        case "s": return amount * 1000
        case "m": return amount * 60_000
        case "h": return amount * 3_600_000
        case "d": return amount * 86_400_000
        case "w": return amount * 7 * 86_400_000
        default: throw SegbenchError(.invalidArgument, "bad duration unit in \(text)")
        }
    }

    static func eventFilter(_ event: String, _ prefix: String?, _ window: String?) throws(SegbenchError) -> String {
        var sql = "e.user_id = u.id AND e.name = \(Self.sqlString(event))"
        if let window { sql += " AND e.at_ms > ?1 - \(try Self.durationMs(window))" }
        sql += " AND e.at_ms <= ?1"
        if let prefix { sql += " AND e.url GLOB \(Self.sqlString(prefix + "*"))" }
        return sql
    }

    static func column(_ attribute: String) throws(SegbenchError) -> String {
        switch attribute {
        case "plan", "country", "age", "tags", "email_verified", "lifetime_value": return "u.\(attribute)"
        case "signup_at": return "u.signup_at_ms"
        default: throw SegbenchError(.baseline, "no SQL column for attribute \(attribute)")
        }
    }

    static func sqlOp(_ op: String) -> String { op == "==" ? "=" : op }

    static func quoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    static func sqlString(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "''") + "'" }

    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
