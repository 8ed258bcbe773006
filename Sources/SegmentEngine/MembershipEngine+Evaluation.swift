import SegmentLanguage

// Re-evaluation of one user: the segments flagged in `flaggedRanks`, in dependency order, with cascades to
// `in_segment` dependents; then the user's next due instant.

extension MembershipEngine {
    // MARK: - Flags

    func flagAllActive() {
        for w in activeRanks.indices { flaggedRanks[w] |= activeRanks[w] }
    }

    /// Flags what a user just created must be evaluated for (``newUserRanks``), before the data that created it is
    /// applied; applying the data flags the segments reading it.
    func flagNewUser() {
        if evaluatesNewUsersInFull { return flagAllActive() }
        let ranks = newUserRanks ?? segmentsToEvaluateForNewUsers()
        newUserRanks = ranks
        for w in ranks.indices { flaggedRanks[w] |= ranks[w] }
    }

    /// The active segments a new user must be evaluated for besides those reading its data, as bits by rank: those
    /// that may be true for a user without data, at ``nowMs`` or later.
    ///
    /// Every other active segment is false for the new user and needs no evaluation:
    /// - its inputs without data are no attribute, the empty value of each aggregate, no list and no membership;
    /// - from these it was found false at ``nowMs`` and, when it reads `now`/`D ago`, without a next change after it
    ///   (and without filters reading time), so it stays false at every later instant (the engine's clock only moves
    ///   forward); without `now`/`D ago` those inputs do not move with time at all;
    /// - the new user's data changes only inputs whose segments that data flags;
    /// - a membership it reads is none unless the segment read is evaluated true, which flags its dependents (see
    ///   ``evaluateFlagged``);
    /// - its comparisons have no next change to add to the user's due instant.
    ///
    /// Kept until the segments or lists change (``resolveMemberTargets()``).
    func segmentsToEvaluateForNewUsers() -> [UInt64] {
        var needed = [UInt64](repeating: 0, count: activeRanks.count)
        let empty = UserRecord(id: "")
        for (rank, s) in order.enumerated() {
            guard activeRanks.hasBit(rank), let seg = segs[Int(s)] else { continue }
            let mayBeTrue =
                evaluate(empty, seg, at: nowMs)
                || seg.timeSensitive
                    && (seg.plan.filtersReadTime || comparisonsDue(empty, seg, valuesAt: nowMs, after: nowMs) != .max)
            if mayBeTrue { needed.setBit(rank) }
        }
        return needed
    }

    func flag(_ segments: [Int32]) {
        for s in segments { flag(s) }
    }

    @inline(__always)
    func flag(_ s: Int32) {
        let rank = Int(rankOfSlot[Int(s)])
        if rank >= 0 { flaggedRanks.setBit(rank) }
    }

    /// Takes the flagged segment of lowest rank at or after `rank` out of the flags: its slot and rank.
    @inline(__always)
    func nextFlagged(from rank: Int) -> (slot: Int32, rank: Int)? {
        var w = rank >> 6
        var bits = w < flaggedRanks.count ? flaggedRanks[w] & ~0 << UInt64(rank & 63) : 0
        while bits == 0 {
            w += 1
            guard w < flaggedRanks.count else { return nil }
            bits = flaggedRanks[w]
        }
        let found = w << 6 | bits.trailingZeroBitCount
        flaggedRanks[w] &= ~(1 << UInt64(found & 63))
        return (order[found], found)
    }

    func flagDependents(of name: String) {
        if let ds = dependents[name] { flag(ds) }
    }

    // MARK: - Evaluation

    /// Whether the user is in segment or list `name` (for `in_segment`).
    func isMember(_ u: Int32, _ name: String) -> Bool { isMember(users[Int(u)], memberTarget(name)) }

    /// What `in_segment(name)` refers to now: the segment of that name, else the list, else nothing.
    func memberTarget(_ name: String) -> MemberTarget {
        if let s = segIndex[name] { return .segment(s) }
        if let l = listIndex[name] { return .list(l) }
        return .none
    }

    /// Whether the user is in the segment or list `target` refers to (for `in_segment`, resolved).
    @inline(__always)
    func isMember(_ user: UserRecord, _ target: MemberTarget) -> Bool {
        switch target {
        case .segment(let s): return user.memberPosition(s).found
        case .list(let l): return user.listPosition(l).found
        case .none: return false
        }
    }

