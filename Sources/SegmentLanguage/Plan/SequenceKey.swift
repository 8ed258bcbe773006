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
        public func matches(_ event: EventRecord, nowMs: Int64) -> Bool {
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

    /// Whether, once it holds, the sequence holds at every later instant whatever events come: a `then` without
    /// `in last` whose filters read no clock (a chain of past events stays a chain).
    public var holdsForGood: Bool { !notFollowedBy && outerMs == nil && !filtersReadTime }

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
    /// `then`: one pass over the settled events in time order, keeping for each step the latest first-step instant
    /// of a chain that has reached it (a later start leaves the most room for the window); it holds once a chain
    /// reaches the last step within the window of its start. `not followed by`: the latest first-step event is at
    /// least the window old (and inside the outer window) and no second-step event is after it. Linear in the
    /// events (times the steps), without allocating when they are in time order, as the evaluator keeps them.
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
        return Self.inTimeOrder(events) { firstChain($0, nowMs: nowMs, recordingPath: false) } != nil
    }

    /// `body` over `events` in time order: the events themselves when they are (no copy), else a sorted copy.
    private static func inTimeOrder<T>(_ events: [EventRecord], _ body: ([EventRecord]) -> T) -> T {
        var ordered = true
        var i = 1
        while i < events.count {
            if events[i].atMs < events[i - 1].atMs {
                ordered = false
                break
            }
            i += 1
        }
        return ordered ? body(events) : body(events.sorted { $0.atMs < $1.atMs })
    }

    /// The first chain of settled events (in time order) that makes a `then` sequence hold: the indexes of its
    /// events in `sorted` when `recordingPath`, else an empty array; `nil` when none does.
    ///
    /// Events at one instant are taken together, from the chains found before that instant, so two events of one
    /// instant never follow each other.
    private func firstChain(_ sorted: [EventRecord], nowMs: Int64, recordingPath: Bool) -> [Int]? {
        let count = steps.count
        // By step: the latest start of a chain that has reached it, and (when recording) that chain's events.
        var start = [Int64?](repeating: nil, count: count)
        var path = [[Int]](repeating: [], count: recordingPath ? count : 0)
        var group = 0
        while group < sorted.count, sorted[group].atMs <= nowMs {
            let t = sorted[group].atMs
            var end = group
            while end < sorted.count, sorted[end].atMs == t { end += 1 }
            // Steps from the last to the first: a step's update reads the previous step's value from before
            // this instant, which is updated only after it.
            for k in stride(from: count - 1, through: 0, by: -1) {
                let candidate: Int64
                if k == 0 {
                    guard insideOuter(t, nowMs: nowMs) else { continue }
                    candidate = t
                } else {
                    guard let s = start[k - 1] else { continue }
                    let (gap, overflow) = t.subtractingReportingOverflow(s)
                    guard !overflow, gap <= windowMs else { continue }
                    candidate = s
                }
                guard start[k].map({ candidate > $0 }) ?? true,
                    let index = (group..<end).first(where: { steps[k].matches(sorted[$0], nowMs: nowMs) })
                else { continue }
                if recordingPath { path[k] = k == 0 ? [index] : path[k - 1] + [index] }
                start[k] = candidate
            }
            if start[count - 1] != nil { return recordingPath ? path[count - 1] : [] }
            group = end
        }
        return nil
    }

    /// The next instant after `t` at which the value can change by time alone, from events in time order, when no
    /// step filter reads the clock (``filtersReadTime`` is false; otherwise ask ``AggregateKey/nextChange(after:events:)``):
    /// the first future event, and for the first step's settled events `at + D` (`not followed by`) and `at + W`
    /// (`in last W`). The same instant as the general computation, without a pass over every event for `then`.
    ///
    /// - Parameters:
    ///   - sorted: The events, in time order.
    ///   - t: The instant.
    /// - Returns: The instant, or `nil` when time alone never changes the value.
    public func nextChange(ofSorted sorted: [EventRecord], after t: Int64) -> Int64? {
        var lo = 0
        var hi = sorted.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if sorted[mid].atMs <= t { lo = mid + 1 } else { hi = mid }
        }
        var best: Int64? = lo < sorted.count ? sorted[lo].atMs : nil
        guard notFollowedBy || outerMs != nil else { return best }
        func consider(_ base: Int64, plus delta: Int64) {
            let (x, overflow) = base.addingReportingOverflow(delta)
            if !overflow, x > t, best.map({ x < $0 }) ?? true { best = x }
        }
        for event in sorted[..<lo] where steps[0].matches(event, nowMs: t) {
            if notFollowedBy { consider(event.atMs, plus: windowMs) }
            if let outerMs { consider(event.atMs, plus: outerMs) }
        }
        return best
    }

    /// The events of `events` that can still change the value at `nowMs` or later, whatever events arrive later
    /// (late ones included), or `nil` when that is all of them. What the evaluator keeps per user:
    ///
    /// - `in last W`: an event at or before `now - W` can be neither a first step inside the window nor a later
    ///   step of a chain that starts inside it;
    /// - `then` without `in last`, no filter reading the clock: once a chain of settled events holds, it holds
    ///   forever, so its events are enough;
    /// - `not followed by`, no filter reading the clock: only the latest settled first step and what comes after
    ///   it matter.
    ///
    /// An event that matches no step is never needed when no filter reads the clock; the evaluator does not keep
    /// one in the first place, so this does not look for them. Keeps the events' order; scans without copying when
    /// nothing is to be dropped.
    ///
    /// - Parameters:
    ///   - events: The events kept so far.
    ///   - nowMs: The instant.
    /// - Returns: The events to keep, in their order, or `nil` to keep them all.
    public func retained(_ events: [EventRecord], nowMs: Int64) -> [EventRecord]? {
        let timeFilters = filtersReadTime
        var keep: [EventRecord]?
        func drop(_ unneeded: (EventRecord) -> Bool) {
            if let kept = keep {
                keep = kept.filter { !unneeded($0) }
            } else if events.contains(where: unneeded) {
                keep = events.filter { !unneeded($0) }
            }
        }
        if let outerMs {
            drop { $0.atMs <= nowMs && !Semantics.isCounted(at: $0.atMs, now: nowMs, windowMs: outerMs) }
        }
        if !timeFilters {
            let current = keep ?? events
            if notFollowedBy {
                var latest: Int64?
                for event in current where event.atMs <= nowMs && steps[0].matches(event, nowMs: nowMs) {
                    latest = max(latest ?? .min, event.atMs)
                }
                if let latest {
                    drop { $0.atMs < latest || ($0.atMs == latest && !steps[0].matches($0, nowMs: nowMs)) }
                }
            } else if outerMs == nil, current.count > steps.count {
                // The first chain that holds, if any (one pass; `holds` would make the same one).
                let chain = Self.inTimeOrder(current) { sorted in
                    firstChain(sorted, nowMs: nowMs, recordingPath: true).map { $0.map { sorted[$0] } }
                }
                if let chain { keep = chain }
            }
        }
        return keep
    }
}
