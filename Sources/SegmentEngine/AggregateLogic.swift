import SegmentLanguage

/// The incremental maintenance of one aggregate's per-user state: ingesting an event, moving to a later instant,
/// reading the value and the next instant at which the value can change by time alone. Pure functions of the
/// state, shared by the engine and the back-fill session.
///
/// A state's entries live in an array it shares with the other states of its user (see ``KeyState``): the
/// functions take the state, that array (`entries`) and where the state's entries start in it (`base`).
enum AggregateLogic {
    /// Whether an event at `at` has left (or can never enter) a window of `windowMs` at instant `t`.
    @inline(__always)
    static func expired(_ at: Int64, at t: Int64, windowMs: Int64) -> Bool {
        guard at <= t else { return false }
        let (age, overflow) = t.subtractingReportingOverflow(at)
        return overflow || age >= windowMs
    }

    /// The numeric property the aggregate reads, or NaN.
    @inline(__always)
    static func numeric(_ properties: [String: AttributeValue], _ property: String?) -> Double {
        guard let property, case .number(let x)? = properties.property(property) else { return .nan }
        return x
    }

    /// `properties` restricted to `names`.
    static func project(_ properties: [String: AttributeValue], _ names: [String]) -> [String: AttributeValue] {
        if names.isEmpty || properties.isEmpty { return [:] }
        var out: [String: AttributeValue] = [:]
        // Kept for good: the values are copied out of the decoder's allocations (see `AttributeValue.copiedOut`).
        for name in names { if let v = properties.property(name) { out[name] = v.copiedOut() } }
        return out
    }