    /// The retained attributes a segment reads, as the plan wants them.
    func attributeDictionary(_ u: Int32, _ seg: SegmentSlot) -> [String: AttributeValue] {
        var attrs: [String: AttributeValue] = [:]
        if seg.attrs.isEmpty { return attrs }
        let user = users[Int(u)]
        for (i, a) in seg.attrs.enumerated() {
            if let v = user.attribute(a) { attrs[seg.plan.attributes[i]] = v }
        }
        return attrs
    }

    func state(_ u: Int32, _ k: Int32) -> KeyState? {
        let p = users[Int(u)].aggPosition(k)
        return p.found ? users[Int(u)].aggs[p.index] : nil
    }

    /// The value of aggregate `k` for user `u` at `t`, read in place.
    func aggregateValue(_ user: UserRecord, _ k: Int32, _ slot: KeySlot, at t: Int64) -> AttributeValue? {
        let p = user.aggPosition(k)
        guard p.found else { return AggregateLogic.emptyValue(slot.key.kind) }
        return AggregateLogic.value(user.aggs[p.index], user.entries, base: user.entryBase(p.index), slot: slot, at: t)
    }

    /// The value of segment `seg` for `user` at `t` (all state current at `t`).
    /// Only the inputs the expression reaches are computed (see ``UserPlanInputs``).
    func evaluate(_ user: UserRecord, _ seg: SegmentSlot, at t: Int64) -> Bool {
        statistics.segmentEvaluations += 1
        // The scratch array is moved in and out, so that filling it in place does not copy it.
        let values = scratchValues
        scratchValues = []
        var inputs = UserPlanInputs(
            engine: self,
            user: user,
            resolved: resolvedInputs(seg),
            at: t,
            values: consume values
        )
        let result = seg.plan.evaluate(&inputs, nowMs: t)
        scratchValues = inputs.values
        return result
    }

    /// The segment's attributes, aggregates and `in_segment` targets resolved to slots, made when first asked for
    /// (the segment's aggregates are all in `keySlots` by then: acquired before the segment is made, or restored
    /// after it).
    @inline(__always)
    func resolvedInputs(_ seg: SegmentSlot) -> ResolvedInputs {
        if let resolved = seg.resolved { return resolved }
        let resolved = ResolvedInputs(
            attrs: seg.attrs,
            keys: seg.keys.map { k in
                ResolvedInputs.Key(k: k, slot: keySlots[Int(k)].map { Unmanaged.passUnretained($0) })
            },
            members: seg.memberTargets
        )
        seg.resolved = resolved
        return resolved
    }

    /// Runs `body` with the attribute values and the `first`/`last` values (at `t`) that `seg` reads, gathered into
    /// the engine's scratch arrays by plan index; its other aggregates are `nil` (what the plan's next-change
    /// computation reads). The arrays may be longer than the plan's lists: the elements after them are left from
    /// earlier calls (the plan reads none of them), which spares clearing the arrays at every call.
    @inline(__always)
    func withTimeInputs<Result>(
        _ user: UserRecord,
        _ seg: SegmentSlot,
        at t: Int64,
        _ body: ([AttributeValue?], [AttributeValue?]) -> Result
    ) -> Result {
        // Reuse the scratch arrays' storage: take them out of `self` so that writing does not copy.
        var attrs = scratchAttributes
        scratchAttributes = []
        attrs.extend(to: seg.attrs.count)
        for (i, a) in seg.attrs.enumerated() { attrs[i] = user.attribute(a) }
        var values = scratchValues
        scratchValues = []
        values.extend(to: seg.keys.count)
        for (i, k) in seg.keys.enumerated() {
            guard let slot = keySlots[Int(k)], slot.isFirstOrLast else {
                values[i] = nil
                continue
            }
            values[i] = aggregateValue(user, k, slot, at: t)
        }
        let result = body(attrs, values)
        scratchValues = values
        scratchAttributes = attrs
        return result
    }

