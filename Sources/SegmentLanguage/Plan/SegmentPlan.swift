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
    public let expression: SegmentExpression
    /// The profile attributes the expression reads outside `where` filters, distinct, sorted.
    public let attributes: [String]
    /// The distinct aggregates, in order of first appearance.
    public let aggregates: [AggregateKey]
    /// The event names any aggregate reads, distinct, sorted: other events cannot change the result.
    public let eventNames: [String]
    /// The segments and static lists named by `in_segment`, distinct, in order of first appearance.
    public let segments: [String]
    /// Whether the result can change by time alone: the expression has an aggregate (a future-dated event or a
    /// window) or mentions `now` or `D ago`. When false, ``nextChange(after:attributes:events:)`` is always `nil`.
    public let readsTime: Bool

    private let indexByAggregate: [Aggregate: Int]

    /// Builds the plan of an expression.
    ///
    /// - Parameter expression: A checked expression.
    public init(_ expression: SegmentExpression) {
        self.expression = expression
        var builder = PlanBuilder()
        builder.visit(expression.root)
        attributes = builder.attributes.sorted()
        aggregates = builder.keys
        indexByAggregate = builder.indexByAggregate
        eventNames = Set(builder.keys.map(\.event)).sorted()
        segments = builder.segments
        readsTime = !builder.keys.isEmpty || builder.mentionsTime
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
        withoutActuallyEscaping(isMember) { isMember in
            Evaluation(
                nowMs: nowMs,
                lookup: { attributes[$0] },
                aggregate: { a in
                    guard let k = indexByAggregate[a], k < aggregateValues.count else { return nil }
                    return aggregateValues[k].map(Value.init)
                },
                isMember: isMember
            ).truth(expression.root)
        }
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
    var indexByKey: [AggregateKey: Int] = [:]
    var segments: [String] = []
    var mentionsTime = false

    mutating func visit(_ node: Node) {
        switch node {
        case .or(let items), .and(let items): for item in items { visit(item) }
        case .not(let inner): visit(inner)
        case .exists(let name): attributes.insert(name)
        case .inSegment(let name): if !segments.contains(name) { segments.append(name) }
        case .compare(let l, _, let r):
            visit(l)
            visit(r)
        }
    }

    private mutating func visit(_ operand: Operand) {
        switch operand {
        case .name(let name): attributes.insert(name)
        case .now, .ago: mentionsTime = true
        case .literal, .timestamp: break
        case .aggregate(let a):
            let key = AggregateKey(a)
            if let k = indexByKey[key] {
                indexByAggregate[a] = k
            } else {
                indexByKey[key] = keys.count
                indexByAggregate[a] = keys.count
                keys.append(key)
            }
        }
    }

    /// Names read by a node (attributes, or properties inside a filter), in order, with repeats.
    static func collectNames(_ node: Node, into names: inout [String]) {
        switch node {
        case .or(let items), .and(let items): for item in items { collectNames(item, into: &names) }
        case .not(let inner): collectNames(inner, into: &names)
        case .exists(let name): names.append(name)
        case .inSegment: break
        case .compare(let l, _, let r):
            for operand in [l, r] { if case .name(let name) = operand { names.append(name) } }
        }
    }
}
