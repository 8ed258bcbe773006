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
        let attrs = attributeDictionary(u, seg)
        var values: [AttributeValue?] = []
        values.reserveCapacity(seg.keys.count)
        for k in seg.keys {
            guard let slot = keySlots[Int(k)] else {
                values.append(nil)
                continue
            }
            values.append(AggregateLogic.value(state(u, k), slot: slot, at: t))
        }
        return seg.plan.evaluate(attributes: attrs, aggregateValues: values, nowMs: t) { self.isMember(u, $0) }
    }

    /// Evaluates the flagged segments for user `u` at `t` in dependency order, appends transitions, clears the flags,
    /// then recomputes the user's due instant (the comparison part too when `exprDirty` or a time-sensitive segment
    /// was evaluated).
    func evaluateFlagged(_ u: Int32, at t: Int64, exprDirty: Bool, into out: inout [MembershipTransition]) {
        var exprDirty = exprDirty
        let before = (out.count, users[Int(u)].due, users[Int(u)].exprDue)
        for s in order where flags[Int(s)] {
            flags[Int(s)] = false
            guard let seg = segs[Int(s)], seg.active else { continue }
            if seg.timeSensitive { exprDirty = true }
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
        if exprDirty { users[Int(u)].exprDue = expressionDue(u, after: t) }
        updateDue(u, after: t)
        if before != (out.count, users[Int(u)].due, users[Int(u)].exprDue) {
            dirtyUsers.insert(ByteKey(users[Int(u)].id))
        }
    }

    /// The earliest instant after `t` at which a comparison with `now`/`D ago` of an active segment can change for
    /// user `u`: the plans' own next-change over the retained attributes and, for each `first`/`last` aggregate, the
    /// event(s) giving its current value.
    func expressionDue(_ u: Int32, after t: Int64) -> Int64 {
        var best = Int64.max
        for s in timeSensitive {
            guard let seg = segs[Int(s)], seg.active else { continue }
            let attrs = attributeDictionary(u, seg)
            var asked = false
            for k in seg.keys {
                guard let slot = keySlots[Int(k)], slot.isFirstOrLast, let st = state(u, k) else { continue }
                let witnesses = AggregateLogic.witnessEvents(st, slot: slot)
                if witnesses.isEmpty { continue }
                asked = true
                if let c = seg.plan.nextChange(after: t, attributes: attrs, events: witnesses) { best = min(best, c) }
            }
            if !asked, let c = seg.plan.nextChange(after: t, attributes: attrs, events: []) { best = min(best, c) }
        }
        return best
    }

    /// Recomputes `due` from `exprDue` and the aggregate states, and repositions the user in the scheduler.
    func updateDue(_ u: Int32, after t: Int64) {
        var due = users[Int(u)].exprDue
        for st in users[Int(u)].aggs {
            guard let slot = keySlots[Int(st.key)] else { continue }
            due = min(due, AggregateLogic.nextChange(st, slot: slot, after: t))
        }
        if due != users[Int(u)].due || (due != .max) != (users[Int(u)].heapPos >= 0) {
            users[Int(u)].due = due
            heapReposition(u)
        }
    }

    /// Re-evaluates a user whose due instant `t` has come: moves the aggregates with something due at `t`,
    /// then evaluates the segments they feed (and the time-sensitive ones when their comparisons are due).
    func processDue(_ u: Int32, at t: Int64, into out: inout [MembershipTransition]) {
        var i = 0
        while i < users[Int(u)].aggs.count {
            let k = users[Int(u)].aggs[i].key
            guard let slot = keySlots[Int(k)] else {
                i += 1
                continue
            }
            if AggregateLogic.nextChange(users[Int(u)].aggs[i], slot: slot, after: t &- 1) <= t {
                _ = AggregateLogic.advance(&users[Int(u)].aggs[i], slot: slot, to: t)
                flag(slot.segments)
                if users[Int(u)].aggs[i].isEmpty {
                    users[Int(u)].aggs.remove(at: i)
                    continue
                }
            }
            i += 1
        }
        var exprDirty = false
        if users[Int(u)].exprDue <= t {
            flag(timeSensitive)
            exprDirty = true
        }
        evaluateFlagged(u, at: t, exprDirty: exprDirty, into: &out)
        dirtyUsers.insert(ByteKey(users[Int(u)].id))
    }

    // MARK: - Scheduler

    @inline(__always)
    func heapLess(_ a: Int32, _ b: Int32) -> Bool {
        let da = users[Int(a)].due
        let db = users[Int(b)].due
        if da != db { return da < db }
        return utf8Less(users[Int(a)].id, users[Int(b)].id)
    }

    /// Puts the user where its `due` belongs: out of the heap when `Int64.max`, else inserted or moved.
    func heapReposition(_ u: Int32) {
        let pos = Int(users[Int(u)].heapPos)
        if users[Int(u)].due == .max {
            if pos >= 0 { heapRemove(at: pos) }
            return
        }
        if pos < 0 {
            heap.append(u)
            users[Int(u)].heapPos = Int32(heap.count - 1)
            siftUp(heap.count - 1)
        } else {
            siftUp(pos)
            siftDown(Int(users[Int(u)].heapPos))
        }
    }

    func heapRemove(at pos: Int) {
        let u = heap[pos]
        users[Int(u)].heapPos = -1
        let last = heap.removeLast()
        guard pos < heap.count else { return }
        heap[pos] = last
        users[Int(last)].heapPos = Int32(pos)
        siftUp(pos)
        siftDown(Int(users[Int(last)].heapPos))
    }

    private func siftUp(_ start: Int) {
        var i = start
        let u = heap[i]
        while i > 0 {
            let parent = (i - 1) / 2
            guard heapLess(u, heap[parent]) else { break }
            heap[i] = heap[parent]
            users[Int(heap[i])].heapPos = Int32(i)
            i = parent
        }
        heap[i] = u
        users[Int(u)].heapPos = Int32(i)
    }

    private func siftDown(_ start: Int) {
        var i = start
        let u = heap[i]
        let n = heap.count
        while true {
            let l = 2 * i + 1
            guard l < n else { break }
            var c = l
            if l + 1 < n, heapLess(heap[l + 1], heap[l]) { c = l + 1 }
            guard heapLess(heap[c], u) else { break }
            heap[i] = heap[c]
            users[Int(heap[i])].heapPos = Int32(i)
            i = c
        }
        heap[i] = u
        users[Int(u)].heapPos = Int32(i)
    }
}