    /// Evaluates the flagged segments for user `u` at `t` in dependency order, appends transitions, clears the flags,
    /// then recomputes the user's due instant (the comparison part too when `exprDirty` or a time-sensitive segment
    /// was evaluated).
    /// `exprDirty` asks for the comparison part of the due instant to be recomputed over every time-sensitive
    /// segment; otherwise only the time-sensitive segments evaluated here add their next change to it (a stale,
    /// earlier candidate only causes a wake-up that changes nothing, after which everything is recomputed).
    ///
    /// With `comparisonsRest` (from ``flagDueComparisons(_:at:)``, when `exprDirty`), only the segments it listed
    /// have their comparisons' next change computed again.
    ///
    /// The due instant is `aggregateDue` (the aggregates' part, computed by the caller) and the comparisons' part when
    /// given; else recomputed from every aggregate when `fullDue`; else lowered by the next changes of the
    /// aggregates in `touchedKeys` (which it clears) and of the comparisons.
    func evaluateFlagged(
        _ u: Int32,
        at t: Int64,
        exprDirty: Bool,
        fullDue: Bool = false,
        aggregateDue: Int64? = nil,
        comparisonsRest: Int64? = nil,
        into out: inout [MembershipTransition]
    ) {
        let user = users[Int(u)]
        let before = (out.count, user.due, user.exprDue)
        // The engine's scratch array, taken out while in use (a local one was an allocation per call: 2 % of
        // engine-bench's import).
        var sensitive = scratchSensitive
        scratchSensitive = []
        sensitive.removeAll(keepingCapacity: true)
        // In rank order: a segment flags only dependents, which come after it.
        var from = 0
        while let (s, rank) = nextFlagged(from: from) {
            from = rank + 1
            guard let seg = segs[Int(s)], seg.active else { continue }
            if seg.timeSensitive, !exprDirty { sensitive.append(s) }
            guard setMembership(user, s, seg, evaluate(user, seg, at: t), at: t, into: &out) else { continue }
            flag(seg.dependents)
        }
        if exprDirty, let comparisonsRest {
            // `flagDueComparisons` computed the others' next change already.
            user.exprDue = min(comparisonsRest, expressionDue(u, after: t, segments: dueSensitive))
            dueSensitive.removeAll(keepingCapacity: true)
        } else if exprDirty || user.exprDue <= t {
            user.exprDue = expressionDue(u, after: t, segments: timeSensitive)
        } else if !sensitive.isEmpty {
            user.exprDue = min(user.exprDue, expressionDue(u, after: t, segments: sensitive))
        }
        scratchSensitive = sensitive
        if let aggregateDue {
            setDue(u, min(aggregateDue, user.exprDue))
        } else if fullDue || user.due <= t {
            updateDue(u, after: t)
        } else {
            var due = min(user.due, user.exprDue)
            for k in touchedKeys {
                let p = user.aggPosition(k)
                guard p.found, let slot = keySlots[Int(k)] else { continue }
                due = min(
                    due,
                    AggregateLogic.nextChange(
                        user.aggs[p.index],
                        user.entries,
                        base: user.entryBase(p.index),
                        slot: slot,
                        after: t
                    )
                )
            }
            setDue(u, due)
        }
        touchedKeys.removeAll(keepingCapacity: true)
        if before != (out.count, user.due, user.exprDue) {
            markDirty(u)
        }
    }

    /// Makes `user` a member of segment `s` (`seg`) at `t` or not, with the enter or exit transition.
    ///
    /// - Returns: Whether the membership changed.
    func setMembership(
        _ user: UserRecord,
        _ s: Int32,
        _ seg: SegmentSlot,
        _ member: Bool,
        at t: Int64,
        into out: inout [MembershipTransition]
    ) -> Bool {
        let p = user.memberPosition(s)
        guard member != p.found else { return false }
        if member {
            user.members.compactInsert(MemberEntry(segment: s, sinceMs: t), at: p.index)
            seg.memberCount += 1
            out.append(MembershipTransition(segment: seg.name, userID: user.id, kind: .enter, atMs: t))
        } else {
            user.members.remove(at: p.index)
            seg.memberCount -= 1
            out.append(MembershipTransition(segment: seg.name, userID: user.id, kind: .exit, atMs: t))
        }
        return true
    }

    /// The next change after `after` of the comparisons with a time operand of `seg` (whose filters do not read
    /// time), from the user's current values: attributes and `first`/`last` values at `t`. `Int64.max`: never.
    func comparisonsDue(_ user: UserRecord, _ seg: SegmentSlot, valuesAt t: Int64, after: Int64) -> Int64 {
        statistics.nextChangeQueries += 1
        return withTimeInputs(user, seg, at: t) { attrs, values in
            seg.plan.nextChange(after: after, attributeValues: attrs, aggregateValues: values) ?? .max
        }
    }

