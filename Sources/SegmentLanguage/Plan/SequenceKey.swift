/// The steps and windows of a sequence aggregate (`a then b within 1h`, `a not followed by b within 2h`), with what
/// the evaluator needs: whether it holds over a user's events, and which of them can still matter.
///
/// Two sequences written differently but meaning the same (`within 24h` and `within 1d`) have equal keys.
public struct SequenceKey: Sendable, Hashable {
    /// One step: an event name and an optional filter on the event's properties.
    public struct Step: Sendable, Hashable {
        /// The event name.
        public let event: String
        /// The `where` filter, if any.
        public let filter: EventFilter?

        /// Whether `event` is one of this step's events at `nowMs` (its filter read then). The instant is not
        /// checked.
        func matches(_ event: EventRecord, nowMs: Int64) -> Bool {
            Semantics.sameScalars(event.name, self.event)
                && (filter?.matches(event.properties, nowMs: nowMs) ?? true)
        }
    }

    /// The steps, two or more (exactly two for ``notFollowedBy``).
    public let steps: [Step]
    /// `a not followed by b` rather than `a then b …`.
    public let notFollowedBy: Bool
    /// The `within` window in milliseconds.
    public let windowMs: Int64
    /// The `in last` window in milliseconds, if any.
    public let outerMs: Int64?

    init(_ s: EventSequence) {
        steps = s.steps.map { Step(event: $0.event, filter: $0.filter.map(EventFilter.init)) }
        notFollowedBy = s.kind == .notFollowedBy
        windowMs = s.window.milliseconds
        outerMs = s.outer?.milliseconds
    }

    /// The tree with windows in their largest exact unit, for printing.
    var canonicalTree: EventSequence {
        EventSequence(
            kind: notFollowedBy ? .notFollowedBy : .then,
            steps: steps.map { SequenceStep(event: $0.event, filter: $0.filter?.node) },
            window: Duration.canonical(milliseconds: windowMs),
            outer: outerMs.map { Duration.canonical(milliseconds: $0) }
        )
    }

    /// The steps' event names, distinct, in step order.
    public var eventNames: [String] {
        var names: [String] = []
        for step in steps where !names.contains(where: { Semantics.sameScalars($0, step.event) }) {
            names.append(step.event)
        }
        return names
    }

    /// Whether some step's filter compares a property with `now` or `D ago` (then whether an event matches a step
    /// can change as time passes).
    public var filtersReadTime: Bool { steps.contains { $0.filter?.readsTime == true } }

    /// The property names the steps' filters read, distinct.
    public var propertyNames: [String] {
        var names: [String] = []
        for step in steps {
            for name in step.filter?.propertyNames ?? [] where !names.contains(name) { names.append(name) }
        }
        return names
    }

    /// `now - W < a` for the first step, when there is an outer window.
    @inline(__always)
    private func insideOuter(_ a: Int64, nowMs: Int64) -> Bool {
        guard let outerMs else { return true }
        return Semantics.isCounted(at: a, now: nowMs, windowMs: outerMs)
    }

    /// Whether the sequence holds at `nowMs` over `events` (the user's events of any names, in any order;
    /// future-dated ones do not count yet).
    ///
    /// `then`: for each first-step event in the outer window, the earliest event of each next step strictly after
    /// the previous one gives the earliest possible last step; the sequence holds when that is within the window
    /// of the first. `not followed by`: the latest first-step event is at least the window old (and inside the
    /// outer window) and no second-step event is after it.
    ///
    /// - Parameters:
    ///   - events: The events.
    ///   - nowMs: The instant.
    /// - Returns: Whether the sequence holds.
    public func holds(_ events: [EventRecord], nowMs: Int64) -> Bool {
        if notFollowedBy {
            var latest: Int64?
            for event in events where event.atMs <= nowMs && steps[0].matches(event, nowMs: nowMs) {
                latest = max(latest ?? .min, event.atMs)
            }
            guard let a = latest, insideOuter(a, nowMs: nowMs) else { return false }
            let (due, overflow) = a.addingReportingOverflow(windowMs)
            guard !overflow, due <= nowMs else { return false }
            return !events.contains { $0.atMs > a && $0.atMs <= nowMs && steps[1].matches($0, nowMs: nowMs) }
        }
        var instants = [[Int64]](repeating: [], count: steps.count)
        for event in events where event.atMs <= nowMs {
            for (k, step) in steps.enumerated() where step.matches(event, nowMs: nowMs) {
                instants[k].append(event.atMs)
            }
        }
        if instants.contains(where: \.isEmpty) { return false }
        for k in instants.indices { instants[k].sort() }
        for a in instants[0] where insideOuter(a, nowMs: nowMs) {
            var previous = a
            for k in 1..<instants.count {
                guard let next = Self.firstAfter(previous, in: instants[k]) else {
                    // A later first step finds no later events either.
                    return false
                }
                previous = next
            }
            let (gap, overflow) = previous.subtractingReportingOverflow(a)
            if !overflow && gap <= windowMs { return true }
        }
        return false
    }

