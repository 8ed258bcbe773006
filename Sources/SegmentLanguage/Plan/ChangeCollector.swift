/// Collects the candidate instants at which a tree's value can change by time alone and keeps the earliest one
/// after `now`.
///
/// A change point of a time-dependent part is an instant `t` at which its value at `t` may differ from its value
/// at `t - 1`. The tree's value is a function of those parts, so it is constant between consecutive change points
/// of all of them; the earliest change point after `now` is therefore never late. The parts:
///
/// - an event `at` with `at > now`: it starts counting (every aggregate);
/// - `at + D` for an event of an aggregate with `within D`: it leaves the window (it counts while
///   `at <= t < at + D`);
/// - a fixed instant `x` compared with a moving one `t - D` (`now` is `D = 0`): the comparison can change only at
///   `x + D` and `x + D + 1` (`x < t - D` turns true at `x + D + 1`, `x <= t - D` at `x + D`, `=` holds only at
///   `x + D`). The fixed instant is an attribute or property read as a timestamp, a timestamp literal, or the
///   current value of `first`/`last` (whose own changes are covered by the first item);
/// - the same inside `where` filters, per event, with the event's properties.
///
/// Two moving instants (`now > 1d ago`) differ by a constant and never cross.
struct ChangeCollector {
    let now: Int64
    private(set) var best: Int64?

    init(now: Int64) { self.now = now }

    mutating func add(_ t: Int64) {
        if t > now, best.map({ t < $0 }) ?? true { best = t }
    }

    /// `base + delta`, skipped when it overflows (an instant past `Int64.max` is never reached).
    mutating func add(_ base: Int64, plus delta: Int64) {
        let (t, overflow) = base.addingReportingOverflow(delta)
        if !overflow { add(t) }
    }

    mutating func addNode(_ node: Node, lookup: (String) -> AttributeValue?, events: [EventRecord]) {
        switch node {
        case .or(let items), .and(let items): for item in items { addNode(item, lookup: lookup, events: events) }
        case .not(let inner): addNode(inner, lookup: lookup, events: events)
        case .exists, .inSegment: break
        case .sequence(let sequence): addAggregate(AggregateKey(sequence), events: events)
        case .compare(let left, _, let right):
            for operand in [left, right] {
                operand.forEachOperand {
                    if case .aggregate(let a) = $0 { addAggregate(AggregateKey(a), events: events) }
                }
            }
            guard left.isTime || right.isTime else { return }
            switch (motion(left, lookup: lookup, events: events), motion(right, lookup: lookup, events: events)) {
            case (.moving(let d), .fixed(let x)), (.fixed(let x), .moving(let d)):
                add(x, plus: d)
                if let d1 = d.addingReportingOverflow(1).overflow ? nil : d + 1 { add(x, plus: d1) }
            default:
                break
            }
        }
    }

    mutating func addAggregate(_ key: AggregateKey, events: [EventRecord]) {
        if let sequence = key.sequence {
            addSequence(sequence, events: events)
            return
        }
        for event in events where Semantics.sameScalars(event.name, key.event) {
            add(event.atMs)
            if let windowMs = key.windowMs { add(event.atMs, plus: windowMs) }
            if let filter = key.filter, filter.readsTime {
                addNode(filter.node, lookup: { event.properties[$0] }, events: [])
            }
        }
    }

    /// A sequence's change points: every step event's `at` (a future one starts counting; a late one was counted
    /// already), and for each event of the first step's name `at + D` (`not followed by`: the wait ends) and
    /// `at + W` (`in last W`: it leaves the window), and the change points of filters that read the clock.
    mutating func addSequence(_ sequence: SequenceKey, events: [EventRecord]) {
        for event in events {
            var named = false
            for (k, step) in sequence.steps.enumerated() where Semantics.sameScalars(event.name, step.event) {
                named = true
                if k == 0 {
                    if sequence.notFollowedBy { add(event.atMs, plus: sequence.windowMs) }
                    if let outer = sequence.outerMs { add(event.atMs, plus: outer) }
                }
                if let filter = step.filter, filter.readsTime {
                    addNode(filter.node, lookup: { event.properties[$0] }, events: [])
                }
            }
            if named { add(event.atMs) }
        }
    }

    private enum Motion {
        /// `t - d` at instant `t`.
        case moving(Int64)
        /// A constant instant (until some other change point).
        case fixed(Int64)
        /// Not an instant (missing, or not a time at all).
        case none
    }

    private func motion(_ operand: Operand, lookup: (String) -> AttributeValue?, events: [EventRecord]) -> Motion {
        switch operand {
        case .now: return .moving(0)
        case .ago(let d): return .moving(d.milliseconds)
        case .timestamp(let x): return .fixed(x)
        case .name(let name):
            guard let value = lookup(name), let x = Semantics.asTime(Value(value)) else { return .none }
            return .fixed(x)
        case .aggregate(let a):
            guard a.kind == .first || a.kind == .last,
                case .time(let x)? = Evaluation.scan(a, events: events, nowMs: now)
            else { return .none }
            return .fixed(x)
        case .literal, .arithmetic, .negate, .trait: return .none
        }
    }
}
