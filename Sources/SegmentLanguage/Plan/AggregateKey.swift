/// One distinct event aggregate of a plan: what the evaluator keeps per user.
///
/// Two aggregates written differently but meaning the same (`within 24h` and `within 1d`, `"purchase"` and
/// `purchase`) have equal keys. ``canonicalText`` writes the window in its largest exact unit.
public struct AggregateKey: Sendable, Hashable, CustomStringConvertible {
    /// count, sum, avg, min, max, first or last.
    public let kind: AggregateKind
    /// The event name the aggregate reads.
    public let event: String
    /// The numeric property for sum/avg/min/max; `nil` for count/first/last.
    public let property: String?
    /// The `where` filter, if any.
    public let filter: EventFilter?
    /// The `within` window in milliseconds; `nil` for no window (all events with `at <= now`).
    public let windowMs: Int64?
    /// The steps and windows of a ``AggregateKind/sequence``; `nil` for the other kinds.
    public let sequence: SequenceKey?

    init(_ a: Aggregate) {
        kind = a.kind
        event = a.event
        property = a.property
        filter = a.filter.map(EventFilter.init)
        windowMs = a.window?.milliseconds
        sequence = nil
    }

    /// The key of a sequence: its value is whether the sequence holds; ``event`` is its first step's.
    init(_ s: EventSequence) {
        kind = .sequence
        event = s.steps[0].event
        property = nil
        filter = nil
        windowMs = nil
        sequence = SequenceKey(s)
    }

    /// The event names whose events can change the value: ``event``, or every step's for a sequence (distinct,
    /// in step order).
    public var eventNames: [String] { sequence?.eventNames ?? [event] }

    /// Whether events named `name` can change the value.
    public func reads(_ name: String) -> Bool {
        guard let sequence else { return Semantics.sameScalars(name, event) }
        return sequence.steps.contains { Semantics.sameScalars($0.event, name) }
    }

    /// The aggregate as it would be written, e.g. `count(page_view where url starts_with "/pricing" within 1w)`.
    public var canonicalText: String {
        var out = ""
        if let sequence {
            Printer.write(sequence.canonicalTree, into: &out)
            return out
        }
        let window = windowMs.map { Duration.canonical(milliseconds: $0) }
        Printer.write(
            Aggregate(kind: kind, event: event, property: property, filter: filter?.node, window: window),
            into: &out
        )
        return out
    }

    /// ``canonicalText``.
    public var description: String { canonicalText }

    /// Whether an event counts for this aggregate at `nowMs`: the right name, `at <= nowMs`, inside the window
    /// (`nowMs - window < at`), and the filter holds.
    ///
    /// - Parameters:
    ///   - event: The event.
    ///   - nowMs: The instant.
    /// - Returns: Whether the event is one of the aggregate's matching events.
    public func includes(_ event: EventRecord, nowMs: Int64) -> Bool {
        guard Semantics.sameScalars(event.name, self.event),
            Semantics.isCounted(at: event.atMs, now: nowMs, windowMs: windowMs)
        else { return false }
        return filter?.matches(event.properties, nowMs: nowMs) ?? true
    }

    /// The aggregate's value over `events` at `nowMs`, by full scan.
    ///
    /// - Parameters:
    ///   - events: The user's events, in any order.
    ///   - nowMs: The instant.
    /// - Returns: `.number` for count/sum/avg/min/max, `.timestamp` for first/last, `nil` when missing
    ///   (avg/min/max with no numeric property, first/last with no event).
    public func value(of events: [EventRecord], nowMs: Int64) -> AttributeValue? {
        if let sequence { return .bool(sequence.holds(events, nowMs: nowMs)) }
        var count = 0
        var sum = 0.0
        var numeric = 0
        var minimum = Double.infinity
        var maximum = -Double.infinity
        var earliest = Int64.max
        var latest = Int64.min
        for event in events where includes(event, nowMs: nowMs) {
            count += 1
            earliest = Swift.min(earliest, event.atMs)
            latest = Swift.max(latest, event.atMs)
            if let property, case .number(let x)? = event.properties.property(property) {
                numeric += 1
                sum += x
                minimum = Swift.min(minimum, x)
                maximum = Swift.max(maximum, x)
            }
        }
        switch kind {
        case .count: return .number(Double(count))
        case .sum: return .number(sum)
        case .avg: return numeric == 0 ? nil : .number(sum / Double(numeric))
        case .min: return numeric == 0 ? nil : .number(minimum)
        case .max: return numeric == 0 ? nil : .number(maximum)
        case .first: return count == 0 ? nil : .timestamp(earliest)
        case .last: return count == 0 ? nil : .timestamp(latest)
        case .sequence: return .bool(false)  // answered above
        }
    }

    /// The next instant strictly after `nowMs` at which this aggregate's value can change by time alone.
    ///
    /// For each event with the aggregate's name: its `at` (a future-dated event starts counting), `at + window`
    /// (it leaves the window), and the instants at which its filter can change (when the filter compares a
    /// property with `now` or `D ago`). Conservative: the value may stay the same at the returned instant.
    ///
    /// - Parameters:
    ///   - nowMs: The instant.
    ///   - events: The user's events.
    /// - Returns: The instant, or `nil` when time alone never changes the value.
    public func nextChange(after nowMs: Int64, events: [EventRecord]) -> Int64? {
        var collector = ChangeCollector(now: nowMs)
        collector.addAggregate(self, events: events)
        return collector.best
    }
}