    /// Flags the time-sensitive segments whose comparisons with a time operand can change exactly at `t`, the
    /// user's comparison due instant (`exprDue`), and those whose filters read time (not analysed); lists them in
    /// `dueSensitive`.
    ///
    /// The others keep their value at `t`: every input they read has not changed since they were last evaluated
    /// (a change would have re-evaluated them), `exprDue` was at most their next change point after that
    /// evaluation, and they have none at `t` either (`comparisonsDue(after: t - 1) > t`). Aggregates due at `t`
    /// flag their own segments (and have been moved to `t` already).
    ///
    /// - Returns: The earliest next change after `t` of the segments not listed: evaluating at `t` changes none
    ///   of their inputs, so only the listed ones need their next change computed again afterwards.
    func flagDueComparisons(_ u: Int32, at t: Int64) -> Int64 {
        let user = users[Int(u)]
        var rest = Int64.max
        dueSensitive.removeAll(keepingCapacity: true)
        for s in timeSensitive {
            guard let seg = segs[Int(s)], seg.active else { continue }
            if seg.plan.filtersReadTime {
                flag(s)
                dueSensitive.append(s)
                continue
            }
            let next = comparisonsDue(user, seg, valuesAt: t, after: t &- 1)
            if next <= t {
                flag(s)
                dueSensitive.append(s)
            } else {
                rest = min(rest, next)
            }
        }
        return rest
    }

    /// The earliest instant after `t` at which a comparison with `now`/`D ago` of an active segment can change for
    /// user `u`: the plans' own next-change over the retained attributes and, for each `first`/`last` aggregate, the
    /// event(s) giving its current value.
    func expressionDue(_ u: Int32, after t: Int64, segments: [Int32]) -> Int64 {
        var best = Int64.max
        let user = users[Int(u)]
        for s in segments {
            guard let seg = segs[Int(s)], seg.active else { continue }
            if !seg.plan.filtersReadTime {
                best = min(best, comparisonsDue(user, seg, valuesAt: t, after: t))
                continue
            }
            let attrs = attributeDictionary(u, seg)
            var asked = false
            for k in seg.keys {
                guard let slot = keySlots[Int(k)], slot.isFirstOrLast, let st = state(u, k) else { continue }
                let witnesses = AggregateLogic.witnessEvents(st, slot: slot)
                if witnesses.isEmpty { continue }
                asked = true
                statistics.nextChangeQueries += 1
                if let c = seg.plan.nextChange(after: t, attributes: attrs, events: witnesses) { best = min(best, c) }
            }
            if !asked { statistics.nextChangeQueries += 1 }
            if !asked, let c = seg.plan.nextChange(after: t, attributes: attrs, events: []) { best = min(best, c) }
        }
        return best
    }

    /// Recomputes `due` from `exprDue` and the aggregate states, and repositions the user in the scheduler.
    func updateDue(_ u: Int32, after t: Int64) {
        let user = users[Int(u)]
        var due = user.exprDue
        var base = 0
        for st in user.aggs {
            defer { base += Int(st.entryCount) }
            guard let slot = keySlots[Int(st.key)] else { continue }
            due = min(due, AggregateLogic.nextChange(st, user.entries, base: base, slot: slot, after: t))
        }
        setDue(u, due)
    }

    /// Sets the user's due instant and repositions it in the scheduler (only the former while scheduling is
    /// deferred, see `advanceInBulk`).
    func setDue(_ u: Int32, _ due: Int64) {
        let user = users[Int(u)]
        if deferScheduling {
            user.due = due
        } else if due != user.due || (due != .max) != (heapPos[Int(u)] >= 0) {
            user.due = due
            heapReposition(u)
        }
    }

