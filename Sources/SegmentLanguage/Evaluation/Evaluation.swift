/// One evaluation of a tree at one instant. The caller says how names, aggregates and `in_segment` are resolved:
/// the reference interpreter scans all events; the plan reads values the evaluator maintains.
struct Evaluation {
    let nowMs: Int64
    /// A profile attribute, or (inside `where`) an event property.
    let lookup: (String) -> AttributeValue?
    let aggregate: (Aggregate) -> Value?
    /// Whether a sequence holds at `nowMs`.
    let sequence: (EventSequence) -> Bool
    let isMember: (String) -> Bool

    func truth(_ node: Node) -> Bool {
        switch node {
        case .or(let items): return items.contains { truth($0) }
        case .and(let items): return items.allSatisfy { truth($0) }
        case .not(let inner): return !truth(inner)
        case .compare(let left, let op, let right): return comparison(left, op, right).result
        case .exists(let name): return lookup(name) != nil
        case .inSegment(let name): return isMember(name)
        case .sequence(let s): return sequence(s)
        }
    }

    /// The value of an operand before coercion; `nil` is missing.
    func value(_ operand: Operand) -> Value? {
        switch operand {
        case .name(let name): return lookup(name).map(Value.init)
        case .literal(let literal): return Value(literal)
        case .now: return .time(nowMs)
        case .ago(let d): return .time(Semantics.ago(d.milliseconds, now: nowMs))
        case .timestamp(let ms): return .time(ms)
        case .aggregate(let a): return aggregate(a)
        case .arithmetic(let l, let op, let r): return Semantics.calculate(op, value(l), value(r))
        case .negate(let x): return Semantics.negate(value(x))
        case .trait: return nil  // not expanded (see `SegmentExpression.expandingTraits`): no such trait
        }
    }

    /// The result of a comparison, with both sides as compared (after reading names as timestamps).
    func comparison(_ left: Operand, _ op: CompareOp, _ right: Operand) -> (result: Bool, left: Value?, right: Value?) {
        let (l, r) = Semantics.coerce(left: left, value(left), right: right, value(right))
        return (Semantics.compare(l, op, r), l, r)
    }
}

extension Evaluation {
    /// The reference semantics' evaluation for one user: attributes looked up, every aggregate and sequence by
    /// scanning every event (a sequence from `sequenceHolds` when given).
    static func reference(
        attributes: [String: AttributeValue],
        events: [EventRecord],
        nowMs: Int64,
        isMember: @escaping (String) -> Bool,
        sequenceHolds: ((AggregateKey) -> Bool)? = nil
    ) -> Evaluation {
        Evaluation(
            nowMs: nowMs,
            lookup: { attributes[$0] },
            aggregate: { scan($0, events: events, nowMs: nowMs) },
            sequence: { sequence in
                sequenceHolds.map { $0(AggregateKey(sequence)) } ?? scan(sequence, events: events, nowMs: nowMs)
            },
            isMember: isMember
        )
    }

    /// The aggregate's value by scanning every event: the reference semantics.
    static func scan(_ a: Aggregate, events: [EventRecord], nowMs: Int64) -> Value? {
        var count = 0
        var sum = 0.0
        var numeric = 0
        var minimum = Double.infinity
        var maximum = -Double.infinity
        var earliest: Int64?
        var latest: Int64?
        for event in events where matches(a, event, nowMs: nowMs) {
            count += 1
            earliest = Swift.min(earliest ?? event.atMs, event.atMs)
            latest = Swift.max(latest ?? event.atMs, event.atMs)
            if let property = a.property, case .number(let x)? = event.properties[property] {
                numeric += 1
                sum += x
                minimum = Swift.min(minimum, x)
                maximum = Swift.max(maximum, x)
            }
        }
        switch a.kind {
        case .count: return .number(Double(count))
        case .sum: return .number(sum)
        case .avg: return numeric == 0 ? nil : .number(sum / Double(numeric))
        case .min: return numeric == 0 ? nil : .number(minimum)
        case .max: return numeric == 0 ? nil : .number(maximum)
        case .first: return earliest.map(Value.time)
        case .last: return latest.map(Value.time)
        case .sequence: return nil  // a sequence is a node (`Node.sequence`), never an `Aggregate`
        }
    }

    /// Whether an event counts for an aggregate at `nowMs`: its name, its instant (and window), its filter.
    static func matches(_ a: Aggregate, _ event: EventRecord, nowMs: Int64) -> Bool {
        guard Semantics.sameScalars(event.name, a.event),
            Semantics.isCounted(at: event.atMs, now: nowMs, windowMs: a.window?.milliseconds)
        else { return false }
        guard let filter = a.filter else { return true }
        return filterMatches(filter, properties: event.properties, nowMs: nowMs)
    }

    /// A `where` filter on one event's properties. Filters hold no aggregates and no `in_segment`.
    static func filterMatches(_ filter: Node, properties: [String: AttributeValue], nowMs: Int64) -> Bool {
        Evaluation(
            nowMs: nowMs,
            lookup: { properties[$0] },
            aggregate: { _ in nil },
            sequence: { _ in false },
            isMember: { _ in false }
        ).truth(filter)
    }
}

extension Evaluation {
    /// Whether a sequence holds at `nowMs`, from the contract's "Version 2" sentence by sentence: for each first
    /// step, the set of events at which a chain can be at each next step (not the evaluator's greedy scan, so that
    /// the two can be compared).
    static func scan(_ sequence: EventSequence, events: [EventRecord], nowMs: Int64) -> Bool {
        /// The settled events matching step `k` (name and filter at `nowMs`), instants only.
        func instants(_ k: Int) -> [Int64] {
            let step = sequence.steps[k]
            return events.filter { event in
                event.atMs <= nowMs && Semantics.sameScalars(event.name, step.event)
                    && (step.filter.map { filterMatches($0, properties: event.properties, nowMs: nowMs) } ?? true)
            }.map(\.atMs)
        }
        let windowMs = sequence.window.milliseconds
        /// `now - W < a` for the first step, when there is an outer window.
        func insideOuter(_ a: Int64) -> Bool {
            guard let outer = sequence.outer else { return true }
            return Semantics.isCounted(at: a, now: nowMs, windowMs: outer.milliseconds)
        }
        /// `last <= first + D`, without overflow.
        func withinWindow(first: Int64, last: Int64) -> Bool {
            let (gap, overflow) = last.subtractingReportingOverflow(first)
            return !overflow && gap <= windowMs
        }
        switch sequence.kind {
        case .then:
            let candidates = sequence.steps.indices.map(instants)
            return candidates[0].contains { a in
                guard insideOuter(a) else { return false }
                // The instants at which a chain starting at `a` can be at step k: a step-k event within the
                // window of `a` and after some instant the chain can be at step k - 1.
                var reachable = [a]
                for k in 1..<candidates.count {
                    reachable = candidates[k].filter { at in
                        withinWindow(first: a, last: at) && reachable.contains { $0 < at }
                    }
                }
                return !reachable.isEmpty
            }
        case .notFollowedBy:
            guard let a = instants(0).max(), insideOuter(a) else { return false }
            let (due, overflow) = a.addingReportingOverflow(windowMs)
            guard !overflow, due <= nowMs else { return false }
            return !instants(1).contains { $0 > a }
        }
    }
}