/// A `where` filter of an aggregate, evaluable against one event's properties.
///
/// Names inside the filter are event properties. Filters hold no aggregates and no `in_segment`; they may compare
/// a property with `now` or `D ago`, in which case ``readsTime`` is true and whether an event matches can change
/// as time passes.
public struct EventFilter: Sendable, Hashable, CustomStringConvertible {
    let node: Node

    /// Whether the filter mentions `now` or `D ago`.
    public let readsTime: Bool

    /// The tree prepared for matching many events (see ``PreparedFilter``).
    private let prepared: PreparedFilter

    init(_ node: Node) {
        self.node = node
        self.readsTime = Self.mentionsTime(node)
        self.prepared = PreparedFilter(node)
    }

    /// The filter's canonical text, e.g. `url starts_with "/pricing"`.
    public var canonicalText: String { Printer.print(node) }

    /// ``canonicalText``.
    public var description: String { canonicalText }

    /// Whether one event's properties satisfy the filter at `nowMs`.
    ///
    /// - Parameters:
    ///   - properties: The event's properties.
    ///   - nowMs: The instant (only read when ``readsTime``).
    /// - Returns: The filter's value.
    public func matches(_ properties: [String: AttributeValue], nowMs: Int64) -> Bool {
        prepared.matches(properties, nowMs: nowMs)
    }

    /// The property names the filter reads.
    public var propertyNames: [String] {
        var names: [String] = []
        PlanBuilder.collectNames(node, into: &names)
        var seen: Set<String> = []
        return names.filter { seen.insert($0).inserted }
    }

    /// The tree equality is the filter's identity (`==` and `=`, spacing and parentheses do not count).
    public static func == (lhs: EventFilter, rhs: EventFilter) -> Bool { lhs.node == rhs.node }

    /// Hashes the tree.
    public func hash(into hasher: inout Hasher) { hasher.combine(node) }

    private static func mentionsTime(_ node: Node) -> Bool {
        switch node {
        case .or(let items), .and(let items): return items.contains(where: mentionsTime)
        case .not(let inner): return mentionsTime(inner)
        case .compare(let l, _, let r):
            for operand in [l, r] {
                switch operand {
                case .now, .ago: return true
                default: continue
                }
            }
            return false
        case .exists, .inSegment, .sequence: return false
        }
    }
}

/// A `where` filter prepared for matching many events: its meaning is the tree's (``Evaluation/filterMatches``,
/// which the reference interpreter uses), with the literals' values made once and no evaluation context built per
/// event.
///
/// A comparison between properties and literals is what filters hold in practice; its sides are read as
/// ``Evaluation/value(_:)`` reads them (a property is looked up in the event's properties, a literal is its value)
/// and neither is a time operand, so ``Semantics/coerce(left:_:right:_:)`` leaves them as they are and
/// ``Semantics/compare(_:_:_:)`` decides. Any other node (a comparison with `now`, `D ago`, a timestamp or
/// arithmetic) is evaluated on the tree.
private indirect enum PreparedFilter: Sendable {
    case or([PreparedFilter])
    case and([PreparedFilter])
    case not(PreparedFilter)
    case exists(String)
    case compare(Side, CompareOp, Side)
    case tree(Node)

    /// One side of a prepared comparison.
    enum Side: Sendable {
        case property(String)
        case value(Value)

        init?(_ operand: Operand) {
            switch operand {
            case .name(let name): self = .property(name)
            case .literal(let literal): self = .value(Value(literal))
            default: return nil
            }
        }

        @inline(__always)
        func value(in properties: [String: AttributeValue]) -> Value? {
            switch self {
            case .property(let name): return properties.property(name).map(Value.init)
            case .value(let value): return value
            }
        }
    }

    init(_ node: Node) {
        switch node {
        case .or(let items): self = .or(items.map(PreparedFilter.init))
        case .and(let items): self = .and(items.map(PreparedFilter.init))
        case .not(let inner): self = .not(PreparedFilter(inner))
        case .exists(let name): self = .exists(name)
        case .compare(let left, let op, let right):
            if let l = Side(left), let r = Side(right) {
                self = .compare(l, op, r)
            } else {
                self = .tree(node)
            }
        case .inSegment, .sequence: self = .tree(node)
        }
    }

    func matches(_ properties: [String: AttributeValue], nowMs: Int64) -> Bool {
        switch self {
        case .or(let items): return items.contains { $0.matches(properties, nowMs: nowMs) }
        case .and(let items): return items.allSatisfy { $0.matches(properties, nowMs: nowMs) }
        case .not(let inner): return !inner.matches(properties, nowMs: nowMs)
        case .exists(let name): return properties.property(name) != nil
        case .compare(let l, let op, let r):
            return Semantics.compare(l.value(in: properties), op, r.value(in: properties))
        case .tree(let node): return Evaluation.filterMatches(node, properties: properties, nowMs: nowMs)
        }
    }
}
