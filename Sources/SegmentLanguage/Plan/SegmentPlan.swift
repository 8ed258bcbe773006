/// What the incremental evaluator needs to know about one segment expression.
///
/// - ``attributes``: the profile attributes it reads (a change to any other attribute cannot change the result);
/// - ``aggregates``: the distinct event aggregates, each a hashable ``AggregateKey``;
/// - ``segments``: the segments and lists it depends on through `in_segment`;
/// - ``evaluate(attributes:aggregateValues:nowMs:isMember:)``: the result from maintained aggregate values;
/// - ``nextChange(after:attributes:events:)``: the next instant at which the result can change by time alone.
///
/// See docs/segment-language.md for the next-change algorithm and why it is never late.
public struct SegmentPlan: Sendable {
    /// The expression this plan was built from.
    public var expression: SegmentExpression { storage.expression }
    /// The profile attributes the expression reads outside `where` filters, distinct, sorted.
    public var attributes: [String] { storage.attributes }
    /// The distinct aggregates, in order of first appearance.
    public var aggregates: [AggregateKey] { storage.aggregates }
    /// The event names any aggregate reads, distinct, sorted: other events cannot change the result.
    public var eventNames: [String] { storage.eventNames }
    /// The segments and static lists named by `in_segment`, distinct, in order of first appearance.
    public var segments: [String] { storage.segments }
    /// Whether the result can change by time alone: the expression has an aggregate (a future-dated event or a
    /// window) or mentions `now` or `D ago`. When false, ``nextChange(after:attributes:events:)`` is always `nil`.
    public var readsTime: Bool { storage.readsTime }

    /// For each of ``aggregates``, by index: the number literals it is compared with by `=`, `!=`, `<`, `<=`, `>`,
    /// `>=` when that is its only use in the expression (`count(page_view within 7d) >= 3` gives `[3]`); `nil` when
    /// it is used in any other way (compared with an attribute, another aggregate, a list, a string…). The
    /// evaluator uses it to wake a user only when a windowed count crosses one of these values: between two
    /// consecutive crossings every such comparison keeps its truth value.
    public var comparedNumbers: [[Double]?] { storage.comparedNumbers }
    /// The expression compiled against ``attributes`` and ``aggregates`` indexes.
    private var program: PlanStep { storage.program }
    /// The comparisons with a time operand, compiled (see ``nextChange(after:attributeValues:aggregateValues:)``).
    private var timeComparisons: [(PlanTimeSide, PlanTimeSide)] { storage.timeComparisons }
    /// Whether some aggregate's `where` filter compares with `now` or `D ago`: then its events have change points
    /// of their own, which only ``nextChange(after:attributes:events:)`` (given those events) finds.
    public var filtersReadTime: Bool { storage.filtersReadTime }

    /// Everything the plan holds, in one object: copying a plan (the evaluator reads it out of a class for every
    /// evaluation) then costs one reference count, not one per field.
    private final class Storage: Sendable {
        let expression: SegmentExpression
        let attributes: [String]
        let aggregates: [AggregateKey]
        let eventNames: [String]
        let segments: [String]
        let readsTime: Bool
        let comparedNumbers: [[Double]?]
        let program: PlanStep
        let timeComparisons: [(PlanTimeSide, PlanTimeSide)]
        let filtersReadTime: Bool

        init(_ expression: SegmentExpression) {
            self.expression = expression
            var builder = PlanBuilder()
            builder.visit(expression.root)
            attributes = builder.attributes.sorted()
            aggregates = builder.keys
            comparedNumbers = builder.keys.indices.map { k -> [Double]? in
                guard case .some(let use) = builder.comparedNumbers[k] else { return nil }
                return use
            }
            let sortedAttributes = attributes
            let attributeIndex = Dictionary(uniqueKeysWithValues: sortedAttributes.enumerated().map { ($1, $0) })
            program = PlanStep(
                expression.root,
                attributeIndex: attributeIndex,
                aggregateIndex: builder.indexByAggregate,
                sequenceIndex: builder.indexBySequence,
                segmentIndex: Dictionary(uniqueKeysWithValues: builder.segments.enumerated().map { ($1, $0) })
            )
            timeComparisons = PlanStep.timeComparisons(
                expression.root,
                attributeIndex: attributeIndex,
                aggregateIndex: builder.indexByAggregate
            )
            filtersReadTime = builder.keys.contains {
                $0.filter?.readsTime == true || $0.sequence?.filtersReadTime == true
            }
            eventNames = Set(builder.keys.flatMap(\.eventNames)).sorted()
            segments = builder.segments
            readsTime = !builder.keys.isEmpty || builder.mentionsTime
        }
    }

    private let storage: Storage

    /// Builds the plan of an expression.
    ///
    /// - Parameter expression: A checked expression.
    public init(_ expression: SegmentExpression) {
        storage = Storage(expression)
    }

