// The meaning of comparisons, shared by the reference interpreter, the plan and explanations.
// Written to follow the contract sentence by sentence; see docs/segment-language.md.

/// A value during evaluation. Literal lists may hold any literal, so this is wider than `AttributeValue`.
/// Not `indirect`: the list case's array already boxes its elements, and a boxed enum would allocate on every
/// comparison.
enum Value: Hashable, Sendable {
    case string(String)
    case number(Double)
    case bool(Bool)
    case time(Int64)
    case list([Value])

    init(_ attribute: AttributeValue) {
        switch attribute {
        case .string(let s): self = .string(s)
        case .number(let n): self = .number(n)
        case .bool(let b): self = .bool(b)
        case .timestamp(let t): self = .time(t)
        case .stringList(let items): self = .list(items.map { .string($0) })
        }
    }

    init(_ literal: Literal) {
        switch literal {
        case .string(let s): self = .string(s)
        case .number(let n): self = .number(n)
        case .bool(let b): self = .bool(b)
        case .list(let items): self = .list(items.map(Value.init))
        }
    }

    /// The value as an attribute value, when it is one (lists of strings only).
    var attributeValue: AttributeValue? {
        switch self {
        case .string(let s): return .string(s)
        case .number(let n): return .number(n)
        case .bool(let b): return .bool(b)
        case .time(let t): return .timestamp(t)
        case .list(let items):
            var strings: [String] = []
            for item in items {
                guard case .string(let s) = item else { return nil }
                strings.append(s)
            }
            return .stringList(strings)
        }
    }
}

enum Semantics {
    /// A calculation: numbers only; a missing or non-number side, or a division by zero, is missing. The right
    /// side is read only when the left one is a number.
    static func calculate(_ op: ArithmeticOp, _ l: Value?, _ r: @autoclosure () -> Value?) -> Value? {
        guard case .number(let a)? = l, case .number(let b)? = r() else { return nil }
        return op.apply(a, b).map(Value.number)
    }

    /// `-x`: numbers only, missing otherwise.
    static func negate(_ x: Value?) -> Value? {
        guard case .number(let a)? = x else { return nil }
        return .number(-a)
    }

    /// An attribute read as a timestamp: a timestamp, an RFC 3339 string, or a number of Unix seconds.
    /// Anything else (and numbers outside the `Int64` millisecond range) is missing.
    static func asTime(_ value: Value) -> Int64? {
        switch value {
        case .time(let t): return t
        case .string(let s): return RFC3339.parse(s)
        case .number(let seconds):
            // Round half away from zero without libm's `round`.
            let ms = seconds * 1_000
            guard ms.isFinite, ms >= -9.2e18, ms <= 9.2e18 else { return nil }
            let truncated = Int64(ms)
            let fraction = ms - Double(truncated)
            if fraction >= 0.5 { return truncated + 1 }
            if fraction <= -0.5 { return truncated - 1 }
            return truncated
        case .bool, .list: return nil
        }
    }

    /// `now - D`, saturating at `Int64.min`.
    static func ago(_ duration: Int64, now: Int64) -> Int64 {
        let (value, overflow) = now.subtractingReportingOverflow(duration)
        return overflow ? Int64.min : value
    }

    /// Whether an event at `at` is counted at `now`: `at <= now`, and with a window `now - D < at`.
    static func isCounted(at: Int64, now: Int64, windowMs: Int64?) -> Bool {
        guard at <= now else { return false }
        guard let windowMs else { return true }
        let (age, overflow) = now.subtractingReportingOverflow(at)
        return !overflow && age < windowMs
    }

    /// The operands of a comparison as they are compared: when exactly one side is a time operand, the other side
    /// is read as a timestamp if it is a name (attribute or property) and is missing otherwise.
    static func coerce(
        left: Operand,
        _ lv: Value?,
        right: Operand,
        _ rv: Value?
    ) -> (Value?, Value?) {
        switch (left.isTime, right.isTime) {
        case (true, false):
            guard case .name = right, let rv else { return (lv, nil) }
            return (lv, asTime(rv).map(Value.time))
        case (false, true):
            guard case .name = left, let lv else { return (nil, rv) }
            return (asTime(lv).map(Value.time), rv)
        default:
            return (lv, rv)
        }
    }

