// A segment expression compiled for repeated evaluation: attribute names and aggregates resolved to indexes,
// literals converted to values and the time coercion of each comparison decided once, so that evaluating it
// hashes nothing and allocates nothing for scalar values. Same meaning as `Evaluation` (the reference interpreter's
// walker) sentence by sentence; the plan differential tests compare the two.

/// One operand of a compiled comparison.
indirect enum PlanOperand: Sendable {
    /// The attribute at this index of `SegmentPlan.attributes`.
    case attribute(Int)
    /// A literal or timestamp literal, already a value; `nil` for a trait that was not expanded (missing).
    case constant(Value?)
    case now
    /// `D ago`, the duration in milliseconds.
    case ago(Int64)
    /// The aggregate at this index of `SegmentPlan.aggregates`.
    case aggregate(Int)
    /// A calculation (missing when a side is not a number, or on a division by zero).
    case arithmetic(PlanOperand, ArithmeticOp, PlanOperand)
    case negate(PlanOperand)

    /// Whether reading it may compute an aggregate.
    var readsAggregate: Bool {
        switch self {
        case .aggregate: return true
        case .arithmetic(let l, _, let r): return l.readsAggregate || r.readsAggregate
        case .negate(let x): return x.readsAggregate
        case .attribute, .constant, .now, .ago: return false
        }
    }
}

/// How a comparison reads its sides (see `Semantics.coerce`): when exactly one side is a time operand, the other
/// side is read as a timestamp if it is a name, and is missing otherwise.
enum PlanCoercion: UInt8, Sendable {
    case none
    case leftAsTime
    case leftMissing
    case rightAsTime
    case rightMissing
}

/// A compiled boolean node.
indirect enum PlanStep: Sendable {
    case or([PlanStep])
    case and([PlanStep])
    case not(PlanStep)
    case compare(PlanOperand, CompareOp, PlanOperand, PlanCoercion)
    /// `exists(a)`, the attribute's index.
    case exists(Int)
    /// `in_segment(name)`, the name's index in `SegmentPlan.segments`.
    case inSegment(Int)
    /// A sequence: the aggregate at this index of `SegmentPlan.aggregates`, true when its value is `true`.
    case sequence(Int)

    /// Compiles a checked tree (outside `where` filters).
    ///
    /// - Parameters:
    ///   - node: The tree.
    ///   - attributeIndex: The index of each attribute name in the plan.
    ///   - aggregateIndex: The index of each aggregate in the plan.
    ///   - sequenceIndex: The index of each sequence in the plan's aggregates.
    ///   - segmentIndex: The index of each segment or list name in the plan's segments.
    init(
        _ node: Node,
        attributeIndex: [String: Int],
        aggregateIndex: [Aggregate: Int],
        sequenceIndex: [EventSequence: Int],
        segmentIndex: [String: Int]
    ) {
        func operand(_ o: Operand) -> PlanOperand {
            switch o {
            case .name(let name): return .attribute(attributeIndex[name] ?? -1)
            case .literal(let literal): return .constant(Value(literal))
            case .now: return .now
            case .ago(let d): return .ago(d.milliseconds)
            case .timestamp(let ms): return .constant(.time(ms))
            case .aggregate(let a): return .aggregate(aggregateIndex[a] ?? -1)
            case .arithmetic(let l, let op, let r): return .arithmetic(operand(l), op, operand(r))
            case .negate(let x): return .negate(operand(x))
            case .trait: return .constant(nil)
            }
        }
        func step(_ node: Node) -> PlanStep {
            PlanStep(
                node,
                attributeIndex: attributeIndex,
                aggregateIndex: aggregateIndex,
                sequenceIndex: sequenceIndex,
                segmentIndex: segmentIndex
            )
        }
        switch node {
        case .or(let items): self = .or(Self.cheapestFirst(items.map(step)))
        case .and(let items): self = .and(Self.cheapestFirst(items.map(step)))
        case .not(let inner): self = .not(step(inner))
        case .exists(let name): self = .exists(attributeIndex[name] ?? -1)
        case .inSegment(let name): self = .inSegment(segmentIndex[name] ?? -1)
        case .sequence(let sequence): self = .sequence(sequenceIndex[sequence] ?? -1)
        case .compare(let l, let op, let r):
            let coercion: PlanCoercion
            switch (l.isTime, r.isTime) {
            case (true, false):
                if case .name = r { coercion = .rightAsTime } else { coercion = .rightMissing }
            case (false, true):
                if case .name = l { coercion = .leftAsTime } else { coercion = .leftMissing }
            default: coercion = .none
            }
            self = .compare(operand(l), op, operand(r), coercion)
        }
    }
}

extension PlanStep {
    /// The items of an `and`/`or`, those that read no aggregate first (stable otherwise). The language is two-valued
    /// and evaluating has no side effects, so the order does not change the result; it lets the evaluation stop before
    /// computing an aggregate when an attribute or a membership already decides (see `PlanInputSource`).
    static func cheapestFirst(_ items: [PlanStep]) -> [PlanStep] {
        let cheap = items.filter { !$0.readsAggregate }
        return cheap.count == items.count || cheap.isEmpty ? items : cheap + items.filter(\.readsAggregate)
    }

    /// Whether evaluating the step may compute an aggregate.
    var readsAggregate: Bool {
        switch self {
        case .or(let items), .and(let items): return items.contains { $0.readsAggregate }
        case .not(let inner): return inner.readsAggregate
        case .compare(let l, _, let r, _): return l.readsAggregate || r.readsAggregate
        case .sequence: return true
        case .exists, .inSegment: return false
        }
    }
}

