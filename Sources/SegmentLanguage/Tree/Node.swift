// The checked syntax tree. Internal: the public face is `SegmentExpression`, `SegmentPlan` and `AggregateKey`.
// `and`/`or` are n-ary so that long chains (`a or b or c …`) are flat; only parentheses and `not` nest.

/// A boolean sub-expression.
indirect enum Node: Hashable, Sendable {
    /// Two or more alternatives.
    case or([Node])
    /// Two or more conjuncts.
    case and([Node])
    case not(Node)
    case compare(Operand, CompareOp, Operand)
    /// `exists(name)`: the attribute (or, inside `where`, the event property) is present.
    case exists(String)
    /// `in_segment("s")`.
    case inSegment(String)
    /// `a then b within D`, `a not followed by b within D` (version 2).
    case sequence(EventSequence)
}

/// A sequence of event steps as written (contract, "Version 2").
struct EventSequence: Hashable, Sendable {
    /// How the steps relate.
    enum Kind: Hashable, Sendable {
        /// `a then b [then c …]`: the steps happened in this order, the last at most the window after the first.
        case then
        /// `a not followed by b`: the latest `a` is at least the window old and no `b` came after it.
        case notFollowedBy
    }

    var kind: Kind
    /// Two steps or more (`notFollowedBy`: exactly two).
    var steps: [SequenceStep]
    /// `within D`.
    var window: Duration
    /// `in last W`: the first step must be inside it.
    var outer: Duration?
}

/// One step of a sequence: an event name and an optional `where` filter on its properties.
struct SequenceStep: Hashable, Sendable {
    var event: String
    var filter: Node?
}

/// A comparison operator. `==` is read as `=`.
enum CompareOp: String, Hashable, Sendable, CaseIterable {
    case eq = "="
    case ne = "!="
    case lt = "<"
    case le = "<="
    case gt = ">"
    case ge = ">="
    case `in` = "in"
    case notIn = "not in"
    case contains = "contains"
    case startsWith = "starts_with"
    case endsWith = "ends_with"
}

/// One side of a comparison.
indirect enum Operand: Hashable, Sendable {
    /// A profile attribute, or an event property inside `where`.
    case name(String)
    case literal(Literal)
    case now
    /// `D ago`, that is `now - D`.
    case ago(Duration)
    /// An unquoted RFC 3339 timestamp, in Unix milliseconds.
    case timestamp(Int64)
    case aggregate(Aggregate)
    /// `l + r`, `l - r`, `l * r`, `l / r` (version 2): numbers only; a missing or non-number side, or a division
    /// by zero, makes it missing.
    case arithmetic(Operand, ArithmeticOp, Operand)
    /// `-x`.
    case negate(Operand)
    /// `trait("name")` (version 2): the named trait's value for the same user at the same instant, or missing.
    /// Replaced by the trait's expression before evaluation (``SegmentExpression/expandingTraits(_:)``).
    case trait(String)

    /// Whether this operand is a time operand: `now`, `D ago`, a timestamp literal, `first(...)`, `last(...)`.
    var isTime: Bool {
        switch self {
        case .now, .ago, .timestamp: return true
        case .aggregate(let a): return a.kind == .first || a.kind == .last
        case .name, .literal, .arithmetic, .negate, .trait: return false
        }
    }

    /// Calls `body` on every operand inside this one, this one included, depth first.
    func forEachOperand(_ body: (Operand) -> Void) {
        body(self)
        switch self {
        case .arithmetic(let l, _, let r):
            l.forEachOperand(body)
            r.forEachOperand(body)
        case .negate(let x): x.forEachOperand(body)
        case .name, .literal, .now, .ago, .timestamp, .aggregate, .trait: break
        }
    }
}

/// An arithmetic operator; `*` and `/` bind tighter than `+` and `-`, all associate to the left.
enum ArithmeticOp: String, Hashable, Sendable, CaseIterable {
    case add = "+"
    case subtract = "-"
    case multiply = "*"
    case divide = "/"

    /// 1 for `+`/`-`, 2 for `*`/`/`.
    var precedence: Int { self == .add || self == .subtract ? 1 : 2 }

    /// The result; `nil` (missing) for a division by zero.
    func apply(_ a: Double, _ b: Double) -> Double? {
        switch self {
        case .add: return a + b
        case .subtract: return a - b
        case .multiply: return a * b
        case .divide: return b == 0 ? nil : a / b
        }
    }
}

/// A literal value.
indirect enum Literal: Hashable, Sendable {
    case string(String)
    case number(Double)
    case bool(Bool)
    /// One or more literals.
    case list([Literal])
}

/// A duration as written: a positive count and a unit. `24h` and `1d` are different trees with the same length.
struct Duration: Hashable, Sendable {
    enum Unit: String, Hashable, Sendable, CaseIterable {
        case s, m, h, d, w

        var milliseconds: Int64 {
            switch self {
            case .s: return 1_000
            case .m: return 60_000
            case .h: return 3_600_000
            case .d: return 86_400_000
            case .w: return 604_800_000
            }
        }
    }

    var count: Int64
    var unit: Unit

    /// The length in milliseconds. The parser refuses durations whose length does not fit an `Int64`.
    var milliseconds: Int64 { count &* unit.milliseconds }

    /// The duration written with the largest unit that divides it exactly (`24h` → `1d`).
    static func canonical(milliseconds ms: Int64) -> Duration {
        for unit in Unit.allCases.reversed() where ms % unit.milliseconds == 0 {
            return Duration(count: ms / unit.milliseconds, unit: unit)
        }
        return Duration(count: ms / 1_000, unit: .s)
    }
}

/// The kind of an aggregate.
public enum AggregateKind: String, Sendable, Hashable, CaseIterable {
    /// `count(E ...)`: number of matching events; 0 when none.
    case count
    /// `sum(E.p ...)`: sum of numeric `p`; 0 when none.
    case sum
    /// `avg(E.p ...)`: mean of numeric `p`; missing when none.
    case avg
    /// `min(E.p ...)`: smallest numeric `p`; missing when none.
    case min
    /// `max(E.p ...)`: largest numeric `p`; missing when none.
    case max
    /// `first(E ...)`: earliest `at` of matching events with `at <= now`; missing when none.
    case first
    /// `last(E ...)`: latest `at` of matching events with `at <= now`; missing when none.
    case last
    /// A sequence of steps (`a then b within D`, `a not followed by b within D`): true or false, never missing. Not
    /// written as a function; ``AggregateKey/sequence`` holds its steps.
    case sequence

    /// Whether the aggregate reads a property (`sum(purchase.amount)`).
    var takesProperty: Bool { self == .sum || self == .avg || self == .min || self == .max }
    /// Whether the aggregate accepts `within D`.
    var takesWindow: Bool { self != .first && self != .last && self != .sequence }
}

/// An aggregate as written.
struct Aggregate: Hashable, Sendable {
    var kind: AggregateKind
    var event: String
    var property: String?
    var filter: Node?
    var window: Duration?
}