    /// The result from aggregate values the caller maintains.
    ///
    /// - Parameters:
    ///   - attributes: The user's profile attributes.
    ///   - aggregateValues: The value of each of ``aggregates`` at `nowMs`, by index (see
    ///     ``AggregateKey/value(of:nowMs:)`` for what each kind produces); `nil` is missing.
    ///   - nowMs: The instant.
    ///   - isMember: Membership in another segment or list at the same instant.
    /// - Returns: The value of the expression.
    public func evaluate(
        attributes: [String: AttributeValue],
        aggregateValues: [AttributeValue?],
        nowMs: Int64,
        isMember: (String) -> Bool
    ) -> Bool {
        evaluate(
            attributeValues: self.attributes.map { attributes[$0] },
            aggregateValues: aggregateValues,
            nowMs: nowMs,
            isMember: isMember
        )
    }

    /// The result from attribute values by position and aggregate values the caller maintains: the same as
    /// ``evaluate(attributes:aggregateValues:nowMs:isMember:)`` without building a dictionary.
    ///
    /// - Parameters:
    ///   - attributeValues: The value of each of ``attributes``, by index; `nil` (or a short array) is missing.
    ///   - aggregateValues: The value of each of ``aggregates`` at `nowMs`, by index; `nil` is missing.
    ///   - nowMs: The instant.
    ///   - isMember: Membership in another segment or list at the same instant.
    /// - Returns: The value of the expression.
    public func evaluate(
        attributeValues: [AttributeValue?],
        aggregateValues: [AttributeValue?],
        nowMs: Int64,
        isMember: (String) -> Bool
    ) -> Bool {
        withoutActuallyEscaping(isMember) { isMember in
            var source = ArrayPlanInputs(
                attributes: attributeValues,
                aggregates: aggregateValues,
                segments: segments,
                member: isMember
            )
            return evaluate(&source, nowMs: nowMs)
        }
    }

    /// The result, reading only the inputs the expression needs: `and`/`or` stop at the first item that decides
    /// them, so the inputs of the items after it are never asked for.
    ///
    /// - Parameters:
    ///   - source: The user's inputs (attributes and aggregates by position in ``attributes`` and ``aggregates``,
    ///     aggregates at `nowMs`; memberships at the same instant).
    ///   - nowMs: The instant.
    /// - Returns: The value of the expression.
    public func evaluate<Source: PlanInputSource>(_ source: inout Source, nowMs: Int64) -> Bool {
        PlanInputs.truth(program, &source, nowMs: nowMs)
    }

    /// The next instant strictly after `nowMs` at which a comparison with a time operand (`now`, `D ago`, a
    /// timestamp literal, `first`/`last`) can change, from current values only — what the evaluator asks for the
    /// comparisons; the aggregates' own changes (events arriving, leaving a window) it tracks itself.
    ///
    /// Equals ``nextChange(after:attributes:events:)`` given, as `events`, the settled events (`at <= nowMs`) that
    /// give each `first`/`last` aggregate its current value, provided no filter reads time (``filtersReadTime``):
    /// such events add no change point of their own, and `first`/`last` take no window.
    ///
    /// - Parameters:
    ///   - nowMs: The instant of the last evaluation.
    ///   - attributeValues: The value of each of ``attributes``, by index; `nil` (or a short array) is missing.
    ///   - aggregateValues: The value at `nowMs` of each of ``aggregates``, by index; only `first`/`last` values are
    ///     read (a `.timestamp`), and `nil` is missing.
    /// - Returns: The instant in Unix milliseconds, or `nil` when time alone never changes those comparisons.
    public func nextChange(
        after nowMs: Int64,
        attributeValues: [AttributeValue?],
        aggregateValues: [AttributeValue?]
    ) -> Int64? {
        guard readsTime else { return nil }
        var collector = ChangeCollector(now: nowMs)
        /// `(moving offset, fixed instant)`: at most one is set.
        func motion(_ side: PlanTimeSide) -> (Int64?, Int64?) {
            switch side {
            case .moving(let d): return (d, nil)
            case .fixed(let x): return (nil, x)
            case .attribute(let i):
                guard i >= 0, i < attributeValues.count, let v = attributeValues[i] else { return (nil, nil) }
                return (nil, Semantics.asTime(Value(v)))
            case .aggregate(let i):
                guard i >= 0, i < aggregateValues.count, case .timestamp(let x)? = aggregateValues[i] else {
                    return (nil, nil)
                }
                return (nil, x)
            case .none: return (nil, nil)
            }
        }
        for (l, r) in timeComparisons {
            let (lm, lf) = motion(l)
            let (rm, rf) = motion(r)
            let pair: (Int64, Int64)?
            if let d = lm, let x = rf {
                pair = (d, x)
            } else if let d = rm, let x = lf {
                pair = (d, x)
            } else {
                pair = nil
            }
            guard let (d, x) = pair else { continue }
            collector.add(x, plus: d)
            let (d1, overflow) = d.addingReportingOverflow(1)
            if !overflow { collector.add(x, plus: d1) }
        }
        return collector.best
    }