/// What a compiled plan reads while it is evaluated. The plan asks for an input only when a comparison needs it
/// (`and`/`or` stop at the first deciding item), so a source can compute its values on demand.
///
/// Each method must answer the same for the same argument during one evaluation.
public protocol PlanInputSource {
    /// The value of the attribute at `index` of ``SegmentPlan/attributes``; `nil` is missing.
    mutating func attribute(_ index: Int) -> AttributeValue?
    /// The value of the aggregate at `index` of ``SegmentPlan/aggregates`` at the evaluation's instant; `nil` is
    /// missing.
    mutating func aggregate(_ index: Int) -> AttributeValue?
    /// Membership in the segment or list at `index` of ``SegmentPlan/segments``, at the same instant (by index, so
    /// that an evaluation hashes no name).
    mutating func isMember(_ index: Int) -> Bool
}

/// Inputs given as arrays by position, with a membership closure by name.
struct ArrayPlanInputs: PlanInputSource {
    let attributes: [AttributeValue?]
    let aggregates: [AttributeValue?]
    /// The plan's ``SegmentPlan/segments``.
    let segments: [String]
    let member: (String) -> Bool

    @inline(__always)
    private func read(_ values: [AttributeValue?], _ i: Int) -> AttributeValue? {
        i >= 0 && i < values.count ? values[i] : nil
    }

    func attribute(_ index: Int) -> AttributeValue? { read(attributes, index) }
    func aggregate(_ index: Int) -> AttributeValue? { read(aggregates, index) }
    func isMember(_ index: Int) -> Bool { index >= 0 && index < segments.count && member(segments[index]) }
}

/// One evaluation of a compiled plan over a source of inputs (borrowed in place, so that a source's own storage
/// is not copied).
enum PlanInputs {
    static func value<Source: PlanInputSource>(_ operand: PlanOperand, _ source: inout Source, nowMs: Int64) -> Value? {
        switch operand {
        case .attribute(let i): return source.attribute(i).map(Value.init)
        case .constant(let v): return v
        case .now: return .time(nowMs)
        case .ago(let ms): return .time(Semantics.ago(ms, now: nowMs))
        case .aggregate(let i): return source.aggregate(i).map(Value.init)
        case .arithmetic(let l, let op, let r):
            let left = value(l, &source, nowMs: nowMs)
            guard case .number? = left else { return nil }
            return Semantics.calculate(op, left, value(r, &source, nowMs: nowMs))
        case .negate(let x): return Semantics.negate(value(x, &source, nowMs: nowMs))
        }
    }

    static func truth<Source: PlanInputSource>(_ step: PlanStep, _ source: inout Source, nowMs: Int64) -> Bool {
        switch step {
        case .or(let items):
            for item in items where truth(item, &source, nowMs: nowMs) { return true }
            return false
        case .and(let items):
            for item in items where !truth(item, &source, nowMs: nowMs) { return false }
            return true
        case .not(let inner): return !truth(inner, &source, nowMs: nowMs)
        case .exists(let i): return source.attribute(i) != nil
        case .inSegment(let i): return source.isMember(i)
        case .sequence(let i): return source.aggregate(i) == .bool(true)
        case .compare(let l, let op, let r, let coercion):
            var lv = value(l, &source, nowMs: nowMs)
            var rv = value(r, &source, nowMs: nowMs)
            switch coercion {
            case .none: break
            case .leftAsTime: lv = lv.flatMap(Semantics.asTime).map(Value.time)
            case .leftMissing: lv = nil
            case .rightAsTime: rv = rv.flatMap(Semantics.asTime).map(Value.time)
            case .rightMissing: rv = nil
            }
            return Semantics.compare(lv, op, rv)
        }
    }
}

// MARK: - Next change

/// A compiled time comparison: the two sides' motion sources (see `ChangeCollector`).
enum PlanTimeSide: Sendable {
    /// `t - d` at instant `t` (`now` is `d = 0`).
    case moving(Int64)
    /// A timestamp literal.
    case fixed(Int64)
    /// An attribute read as a timestamp, by index.
    case attribute(Int)
    /// A `first`/`last` aggregate's current value, by index.
    case aggregate(Int)
    /// Never an instant (a literal, another aggregate).
    case none
}

extension PlanStep {
    /// The comparisons of the tree with a time operand on at least one side, as pairs of motion sources, in tree
    /// order (the same comparisons `ChangeCollector.addNode` looks at).
    static func timeComparisons(
        _ node: Node,
        attributeIndex: [String: Int],
        aggregateIndex: [Aggregate: Int]
    )
        -> [(PlanTimeSide, PlanTimeSide)]
    {
        var out: [(PlanTimeSide, PlanTimeSide)] = []
        func side(_ o: Operand) -> PlanTimeSide {
            switch o {
            case .now: return .moving(0)
            case .ago(let d): return .moving(d.milliseconds)
            case .timestamp(let x): return .fixed(x)
            case .name(let name): return attributeIndex[name].map { .attribute($0) } ?? .none
            case .aggregate(let a):
                guard a.kind == .first || a.kind == .last, let k = aggregateIndex[a] else { return .none }
                return .aggregate(k)
            case .literal, .arithmetic, .negate, .trait: return .none
            }
        }
        func walk(_ node: Node) {
            switch node {
            case .or(let items), .and(let items): for item in items { walk(item) }
            case .not(let inner): walk(inner)
            case .exists, .inSegment, .sequence: break
            case .compare(let l, _, let r):
                if l.isTime || r.isTime { out.append((side(l), side(r))) }
            }
        }
        walk(node)
        return out
    }
}
