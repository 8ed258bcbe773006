import SegmentLanguage

@testable import SegmentEngine

/// A deterministic random number generator (SplitMix64).
struct EngineRandom: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &self) < p }
    mutating func pick<T>(_ items: [T]) -> T { items[Int.random(in: 0..<items.count, using: &self)] }
    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }
    mutating func int64(_ range: ClosedRange<Int64>) -> Int64 { Int64.random(in: range, using: &self) }
}

/// Random segment expressions (as text) over the whole grammar, aimed at the model's small universe of names so
/// that they are often true, often false, and change with time.
struct SegmentTextGenerator {
    var attributes = ["plan", "age", "signup_at", "tags", "vip", "`first name`"]
    var events = ["purchase", "page_view", #""add to cart""#]
    var properties = ["amount", "url", "ts", "ok"]
    var windows = ["1h", "12h", "1d", "2d", "7d", "90m"]
    var agos = ["1h", "1d", "3d", "14d", "36h"]
    var timestamps = ["2026-01-02T00:00:00Z", "2026-01-10T12:00:00Z", "2025-12-25T00:00:00Z"]
    var maximumDepth = 2

    func expression(_ r: inout EngineRandom, references: [String], depth: Int = 0) -> String {
        if depth < maximumDepth, r.chance(0.3) {
            switch r.int(0...3) {
            case 0:
                return (0..<r.int(2...3)).map { _ in expression(&r, references: references, depth: depth + 1) }
                    .joined(separator: " or ")
            case 1:
                return (0..<r.int(2...3)).map { _ in
                    "(" + expression(&r, references: references, depth: depth + 1) + ")"
                }
                .joined(separator: " and ")
            case 2: return "not (" + expression(&r, references: references, depth: depth + 1) + ")"
            default: return "(" + expression(&r, references: references, depth: depth + 1) + ")"
            }
        }
        switch r.int(0...21) {
        case 18, 19: return sequence(&r)
        case 20, 21:
            // A calculation: numeric aggregates, an attribute and numbers; division by zero is missing.
            let right = r.pick(["2", "age", "0", numericAggregate(&r)])
            return "\(numericAggregate(&r)) \(r.pick(["+", "-", "*", "/"])) \(right) \(r.pick([">=", "<", "="])) "
                + r.pick(["1", "2", "3.5"])
        case 0: return "exists(\(r.pick(attributes)))"
        case 1 where !references.isEmpty: return "in_segment(\"\(r.pick(references))\")"
        case 2:
            return
                "\(r.pick(attributes)) \(r.pick(["=", "!=", "in", "not in", "starts_with", "contains"])) \(literal(&r))"
        case 3: return "signup_at \(r.pick(["<", "<=", ">", ">=", "="])) \(time(&r))"
        case 4: return "\(time(&r)) \(r.pick(["<", ">", "!="])) \(r.pick(["signup_at", "age", "plan"]))"
        case 5: return "age \(r.pick([">=", "<", "="])) \(r.pick(["18", "30", "18.5"]))"
        case 6, 7, 13, 14, 15:
            if r.chance(0.6) {
                return "\(numericAggregate(&r)) \(r.pick([">=", "<", "="])) \(r.pick(["1", "2"]))"
            }
            return
                "\(numericAggregate(&r)) \(r.pick([">=", ">", "=", "<", "<=", "!="])) \(r.pick(["0", "1", "2", "3", "10", "20.5", "age"]))"
        case 8, 16, 17:
            return
                "\(r.pick(["first", "last"]))(\(r.pick(events))\(filter(&r))) \(r.pick(["<", ">", "<=", ">="])) \(time(&r))"
        case 9:
            return "\(r.pick(["first", "last"]))(\(r.pick(events))\(filter(&r))) \(r.pick(["<", ">", "="])) signup_at"
        case 10:
            // Anything against anything: type mismatches, literals against times.
            return "\(operand(&r)) \(r.pick(["=", "!=", "<", ">=", "in", "contains", "ends_with"])) \(operand(&r))"
        default:
            return "\(numericAggregate(&r)) \(r.pick([">=", ">", "<"])) \(numericAggregate(&r))"
        }
    }

    /// A sequence: `then` over 2–3 steps or `not followed by`, steps sometimes filtered, sometimes `in last`.
    func sequence(_ r: inout EngineRandom) -> String {
        let notFollowedBy = r.chance(0.4)
        let steps = (0..<(notFollowedBy ? 2 : r.int(2...3))).map { _ in
            "\(r.pick(events))" + (r.chance(0.3) ? " where " + filterExpression(&r, depth: 1) : "")
        }
        let window = r.pick(["1h", "90m", "12h", "1d"])
        let outer = r.chance(0.4) ? " in last \(r.pick(["2d", "7d"]))" : ""
        return "(" + steps.joined(separator: notFollowedBy ? " not followed by " : " then ")
            + " within \(window)\(outer))"
    }

    func time(_ r: inout EngineRandom) -> String {
        switch r.int(0...3) {
        case 0: return "now"
        case 1: return r.pick(timestamps)
        default: return "\(r.pick(agos)) ago"
        }
    }

    func literal(_ r: inout EngineRandom) -> String {
        r.pick([#""pro""#, #""free""#, #""p""#, #""""#, "true", "18", #"["pro", "free"]"#, #"["a"]"#, #""a""#, "1.5"])
    }

    func operand(_ r: inout EngineRandom) -> String {
        switch r.int(0...5) {
        case 0: return r.pick(attributes)
        case 1: return literal(&r)
        case 2: return time(&r)
        case 3: return numericAggregate(&r)
        case 4: return "\(r.pick(["first", "last"]))(\(r.pick(events)))"
        default: return r.pick(attributes)
        }
    }

    func numericAggregate(_ r: inout EngineRandom) -> String {
        let event = r.pick(events)
        let window = r.chance(0.6) ? " within \(r.pick(windows))" : ""
        switch r.int(0...4) {
        case 0, 1: return "count(\(event)\(filter(&r))\(window))"
        default:
            let kind = r.pick(["sum", "avg", "min", "max"])
            return "\(kind)(\(event).\(r.pick(["amount", "amount", "ts"]))\(filter(&r))\(window))"
        }
    }

    func filter(_ r: inout EngineRandom) -> String {
        guard r.chance(0.4) else { return "" }
        return " where " + filterExpression(&r, depth: 0)
    }

    func filterExpression(_ r: inout EngineRandom, depth: Int) -> String {
        if depth < 2, r.chance(0.3) {
            let a = filterExpression(&r, depth: depth + 1)
            let b = filterExpression(&r, depth: depth + 1)
            return r.pick(["(\(a)) and (\(b))", "(\(a)) or (\(b))", "not (\(a))"])
        }
        switch r.int(0...6) {
        case 0: return "amount \(r.pick([">", "<=", "="])) \(r.pick(["2", "10", "0.5"]))"
        case 1: return "url starts_with \"/p\""
        case 2: return "ok = true"
        case 3: return "exists(\(r.pick(properties)))"
        case 4: return "ts \(r.pick([">", "<", ">="])) \(r.pick(["now", "1d ago", "12h ago", "2026-01-05T00:00:00Z"]))"
        case 5: return "url in [\"/pricing\", \"/home\"]"
        default: return "amount != 10"
        }
    }
}

/// The full raw data, kept by the test as the store would, and the reference memberships it implies.
struct ReferenceModel {
    var attributes: [String: [String: AttributeValue]] = [:]
    var events: [String: [EventRecord]] = [:]
    var lists: [String: Set<String>] = [:]
    /// Segments in creation order; `in_segment` only refers to earlier ones.
    var segments: [(name: String, expression: SegmentExpression)] = []

    var users: [String] { Array(Set(attributes.keys).union(events.keys).union(lists.values.flatMap { $0 })) }

    mutating func touch(_ user: String) {
        if attributes[user] == nil { attributes[user] = [:] }
    }

    mutating func deleteUser(_ user: String) {
        attributes[user] = nil
        events[user] = nil
        for name in lists.keys { lists[name]?.remove(user) }
    }

    /// Memberships of every segment at `now`. `frozen` supplies the membership of segments not evaluated by the
    /// engine (waiting for a back-fill).
    func memberships(
        at now: Int64,
        frozen: [String: Set<String>]
    ) -> [String: Set<String>] {
        var result: [String: Set<String>] = [:]
        let users = Set(self.users)
        // `s<i>` reads only `s<j>` with j < i: evaluating by number is a dependency order.
        let ordered = segments.sorted { Int($0.name.dropFirst()) ?? 0 < Int($1.name.dropFirst()) ?? 0 }
        for (name, expression) in ordered {
            if let f = frozen[name] {
                result[name] = f
                continue
            }
            var members: Set<String> = []
            for user in users {
                let ok = ReferenceInterpreter.evaluate(
                    expression,
                    attributes: attributes[user] ?? [:],
                    events: events[user] ?? [],
                    nowMs: now
                ) { other in
                    if let m = result[other] { return m.contains(user) }
                    if let l = lists[other] { return l.contains(user) }
                    return false
                }
                if ok { members.insert(user) }
            }
            result[name] = members
        }
        return result
    }
}