    /// Index of the first entry of `span` with `at > t` (`span.upperBound` if none; entries are sorted by `at`).
    @inline(__always)
    static func firstAfter(_ entries: [Entry], _ span: Range<Int>, _ t: Int64) -> Int {
        var lo = span.lowerBound
        var hi = span.upperBound
        while lo < hi {
            let mid = (lo + hi) / 2
            if entries[mid].at <= t { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Inserts into the state's entries keeping them sorted by `at`; equal instants keep arrival order.
    @inline(__always)
    static func insertSorted(_ st: inout KeyState, _ entries: inout [Entry], base: Int, _ e: Entry) {
        let span = st.span(base: base)
        let position =
            span.isEmpty || entries[span.upperBound - 1].at <= e.at ? span.upperBound : firstAfter(entries, span, e.at)
        if position == entries.count {
            entries.compactAppend(e)
        } else {
            entries.compactInsert(e, at: position)
        }
        st.entryCount += 1
    }

    /// The number of leading entries of `span` that have left a window of `windowMs` at `t` (entries are sorted by
    /// `at`).
    @inline(__always)
    static func expiredPrefix(_ entries: [Entry], _ span: Range<Int>, at t: Int64, windowMs: Int64) -> Int {
        var i = span.lowerBound
        while i < span.upperBound, expired(entries[i].at, at: t, windowMs: windowMs) { i += 1 }
        return i - span.lowerBound
    }

    /// Removes the state's first `k` entries.
    @inline(__always)
    static func removeFirst(_ k: Int, _ st: inout KeyState, _ entries: inout [Entry], base: Int) {
        guard k > 0 else { return }
        entries.removeSubrange(base..<(base + k))
        st.entryCount -= Int32(k)
    }

    /// Drops the state's entries that have left a window of `windowMs` at `t`.
    @inline(__always)
    static func dropExpired(_ st: inout KeyState, _ entries: inout [Entry], base: Int, at t: Int64, windowMs: Int64) {
        removeFirst(expiredPrefix(entries, st.span(base: base), at: t, windowMs: windowMs), &st, &entries, base: base)
    }

    /// The value of a `count` aggregate at `t` as an integer (the state must be current at `t`; raw states: -1).
    @inline(__always)
    static func count(_ st: borrowing KeyState, _ entries: [Entry], base: Int, slot: KeySlot, at t: Int64) -> Int {
        switch slot.mode {
        case .totals: return Int(st.n)
        case .window:
            let span = st.span(base: base)
            let start = slot.key.windowMs.map { expiredPrefix(entries, span, at: t, windowMs: $0) } ?? 0
            return firstAfter(entries, span, t) - span.lowerBound - start
        case .raw: return -1
        }
    }

    /// Whether two counts compare alike with every threshold (`<`, `=`, `>` each): then every comparison of the
    /// count with those numbers has the same value for both.
    @inline(__always)
    static func sameSide(_ a: Int, _ b: Int, of thresholds: [Double]) -> Bool {
        if a == b { return true }
        let (x, y) = (Double(a), Double(b))
        for k in thresholds where (x < k) != (y < k) || (x == k) != (y == k) { return false }
        return true
    }

    /// Adds a settled event (`at <= now`) to the running totals.
    static func settle(_ st: inout KeyState, kind: AggregateKind, at: Int64, v: Double) {
        switch kind {
        case .count: st.n += 1
        case .sum: if !v.isNaN { st.x += v }
        case .avg:
            if !v.isNaN {
                st.n += 1
                st.x += v
            }
        case .min:
            if !v.isNaN {
                st.x = st.n == 0 ? v : Swift.min(st.x, v)
                st.n += 1
            }
        case .max:
            if !v.isNaN {
                st.x = st.n == 0 ? v : Swift.max(st.x, v)
                st.n += 1
            }
        case .first:
            if st.x == 0 || at < st.n {
                st.n = at
                st.x = 1
            }
        case .last:
            if st.x == 0 || at > st.n {
                st.n = at
                st.x = 1
            }
        case .sequence: break  // raw mode only
        }
    }

    /// Takes one event of the aggregate's name into the state at instant `now`.
    ///
    /// - Returns: Whether the state changed (the event matches and can count now or later).
    static func ingest(
        _ st: inout KeyState,
        _ entries: inout [Entry],
        base: Int,
        slot: KeySlot,
        event: EventRecord,
        now: Int64
    ) -> Bool {
        let key = slot.key
        switch slot.mode {
        case .raw:
            if let w = key.windowMs, expired(event.atMs, at: now, windowMs: w) { return false }
            let record = EventRecord(
                name: event.name.copiedOut(),
                atMs: event.atMs,
                properties: project(event.properties, slot.projection)
            )
            if let sequence = key.sequence {
                // An event that matches no step (its filters read no clock) is never needed.
                if !sequence.filtersReadTime, !sequence.steps.contains(where: { $0.matches(event, nowMs: now) }) {
                    return false
                }
                // A `then` without `in last` that holds keeps only its chain and holds for good: nothing to add.
                if sequence.holdsForGood, st.raw.count == sequence.steps.count, sequence.holds(st.raw, nowMs: now) {
                    return false
                }
                // A sequence keeps its events in time order (a late one is put in its place), so that evaluating
                // it is one pass without sorting (`SequenceKey.holds`).
                let before = st.raw.count
                let late = st.raw.last.map { $0.atMs > record.atMs } ?? false
                if late {
                    let position = st.raw.firstIndex { $0.atMs > record.atMs } ?? st.raw.count
                    st.raw.insert(record, at: position)
                } else {
                    st.raw.append(record)
                }
                // `then` without `in last` forgets only once a chain holds, which an event arriving in order can make
                // happen only as the last step: other events skip the pass over the kept ones.
                let mayForget =
                    sequence.notFollowedBy || sequence.outerMs != nil || late
                    || sequence.steps[sequence.steps.count - 1].matches(record, nowMs: now)
                if mayForget, let kept = sequence.retained(st.raw, nowMs: now) {
                    // Forgotten at once (older than what can still matter): nothing changed.
                    let unchanged = kept.count == before && !kept.contains(record)
                    st.raw = kept
                    if unchanged { return false }
                }
            } else {
                st.raw.append(record)
            }
            st.n = computeNext(st, entries, base: base, slot: slot, after: now)
            return true
        case .window:
            if let w = key.windowMs, expired(event.atMs, at: now, windowMs: w) { return false }
            if let filter = key.filter, !filter.matches(event.properties, nowMs: now) { return false }
            if let w = key.windowMs { dropExpired(&st, &entries, base: base, at: now, windowMs: w) }
            insertSorted(&st, &entries, base: base, Entry(at: event.atMs, v: numeric(event.properties, key.property)))
            st.n = computeNext(st, entries, base: base, slot: slot, after: now)
            return true
        case .totals:
            if let filter = key.filter, !filter.matches(event.properties, nowMs: now) { return false }
            let v = numeric(event.properties, key.property)
            if event.atMs > now {
                insertSorted(&st, &entries, base: base, Entry(at: event.atMs, v: v))
                if slot.isFirstOrLast, key.filter != nil {
                    // A pending first/last needs its properties when it settles: keep them in `raw`.
                    st.raw.append(
                        EventRecord(
                            name: event.name.copiedOut(),
                            atMs: event.atMs,
                            properties: project(event.properties, slot.projection)
                        )
                    )
                }
                return true
            }
            let before = (st.n, st.x)
            settle(&st, kind: key.kind, at: event.atMs, v: v)
            if slot.isFirstOrLast, key.filter != nil, before != (st.n, st.x) {
                st.witness = project(event.properties, slot.projection)
            }
            return before != (st.n, st.x) || key.kind == .count
        }
    }

    /// Moves the state to instant `t`: settles pending events with `at <= t`, drops events that left the window.
    ///
    /// - Returns: Whether anything moved.
    static func advance(_ st: inout KeyState, _ entries: inout [Entry], base: Int, slot: KeySlot, to t: Int64) -> Bool {
        switch slot.mode {
        case .totals:
            let k = firstAfter(entries, st.span(base: base), t) - base
            guard k > 0 else { return false }
            for i in base..<(base + k) {
                let e = entries[i]
                let before = (st.n, st.x)
                settle(&st, kind: slot.key.kind, at: e.at, v: e.v)
                if slot.isFirstOrLast, slot.key.filter != nil {
                    // The pending events' properties are in `raw`, in arrival order; find this one.
                    if let j = st.raw.firstIndex(where: { $0.atMs == e.at }) {
                        if before != (st.n, st.x) { st.witness = st.raw[j].properties }
                        st.raw.remove(at: j)
                    }
                }
            }
            removeFirst(k, &st, &entries, base: base)
            return true
        case .window:
            guard let w = slot.key.windowMs else { return false }
            dropExpired(&st, &entries, base: base, at: t, windowMs: w)
            st.n = computeNext(st, entries, base: base, slot: slot, after: t)
            return true
        case .raw:
            if let w = slot.key.windowMs { st.raw.removeAll { expired($0.atMs, at: t, windowMs: w) } }
            if let sequence = slot.key.sequence, let kept = sequence.retained(st.raw, nowMs: t) { st.raw = kept }
            st.n = computeNext(st, entries, base: base, slot: slot, after: t)
            return true
        }
    }

    /// The value of an aggregate with no events: 0 for count and sum, missing otherwise.
    static func emptyValue(_ kind: AggregateKind) -> AttributeValue? {
        switch kind {
        case .count, .sum: return .number(0)
        case .avg, .min, .max, .first, .last: return nil
        case .sequence: return .bool(false)
        }
    }

    /// The aggregate's value at `t` (the state must be current at `t`).
    static func value(
        _ st: borrowing KeyState,
        _ entries: [Entry],
        base: Int,
        slot: KeySlot,
        at t: Int64
    ) -> AttributeValue? {
        let kind = slot.key.kind
        switch slot.mode {
        case .raw:
            // A `then` without `in last` whose filters read no clock is cut down to one chain as soon as a chain
            // holds (every change that can complete one runs `SequenceKey.retained`: a last step arriving, a late
            // event, a future one settling when its user wakes) and takes no event after that, so more events than
            // steps means none holds.
            if let sequence = slot.key.sequence, sequence.holdsForGood, st.raw.count > sequence.steps.count {
                return .bool(false)
            }
            return slot.key.value(of: st.raw, nowMs: t)
        case .totals:
            switch kind {
            case .count: return .number(Double(st.n))
            case .sum: return .number(st.x)
            case .avg: return st.n == 0 ? nil : .number(st.x / Double(st.n))
            case .min, .max: return st.n == 0 ? nil : .number(st.x)
            case .first, .last: return st.x == 0 ? nil : .timestamp(st.n)
            case .sequence: return .bool(false)  // raw mode only
            }
        case .window:
            if kind == .count { return .number(Double(count(st, entries, base: base, slot: slot, at: t))) }
            var count = 0
            var sum = 0.0
            var numeric = 0
            var minimum = Double.infinity
            var maximum = -Double.infinity
            // Entries that have left the window but were not dropped yet (no wake-up was needed) are skipped.
            let span = st.span(base: base)
            let start = slot.key.windowMs.map { expiredPrefix(entries, span, at: t, windowMs: $0) } ?? 0
            for e in entries[(span.lowerBound + start)..<span.upperBound] {
                if e.at > t { break }
                count += 1
                if !e.v.isNaN {
                    numeric += 1
                    sum += e.v
                    minimum = Swift.min(minimum, e.v)
                    maximum = Swift.max(maximum, e.v)
                }
            }
            switch kind {
            case .count: return .number(Double(count))
            case .sum: return .number(sum)
            case .avg: return numeric == 0 ? nil : .number(sum / Double(numeric))
            case .min: return numeric == 0 ? nil : .number(minimum)
            case .max: return numeric == 0 ? nil : .number(maximum)
            case .first, .last: return nil  // no window on first/last
            case .sequence: return .bool(false)  // raw mode only
            }
        }
    }

    /// The next instant after `t` at which the value can change by time alone, or `Int64.max`. `t` must not be
    /// before the state's last change (window and raw states keep the answer computed then, in `n`).
    @inline(__always)
    static func nextChange(
        _ st: borrowing KeyState,
        _ entries: [Entry],
        base: Int,
        slot: KeySlot,
        after t: Int64
    ) -> Int64 {
        switch slot.mode {
        case .totals: return computeNext(st, entries, base: base, slot: slot, after: t)
        case .window, .raw: return st.n
        }
    }

    /// The next change of a window or raw state after `t`, computed from its events.
    static func computeNext(
        _ st: borrowing KeyState,
        _ entries: [Entry],
        base: Int,
        slot: KeySlot,
        after t: Int64
    ) -> Int64 {
        switch slot.mode {
        case .totals:
            return st.entryCount > 0 ? entries[base].at : .max
        case .window:
            guard let w = slot.key.windowMs else { return .max }
            let span = st.span(base: base)
            let lo = span.lowerBound + expiredPrefix(entries, span, at: t, windowMs: w)
            let k = firstAfter(entries, span, t)
            let arrival = k < span.upperBound ? entries[k].at : Int64.max
            // The settled entries inside the window are `lo..<k`; each leaves at `at + w`, oldest first.
            guard lo < k else { return arrival }
            func leave(_ i: Int) -> Int64 {
                let (x, overflow) = entries[i].at.addingReportingOverflow(w)
                return overflow ? .max : x
            }
            guard let thresholds = slot.thresholds else { return min(leave(lo), arrival) }
            // The count `c` only falls until the next arrival. Comparisons with the numbers in `thresholds` all
            // keep their value while the count stays in `b+1...c`, where `b` is the largest count below `c` with
            // a threshold in `b...c` (a threshold equal to `c` changes `=` at `c - 1`); the count reaches `b`
            // when entry `lo + c - b - 1` leaves.
            let c = k - lo
            var top = -1.0
            for x in thresholds where x >= 0 && x <= Double(c) { top = Swift.max(top, x) }
            guard top >= 0 else { return arrival }
            let b = Swift.min(c - 1, Int(top.rounded(.down)))
            return min(leave(lo + c - b - 1), arrival)
        case .raw:
            if st.raw.isEmpty { return .max }
            // A sequence keeps its events in time order: its next change needs no pass over all of them.
            if let sequence = slot.key.sequence, !sequence.filtersReadTime {
                return sequence.nextChange(ofSorted: st.raw, after: t) ?? .max
            }
            return slot.key.nextChange(after: t, events: st.raw) ?? .max
        }
    }

    /// Events that give a `first`/`last` aggregate its current value, for the plan's next-change computation.
    static func witnessEvents(_ st: KeyState, slot: KeySlot) -> [EventRecord] {
        switch slot.mode {
        case .raw: return st.raw
        case .window: return []
        case .totals:
            guard st.x != 0 else { return [] }
            return [EventRecord(name: slot.key.event, atMs: st.n, properties: st.witness)]
        }
    }
}