    /// Two-valued comparison: false when either side is missing or the types differ, `!=` and `not in` included.
    static func compare(_ l: Value?, _ op: CompareOp, _ r: Value?) -> Bool {
        guard let l, let r else { return false }
        switch op {
        case .eq: return equal(l, r) ?? false
        case .ne: return equal(l, r).map { !$0 } ?? false
        case .lt: return order(l, r).map { $0 < 0 } ?? false
        case .le: return order(l, r).map { $0 <= 0 } ?? false
        case .gt: return order(l, r).map { $0 > 0 } ?? false
        case .ge: return order(l, r).map { $0 >= 0 } ?? false
        case .in:
            guard case .list(let items) = r else { return false }
            return items.contains { compare(l, .eq, $0) }
        case .notIn:
            guard case .list(let items) = r else { return false }
            return items.allSatisfy { compare(l, .ne, $0) }
        case .contains:
            switch (l, r) {
            case (.string(let a), .string(let b)): return contains(a, b)
            case (.list(let items), _): return items.contains { compare($0, .eq, r) }
            default: return false
            }
        case .startsWith:
            guard case .string(let a) = l, case .string(let b) = r else { return false }
            return a.utf8.starts(with: b.utf8)
        case .endsWith:
            guard case .string(let a) = l, case .string(let b) = r else { return false }
            return a.utf8.reversed().starts(with: b.utf8.reversed())
        }
    }

    /// Equality of same-typed values; `nil` when the types differ. Numbers as doubles (`1 = 1.0`, NaN unequal to
    /// everything), strings by Unicode scalars (not by canonical equivalence), lists element by element.
    static func equal(_ l: Value, _ r: Value) -> Bool? {
        switch (l, r) {
        case (.number(let a), .number(let b)): return a == b
        case (.string(let a), .string(let b)): return sameScalars(a, b)
        case (.bool(let a), .bool(let b)): return a == b
        case (.time(let a), .time(let b)): return a == b
        case (.list(let a), .list(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { equal($0, $1) == true }
        default: return nil
        }
    }

    /// Ordering of same-typed numbers, strings and times as -1/0/1; `nil` for other types, mixed types and NaN.
    /// Strings order by Unicode scalar values, which is the order of their UTF-8 bytes.
    static func order(_ l: Value, _ r: Value) -> Int? {
        switch (l, r) {
        case (.number(let a), .number(let b)):
            if a < b { return -1 }
            if a > b { return 1 }
            return a == b ? 0 : nil
        case (.string(let a), .string(let b)):
            if sameScalars(a, b) { return 0 }
            return a.utf8.lexicographicallyPrecedes(b.utf8) ? -1 : 1
        case (.time(let a), .time(let b)):
            return a < b ? -1 : (a > b ? 1 : 0)
        default:
            return nil
        }
    }

    /// Equality by Unicode scalars (UTF-8 bytes), not by canonical equivalence as `String.==` does; compares
    /// contiguous bytes directly when it can.
    static func sameScalars(_ a: String, _ b: String) -> Bool {
        let (x, y) = (a.utf8, b.utf8)
        guard x.count == y.count else { return false }
        let fast = x.withContiguousStorageIfAvailable { p in
            y.withContiguousStorageIfAvailable { q in p.elementsEqual(q) }
        }
        if let fast, let fast { return fast }
        return x.elementsEqual(y)
    }

    /// Substring by UTF-8 bytes, which is substring by Unicode scalars.
    static func contains(_ haystack: String, _ needle: String) -> Bool {
        let h = Array(haystack.utf8)
        let n = Array(needle.utf8)
        if n.isEmpty { return true }
        guard n.count <= h.count else { return false }
        for start in 0...(h.count - n.count) where h[start] == n[0] {
            var k = 1
            while k < n.count, h[start + k] == n[k] { k += 1 }
            if k == n.count { return true }
        }
        return false
    }
}