    /// Re-evaluates a user whose due instant `t` has come: moves the aggregates with something due at `t`,
    /// then evaluates the segments they feed (and the time-sensitive ones when their comparisons are due).
    func processDue(_ u: Int32, at t: Int64, into out: inout [MembershipTransition]) {
        statistics.dueWakeups += 1
        // Work on the arrays moved out of the record, so that they are mutated in place.
        let user = users[Int(u)]
        var aggs = user.aggs
        var entries = user.entries
        user.aggs = []
        user.entries = []
        var aggregateDue = Int64.max
        var i = 0
        var base = 0
        while i < aggs.count {
            guard let slot = keySlots[Int(aggs[i].key)] else {
                base += Int(aggs[i].entryCount)
                i += 1
                continue
            }
            var next = AggregateLogic.nextChange(aggs[i], entries, base: base, slot: slot, after: t &- 1)
            if next <= t {
                _ = AggregateLogic.advance(&aggs[i], &entries, base: base, slot: slot, to: t)
                flag(slot.segments)
                if aggs[i].isEmpty {
                    aggs.remove(at: i)
                    continue
                }
                next = AggregateLogic.nextChange(aggs[i], entries, base: base, slot: slot, after: t)
            } else if slot.mode == .window, let w = slot.key.windowMs {
                // Not due, but drop what has left the window meanwhile (the cached next instant stays right: it
                // depends only on the entries still inside).
                AggregateLogic.dropExpired(&aggs[i], &entries, base: base, at: t, windowMs: w)
                if aggs[i].entryCount == 0 {
                    aggs.remove(at: i)
                    continue
                }
            }
            aggregateDue = min(aggregateDue, next)
            base += Int(aggs[i].entryCount)
            i += 1
        }
        user.aggs = aggs
        user.entries = entries
        let exprDirty = user.exprDue <= t
        let comparisonsRest = exprDirty ? flagDueComparisons(u, at: t) : nil
        evaluateFlagged(
            u,
            at: t,
            exprDirty: exprDirty,
            aggregateDue: aggregateDue,
            comparisonsRest: comparisonsRest,
            into: &out
        )
        markDirty(u)
    }

    // MARK: - Scheduler

    @inline(__always)
    func heapLess(_ a: HeapEntry, _ b: HeapEntry) -> Bool {
        a.due < b.due
    }

    /// Puts the user where its `due` belongs: out of the heap when `Int64.max`, else inserted or moved.
    func heapReposition(_ u: Int32) {
        let user = users[Int(u)]
        let pos = Int(heapPos[Int(u)])
        if user.due == .max {
            if pos >= 0 { heapRemove(at: pos) }
            return
        }
        if pos < 0 {
            heap.append(HeapEntry(due: user.due, user: u))
            heapPos[Int(u)] = Int32(heap.count - 1)
            siftUp(heap.count - 1)
        } else {
            let old = heap[pos].due
            heap[pos].due = user.due
            if user.due < old { siftUp(pos) } else { siftDown(pos) }
        }
    }

    /// Rebuilds the scheduler after a bulk move to `nowMs`, during which only the woken users' `due` changed: their
    /// entries (the ones due by `nowMs`) take their new instant or leave, then the heap is ordered again in one
    /// bottom-up pass (linear in its size).
    func rebuildScheduler(after nowMs: Int64) {
        var kept = 0
        for i in heap.indices {
            var entry = heap[i]
            if entry.due <= nowMs { entry.due = users[Int(entry.user)].due }
            if entry.due == .max {
                heapPos[Int(entry.user)] = -1
                continue
            }
            heap[kept] = entry
            heapPos[Int(entry.user)] = Int32(kept)
            kept += 1
        }
        heap.removeLast(heap.count - kept)
        guard heap.count > 1 else { return }
        for i in stride(from: (heap.count - 2) / 4, through: 0, by: -1) { siftDown(i) }
    }

    func heapRemove(at pos: Int) {
        heapPos[Int(heap[pos].user)] = -1
        let last = heap.removeLast()
        guard pos < heap.count else { return }
        heap[pos] = last
        heapPos[Int(last.user)] = Int32(pos)
        siftUp(pos)
        siftDown(Int(heapPos[Int(last.user)]))
    }

    private func siftUp(_ start: Int) {
        var i = start
        let e = heap[i]
        while i > 0 {
            let parent = (i - 1) / 4
            guard heapLess(e, heap[parent]) else { break }
            heap[i] = heap[parent]
            heapPos[Int(heap[i].user)] = Int32(i)
            i = parent
        }
        heap[i] = e
        heapPos[Int(e.user)] = Int32(i)
    }