    /// The first element of sorted `values` greater than `t`.
    private static func firstAfter(_ t: Int64, in values: [Int64]) -> Int64? {
        var lo = 0
        var hi = values.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if values[mid] <= t { lo = mid + 1 } else { hi = mid }
        }
        return lo < values.count ? values[lo] : nil
    }

    /// The events of `events` that can still change the value at `nowMs` or later, whatever events arrive later
    /// (late ones included), or `nil` when that is all of them. What the evaluator keeps per user:
    ///
    /// - an event that matches no step is never needed, when no filter reads the clock;
    /// - `in last W`: an event at or before `now - W` can be neither a first step inside the window nor a later
    ///   step of a chain that starts inside it;
    /// - `then` without `in last`, no filter reading the clock: once a chain of settled events holds, it holds
    ///   forever, so its events are enough;
    /// - `not followed by`, no filter reading the clock: only the latest settled first step and what comes after
    ///   it matter.
    ///
    /// - Parameters:
    ///   - events: The events kept so far.
    ///   - nowMs: The instant.
    /// - Returns: The events to keep, in their order, or `nil` to keep them all.
    public func retained(_ events: [EventRecord], nowMs: Int64) -> [EventRecord]? {
        let timeFilters = filtersReadTime
        var keep = events
        if !timeFilters {
            keep.removeAll { event in !steps.contains { $0.matches(event, nowMs: nowMs) } }
        }
        if let outerMs {
            keep.removeAll { $0.atMs <= nowMs && !Semantics.isCounted(at: $0.atMs, now: nowMs, windowMs: outerMs) }
        }
        if !timeFilters {
            if notFollowedBy {
                let latest = keep.filter { $0.atMs <= nowMs && steps[0].matches($0, nowMs: nowMs) }.map(\.atMs).max()
                if let latest {
                    keep.removeAll { $0.atMs < latest || ($0.atMs == latest && !steps[0].matches($0, nowMs: nowMs)) }
                }
            } else if outerMs == nil, let chain = witnessChain(keep, nowMs: nowMs) {
                keep = chain
            }
        }
        return keep.count == events.count ? nil : keep
    }

    /// The events of one chain that makes a `then` sequence hold at `nowMs`, or `nil`.
    private func witnessChain(_ events: [EventRecord], nowMs: Int64) -> [EventRecord]? {
        let settled = events.filter { $0.atMs <= nowMs }.sorted { $0.atMs < $1.atMs }
        for (i, first) in settled.enumerated() where steps[0].matches(first, nowMs: nowMs) {
            var chain = [first]
            var j = i + 1
            for step in steps.dropFirst() {
                while j < settled.count
                    && (settled[j].atMs <= chain.last!.atMs || !step.matches(settled[j], nowMs: nowMs))
                {
                    j += 1
                }
                guard j < settled.count else { return nil }
                chain.append(settled[j])
                j += 1
            }
            let (gap, overflow) = chain.last!.atMs.subtractingReportingOverflow(first.atMs)
            if !overflow && gap <= windowMs { return chain }
        }
        return nil
    }
}