    /// The next instant strictly after `nowMs` at which the result can change by time alone (no new data, no
    /// change in other segments).
    ///
    /// Never late: for every instant `t` with `nowMs < t < result`, the expression has the same value at `t` as at
    /// `nowMs`. Conservative: the value may also be the same at the returned instant; then the evaluator
    /// re-evaluates for nothing and asks again. Changes of `in_segment` dependencies are not included: the
    /// evaluator re-evaluates dependents when a dependency's membership changes.
    ///
    /// - Parameters:
    ///   - nowMs: The instant of the last evaluation.
    ///   - attributes: The user's profile attributes.
    ///   - events: The user's events (only those named in ``eventNames`` matter), including future-dated ones.
    /// - Returns: The instant in Unix milliseconds, or `nil` when time alone never changes the result.
    public func nextChange(
        after nowMs: Int64,
        attributes: [String: AttributeValue],
        events: [EventRecord]
    ) -> Int64? {
        guard readsTime else { return nil }
        var collector = ChangeCollector(now: nowMs)
        collector.addNode(expression.root, lookup: { attributes[$0] }, events: events)
        return collector.best
    }
}

/// Walks a tree once to collect what a plan lists.
struct PlanBuilder {
    var attributes: Set<String> = []
    var keys: [AggregateKey] = []
    var indexByAggregate: [Aggregate: Int] = [:]
    var indexBySequence: [EventSequence: Int] = [:]
    var indexByKey: [AggregateKey: Int] = [:]
    var segments: [String] = []
    var mentionsTime = false
    /// By key index: the number literals compared with it, or `.some(nil)` once it is used otherwise.
    var comparedNumbers: [Int: [Double]?] = [:]

    mutating func visit(_ node: Node) {
        switch node {
        case .or(let items), .and(let items): for item in items { visit(item) }
        case .not(let inner): visit(inner)
        case .exists(let name): attributes.insert(name)
        case .inSegment(let name): if !segments.contains(name) { segments.append(name) }
        case .sequence(let sequence): indexBySequence[sequence] = index(of: AggregateKey(sequence))
        case .compare(let l, let op, let r):
            visit(l)
            visit(r)
            noteUse(l, op, other: r)
            noteUse(r, op, other: l)
        }
    }

    /// Records how an aggregate operand is compared (see ``SegmentPlan/comparedNumbers``).
    private mutating func noteUse(_ operand: Operand, _ op: CompareOp, other: Operand) {
        guard case .aggregate(let a) = operand, let k = indexByAggregate[a] else { return }
        let ordered: Bool
        switch op {
        case .eq, .ne, .lt, .le, .gt, .ge: ordered = true
        case .in, .notIn, .contains, .startsWith, .endsWith: ordered = false
        }
        if ordered, case .literal(.number(let x)) = other {
            if case .some(.some(var xs)) = comparedNumbers[k] {
                xs.append(x)
                comparedNumbers[k] = .some(xs)
            } else if comparedNumbers[k] == nil {
                comparedNumbers[k] = .some([x])
            }
        } else {
            comparedNumbers[k] = .some(nil)
        }
    }

    private mutating func visit(_ operand: Operand) {
        switch operand {
        case .name(let name): attributes.insert(name)
        case .now, .ago: mentionsTime = true
        case .literal, .timestamp: break
        case .aggregate(let a): indexByAggregate[a] = index(of: AggregateKey(a))
        case .arithmetic(let l, _, let r):
            visitCalculated(l)
            visitCalculated(r)
        case .negate(let x): visitCalculated(x)
        case .trait: break
        }
    }

    /// An operand inside a calculation: an aggregate there is not only compared with numbers (every change of its
    /// value matters; see ``SegmentPlan/comparedNumbers``).
    private mutating func visitCalculated(_ operand: Operand) {
        visit(operand)
        if case .aggregate(let a) = operand, let k = indexByAggregate[a] { comparedNumbers[k] = .some(nil) }
    }

    /// The key's index among ``keys``, added when new.
    private mutating func index(of key: AggregateKey) -> Int {
        if let k = indexByKey[key] { return k }
        indexByKey[key] = keys.count
        keys.append(key)
        return keys.count - 1
    }

    /// Names read by a node (attributes, or properties inside a filter), in order, with repeats.
    static func collectNames(_ node: Node, into names: inout [String]) {
        switch node {
        case .or(let items), .and(let items): for item in items { collectNames(item, into: &names) }
        case .not(let inner): collectNames(inner, into: &names)
        case .exists(let name): names.append(name)
        case .inSegment, .sequence: break
        case .compare(let l, _, let r):
            for operand in [l, r] {
                operand.forEachOperand { if case .name(let name) = $0 { names.append(name) } }
            }
        }
    }
}
