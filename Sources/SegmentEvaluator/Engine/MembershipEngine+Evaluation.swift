import SegmentLanguage

// Re-evaluation of one user: the segments flagged in `flags`, in dependency order, with cascades to `in_segment`
// dependents; then the user's next due instant.

extension MembershipEngine {
    // MARK: - Flags

    func flagAllActive() {
        for s in order where segs[Int(s)]?.active == true { flags[Int(s)] = true }
    }

    func flag(_ segments: [Int32]) {
        for s in segments { flags[Int(s)] = true }
    }

    func flagDependents(of name: String) {
        if let ds = dependents[name] { flag(ds) }
    }

    // MARK: - Evaluation

    /// Whether the user is in segment or list `name` (for `in_segment`).
    func isMember(_ u: Int32, _ name: String) -> Bool {
        if let s = segIndex[name] { return users[Int(u)].memberPosition(s).found }
        if let l = listIndex[name] { return users[Int(u)].listPosition(l).found }
        return false
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

    /// The value of segment `seg` for user `u` at `t` (all state current at `t`).
    func evaluate(_ u: Int32, _ seg: SegmentSlot, at t: Int64) -> Bool {
        statistics.segmentEvaluations += 1
        let attrs = attributeDictionary(u, seg)
        var values = scratchValues
        scratchValues = []
        values.removeAll(keepingCapacity: true)
        for k in seg.keys {
            guard let slot = keySlots[Int(k)] else {
                values.append(nil)
                continue
            }
            values.append(AggregateLogic.value(state(u, k), slot: slot, at: t))
        }
        let result = seg.plan.evaluate(attributes: attrs, aggregateValues: values, nowMs: t) { self.isMember(u, $0) }
        scratchValues = values
        return result
    }

    /// Evaluates the flagged segments for user `u` at `t` in dependency order, appends transitions, clears the flags,
    /// then recomputes the user's due instant (the comparison part too when `exprDirty` or a time-sensitive segment
    /// was evaluated).
    /// `exprDirty` asks for the comparison part of the due instant to be recomputed over every time-sensitive
    /// segment; otherwise only the time-sensitive segments evaluated here add their next change to it (a stale,
    /// earlier candidate only causes a wake-up that changes nothing, after which everything is recomputed).
    ///
    /// The due instant is recomputed from every aggregate when `fullDue`, else lowered by the next changes of the
    /// aggregates in `touchedKeys` (which it clears) and of the comparisons.
    func evaluateFlagged(
        _ u: Int32,
        at t: Int64,
        exprDirty: Bool,
        fullDue: Bool = false,
        into out: inout [MembershipTransition]
    ) {
        let before = (out.count, users[Int(u)].due, users[Int(u)].exprDue)
        var sensitive: [Int32] = []
        for s in order where flags[Int(s)] {
            flags[Int(s)] = false
            guard let seg = segs[Int(s)], seg.active else { continue }
            if seg.timeSensitive, !exprDirty { sensitive.append(s) }
            let result = evaluate(u, seg, at: t)
            let p = users[Int(u)].memberPosition(s)
            guard result != p.found else { continue }
            if result {
                users[Int(u)].members.insert(MemberEntry(segment: s, sinceMs: t), at: p.index)
                segs[Int(s)]!.memberCount += 1
                out.append(MembershipTransition(segment: seg.name, userID: users[Int(u)].id, kind: .enter, atMs: t))
            } else {
                users[Int(u)].members.remove(at: p.index)
                segs[Int(s)]!.memberCount -= 1
                out.append(MembershipTransition(segment: seg.name, userID: users[Int(u)].id, kind: .exit, atMs: t))
            }
            flagDependents(of: seg.name)
        }
        if exprDirty || users[Int(u)].exprDue <= t {
            users[Int(u)].exprDue = expressionDue(u, after: t, segments: timeSensitive)
        } else if !sensitive.isEmpty {
            users[Int(u)].exprDue = min(users[Int(u)].exprDue, expressionDue(u, after: t, segments: sensitive))
        }
        if fullDue || users[Int(u)].due <= t {
            updateDue(u, after: t)
        } else {
            var due = min(users[Int(u)].due, users[Int(u)].exprDue)
            for k in touchedKeys {
                let p = users[Int(u)].aggPosition(k)
                guard p.found, let slot = keySlots[Int(k)] else { continue }
                due = min(due, AggregateLogic.nextChange(users[Int(u)].aggs[p.index], slot: slot, after: t))
            }
            if due != users[Int(u)].due {
                users[Int(u)].due = due
                heapReposition(u)
            }
        }
        touchedKeys.removeAll(keepingCapacity: true)
        if before != (out.count, users[Int(u)].due, users[Int(u)].exprDue) {
            dirtyUsers.insert(ByteKey(users[Int(u)].id))
        }
    }

    /// The earliest instant after `t` at which a comparison with `now`/`D ago` of an active segment can change for
    /// user `u`: the plans' own next-change over the retained attributes and, for each `first`/`last` aggregate, the
    /// event(s) giving its current value.
    func expressionDue(_ u: Int32, after t: Int64, segments: [Int32]) -> Int64 {
        var best = Int64.max
        for s in segments {
            guard let seg = segs[Int(s)], seg.active else { continue }
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
        var due = users[Int(u)].exprDue
        for i in users[Int(u)].aggs.indices {
            guard let slot = keySlots[Int(users[Int(u)].aggs[i].key)] else { continue }
            due = min(due, AggregateLogic.nextChange(users[Int(u)].aggs[i], slot: slot, after: t))
        }
        if due != users[Int(u)].due || (due != .max) != (users[Int(u)].heapPos >= 0) {
            users[Int(u)].due = due
            heapReposition(u)
        }
    }

    /// Re-evaluates a user whose due instant `t` has come: moves the aggregates with something due at `t`,
    /// then evaluates the segments they feed (and the time-sensitive ones when their comparisons are due).
    func processDue(_ u: Int32, at t: Int64, into out: inout [MembershipTransition]) {
        statistics.dueWakeups += 1
        // Work on the array moved out of the record, so that it is mutated in place.
        var aggs = users[Int(u)].aggs
        users[Int(u)].aggs = []
        var i = 0
        while i < aggs.count {
            guard let slot = keySlots[Int(aggs[i].key)] else {
                i += 1
                continue
            }
            if AggregateLogic.nextChange(aggs[i], slot: slot, after: t &- 1) <= t {
                _ = AggregateLogic.advance(&aggs[i], slot: slot, to: t)
                flag(slot.segments)
                if aggs[i].isEmpty {
                    aggs.remove(at: i)
                    continue
                }
            }
            i += 1
        }
        users[Int(u)].aggs = aggs
        let exprDirty = users[Int(u)].exprDue <= t
        if exprDirty { flag(timeSensitive) }
        evaluateFlagged(u, at: t, exprDirty: exprDirty, fullDue: true, into: &out)
        dirtyUsers.insert(ByteKey(users[Int(u)].id))
    }

    // MARK: - Scheduler

    @inline(__always)
    func heapLess(_ a: HeapEntry, _ b: HeapEntry) -> Bool {
        if a.due != b.due { return a.due < b.due }
        return utf8Less(users[Int(a.user)].id, users[Int(b.user)].id)
    }

    /// Puts the user where its `due` belongs: out of the heap when `Int64.max`, else inserted or moved.
    func heapReposition(_ u: Int32) {
        let user = users[Int(u)]
        let pos = Int(user.heapPos)
        if user.due == .max {
            if pos >= 0 { heapRemove(at: pos) }
            return
        }
        if pos < 0 {
            heap.append(HeapEntry(due: user.due, user: u))
            user.heapPos = Int32(heap.count - 1)
            siftUp(heap.count - 1)
        } else {
            let old = heap[pos].due
            heap[pos].due = user.due
            if user.due < old { siftUp(pos) } else { siftDown(pos) }
        }
    }

    func heapRemove(at pos: Int) {
        users[Int(heap[pos].user)].heapPos = -1
        let last = heap.removeLast()
        guard pos < heap.count else { return }
        heap[pos] = last
        users[Int(last.user)].heapPos = Int32(pos)
        siftUp(pos)
        siftDown(Int(users[Int(last.user)].heapPos))
    }

    private func siftUp(_ start: Int) {
        var i = start
        let e = heap[i]
        while i > 0 {
            let parent = (i - 1) / 2
            guard heapLess(e, heap[parent]) else { break }
            heap[i] = heap[parent]
            users[Int(heap[i].user)].heapPos = Int32(i)
            i = parent
        }
        heap[i] = e
        users[Int(e.user)].heapPos = Int32(i)
    }

    private func siftDown(_ start: Int) {
        var i = start
        let e = heap[i]
        let n = heap.count
        while true {
            let l = 2 * i + 1
            guard l < n else { break }
            var c = l
            if l + 1 < n, heapLess(heap[l + 1], heap[l]) { c = l + 1 }
            guard heapLess(heap[c], e) else { break }
            heap[i] = heap[c]
            users[Int(heap[i].user)].heapPos = Int32(i)
            i = c
        }
        heap[i] = e
        users[Int(e.user)].heapPos = Int32(i)
    }
}