    private func siftDown(_ start: Int) {
        var i = start
        let e = heap[i]
        let n = heap.count
        while true {
            let first = 4 * i + 1
            guard first < n else { break }
            var c = first
            var j = first + 1
            let end = min(first + 4, n)
            while j < end {
                if heapLess(heap[j], heap[c]) { c = j }
                j += 1
            }
            guard heapLess(heap[c], e) else { break }
            heap[i] = heap[c]
            heapPos[Int(heap[i].user)] = Int32(i)
            i = c
        }
        heap[i] = e
        heapPos[Int(e.user)] = Int32(i)
    }
}

/// One user's inputs to one segment's plan, computed when the plan asks for them: an aggregate the expression does
/// not reach (`and`/`or` decided before it) costs nothing, and one read twice is computed once (the first 64).
struct UserPlanInputs: PlanInputSource {
    unowned(unsafe) let engine: MembershipEngine
    unowned(unsafe) let user: UserRecord
    /// The segment's inputs resolved to slots (see ``ResolvedInputs``).
    let resolved: ResolvedInputs
    let t: Int64
    /// Computed aggregate values by plan index, meaningful only where `known` has the bit: the storage is reused from
    /// evaluation to evaluation without being cleared (clearing it, element by element, was 10.5 % of engine-bench's
    /// import).
    var values: [AttributeValue?]
    var known: UInt64 = 0

    /// - Parameter values: storage to reuse for the computed values (its contents are ignored).
    init(
        engine: MembershipEngine,
        user: UserRecord,
        resolved: ResolvedInputs,
        at t: Int64,
        values: consuming [AttributeValue?]
    ) {
        self.engine = engine
        self.user = user
        self.resolved = resolved
        self.t = t
        values.extend(to: min(resolved.keys.count, 64))
        self.values = values
    }

    func attribute(_ index: Int) -> AttributeValue? {
        guard index >= 0, index < resolved.attrs.count else { return nil }
        return user.attribute(resolved.attrs[index])
    }

    mutating func aggregate(_ index: Int) -> AttributeValue? {
        guard index >= 0, index < resolved.keys.count else { return nil }
        let bit: UInt64 = index < 64 ? 1 << UInt64(index) : 0
        if known & bit != 0 { return values[index] }
        let key = resolved.keys[index]
        guard let slot = key.slot else { return nil }
        let value = slot._withUnsafeGuaranteedRef { engine.aggregateValue(user, key.k, $0, at: t) }
        if bit != 0 {
            values[index] = value
            known |= bit
        }
        return value
    }

    func isMember(_ index: Int) -> Bool {
        guard index >= 0, index < resolved.members.count else { return false }
        return engine.isMember(user, resolved.members[index])
    }
}

/// A segment's attribute and aggregate slots and its `in_segment` targets, in buffers of their own: evaluations read
/// them without reference counting.
///
/// Reading `seg.attrs`, `seg.keys` and `engine.keySlots` at each input retains and releases those arrays and the
/// aggregates' `KeySlot` objects (five reference counts per aggregate read; two remain, for the user's arrays), and
/// threads evaluating on several cores would make those counts bounce between them. The slots are held unretained:
/// the segment holds a reference to each of its aggregates, so none goes away while the segment exists. Owned by the
/// segment (``SegmentSlot/resolved``), which frees them.
struct ResolvedInputs {
    struct Key {
        let k: Int32
        let slot: Unmanaged<KeySlot>?
    }

    let attrs: UnsafeBufferPointer<Int32>
    let keys: UnsafeBufferPointer<Key>
    let members: UnsafeBufferPointer<MemberTarget>

    /// Copies the three lists into buffers to be freed with ``deallocate()``.
    init(attrs: [Int32], keys: [Key], members: [MemberTarget]) {
        self.attrs = Self.copy(attrs)
        self.keys = Self.copy(keys)
        self.members = Self.copy(members)
    }

    private static func copy<Element>(_ elements: [Element]) -> UnsafeBufferPointer<Element> {
        let buffer = UnsafeMutableBufferPointer<Element>.allocate(capacity: elements.count)
        _ = buffer.initialize(from: elements)
        return UnsafeBufferPointer(buffer)
    }

    /// Frees the buffers (their elements are trivial: nothing to deinitialize).
    func deallocate() {
        attrs.deallocate()
        keys.deallocate()
        members.deallocate()
    }
}
