import SegmentLanguage

// Segments: create, replace, delete; the interned attribute and aggregate tables they share; dependency order.

extension MembershipEngine {
    /// Creates or replaces a segment and brings every user's membership in it up to date.
    ///
    /// The expression must have passed `SegmentCatalog.check` in the store (unknown `in_segment` names read as
    /// "not a member"; a cycle is evaluated in name order, never looping).
    ///
    /// When the expression reads attributes or aggregates the engine did not keep, and data for them may exist,
    /// the outcome lists them in ``PutSegmentOutcome/newNeeds`` and the segment waits for a back-fill (see
    /// ``beginBackfill(snapshotSeq:)``); otherwise it is evaluated for every user at once.
    ///
    /// - Parameters:
    ///   - name: The segment name.
    ///   - expression: The checked expression.
    ///   - seq: The change-log entry's sequence number.
    /// - Returns: The transitions (at ``nowMs``, in user id order, then dependency order) and the new needs.
    @discardableResult
    public func putSegment(name: String, expression: SegmentExpression, seq: UInt64) -> PutSegmentOutcome {
        guard accept(seq) else { return PutSegmentOutcome(transitions: [], newNeeds: RetentionNeeds()) }
        if let s = segIndex[name], let old = segs[Int(s)], old.expression == expression {
            return PutSegmentOutcome(transitions: [], newNeeds: RetentionNeeds())
        }
        let plan = SegmentPlan(expression)
        var newNeeds = RetentionNeeds()
        let attrs = plan.attributes.map { acquireAttribute($0, into: &newNeeds) }
        let keys = plan.aggregates.map { acquireKey($0, into: &newNeeds) }
        let text = expression.canonicalText
        let slot = SegmentSlot(
            name: name,
            expression: expression,
            plan: plan,
            attrs: attrs,
            keys: keys,
            timeSensitive: text.contains("now") || text.contains("ago"),
            active: false
        )
        slot.active = isSatisfied(slot)
        let s: Int32
        if let existing = segIndex[name], let old = segs[Int(existing)] {
            s = existing
            slot.memberCount = old.memberCount
            segs[Int(s)] = slot
            release(attributes: old.attrs, keys: old.keys)
        } else if let free = freeSegs.popLast() {
            s = free
            segs[Int(s)] = slot
        } else {
            s = Int32(segs.count)
            segs.append(slot)
        }
        segIndex[name] = s
        rebuildOrder()
        let out = slot.active ? evaluateEveryUser([s], at: nowMs, exprDirty: slot.timeSensitive) : []
        return PutSegmentOutcome(transitions: out, newNeeds: newNeeds)
    }

    /// Deletes a segment: every member exits (in user id order); segments reading it with `in_segment` are
    /// re-evaluated for those users.
    ///
    /// - Parameters:
    ///   - name: The segment name.
    ///   - seq: The change-log entry's sequence number.
    /// - Returns: The transitions, at ``nowMs``.
    @discardableResult
    public func deleteSegment(name: String, seq: UInt64) -> [MembershipTransition] {
        guard accept(seq), let s = segIndex[name], let old = segs[Int(s)] else { return [] }
        var former: [Int32] = []
        for (u, user) in users.enumerated() where user.alive && user.memberPosition(s).found {
            former.append(Int32(u))
        }
        former.sort { utf8Less(users[Int($0)].id, users[Int($1)].id) }
        segIndex[name] = nil
        segs[Int(s)] = nil
        freeSegs.append(s)
        release(attributes: old.attrs, keys: old.keys)
        rebuildOrder()
        var out: [MembershipTransition] = []
        for u in former {
            let p = users[Int(u)].memberPosition(s)
            users[Int(u)].members.remove(at: p.index)
            markDirty(u)
            out.append(MembershipTransition(segment: name, userID: users[Int(u)].id, kind: .exit, atMs: nowMs))
            flagDependents(of: name)
            evaluateFlagged(u, at: nowMs, exprDirty: false, into: &out)
        }
        return out
    }

    // MARK: - Interning

    func isSatisfied(_ seg: SegmentSlot) -> Bool {
        seg.attrs.allSatisfy { attrSlots[Int($0)]?.live == true }
            && seg.keys.allSatisfy { keySlots[Int($0)]?.live == true }
    }

    func acquireAttribute(_ name: String, into needs: inout RetentionNeeds) -> Int32 {
        if let a = attrIndex[name], attrSlots[Int(a)] != nil {
            attrSlots[Int(a)]!.refs += 1
            if !attrSlots[Int(a)]!.live { needs.attributes.insert(name) }
            return a
        }
        let live = seenAttributes.map { !$0.contains(name) } ?? false
        if !live { needs.attributes.insert(name) }
        let slot = AttrSlot(name: name, refs: 1, live: live)
        let a: Int32
        if let free = freeAttrs.popLast() {
            a = free
            attrSlots[Int(a)] = slot
        } else {
            a = Int32(attrSlots.count)
            attrSlots.append(slot)
        }
        attrIndex[name] = a
        return a
    }

    func acquireKey(_ key: AggregateKey, into needs: inout RetentionNeeds) -> Int32 {
        if let k = keyIndex[key], keySlots[Int(k)] != nil {
            keySlots[Int(k)]!.refs += 1
            if !keySlots[Int(k)]!.live {
                for name in key.eventNames { needs.events[name, default: []].formUnion(keySlots[Int(k)]!.projection) }
            }
            return k
        }
        let seen = seenEvents.map { seen in key.eventNames.contains { seen.contains($0) } } ?? true
        let slot = KeySlot(key: key, refs: 1, live: !seen)
        // Data of this name was seen and dropped: computed from an aggregate kept over the same events, or else
        // back-filled from the store's log.
        let derivation = seen ? derivation(for: slot) : nil
        if seen, derivation == nil {
            for name in key.eventNames { needs.events[name, default: []].formUnion(slot.projection) }
        }
        let k: Int32
        if let free = freeKeys.popLast() {
            k = free
            keySlots[Int(k)] = slot
        } else {
            k = Int32(keySlots.count)
            keySlots.append(slot)
        }
        keyIndex[key] = k
        for name in key.eventNames { keysByEvent[name, default: []].append(k) }
        if let derivation {
            derive(k, derivation)
            slot.live = true
        }
        return k
    }

    /// Drops one reference to each; attributes and aggregates no segment uses any more are dropped from every user.
    func release(attributes: [Int32], keys: [Int32]) {
        var droppedAttrs: [Int32] = []
        var droppedKeys: [Int32] = []
        for a in attributes {
            attrSlots[Int(a)]!.refs -= 1
            if attrSlots[Int(a)]!.refs == 0 {
                if let name = attrSlots[Int(a)]?.name { attrIndex[name] = nil }
                attrSlots[Int(a)] = nil
                freeAttrs.append(a)
                droppedAttrs.append(a)
            }
        }
        for k in keys {
            keySlots[Int(k)]!.refs -= 1
            if keySlots[Int(k)]!.refs == 0 {
                let key = keySlots[Int(k)]!.key
                keyIndex[key] = nil
                for name in key.eventNames {
                    keysByEvent[name]?.removeAll { $0 == k }
                    if keysByEvent[name]?.isEmpty == true { keysByEvent[name] = nil }
                }
                keySlots[Int(k)] = nil
                freeKeys.append(k)
                droppedKeys.append(k)
            }
        }
        guard !droppedAttrs.isEmpty || !droppedKeys.isEmpty else { return }
        for u in users.indices where users[u].alive {
            var touched = false
            if !droppedAttrs.isEmpty {
                let before = users[u].attrs.count
                users[u].attrs.removeAll { droppedAttrs.contains($0.name) }
                touched = touched || users[u].attrs.count != before
            }
            if !droppedKeys.isEmpty, users[u].removeAggregates(where: droppedKeys.contains) {
                touched = true
            }
            if touched { markDirty(Int32(u)) }
        }
    }

    // MARK: - Dependency order

    /// Recomputes the dependency order, the dependents of each name, the segments of each attribute and aggregate,
    /// and the time-sensitive list.
    func rebuildOrder() {
        for i in attrSlots.indices where attrSlots[i] != nil { attrSlots[i]!.segments = [] }
        for i in keySlots.indices where keySlots[i] != nil { keySlots[i]!.segments = [] }
        dependents = [:]
        var live: [Int32] = []
        for (i, seg) in segs.enumerated() {
            guard let seg else { continue }
            let s = Int32(i)
            live.append(s)
            for a in seg.attrs { attrSlots[Int(a)]!.segments.append(s) }
            for k in seg.keys { keySlots[Int(k)]!.segments.append(s) }
            for d in seg.plan.segments { dependents[d, default: []].append(s) }
        }
        // Kahn's algorithm; among ready segments the smallest name (UTF-8 bytes) goes first.
        var indegree: [Int32: Int] = [:]
        for s in live {
            let seg = segs[Int(s)]!
            indegree[s] = seg.plan.segments.filter { segIndex[$0] != nil && $0 != seg.name }.count
        }
        var ready = live.filter { indegree[$0] == 0 }
        var result: [Int32] = []
        var placed = Set<Int32>()
        while !ready.isEmpty || result.count < live.count {
            if ready.isEmpty {
                // A cycle (refused by the store's catalog check): place the remaining segments by name.
                let rest = live.filter { !placed.contains($0) }.sorted {
                    utf8Less(segs[Int($0)]!.name, segs[Int($1)]!.name)
                }
                for s in rest {
                    result.append(s)
                    placed.insert(s)
                }
                break
            }
            ready.sort { utf8Less(segs[Int($0)]!.name, segs[Int($1)]!.name) }
            let s = ready.removeFirst()
            result.append(s)
            placed.insert(s)
            for d in dependents[segs[Int(s)]!.name] ?? [] where !placed.contains(d) {
                indegree[d]! -= 1
                if indegree[d] == 0 { ready.append(d) }
            }
        }
        // Flags set under the old order (none, between operations) are carried over to the new ranks.
        let flagged = order.indices.filter { flaggedRanks.hasBit($0) }.map { order[$0] }
        order = result
        let words = (order.count + 63) / 64
        flaggedRanks = Array(repeating: 0, count: words)
        activeRanks = Array(repeating: 0, count: words)
        rankOfSlot = Array(repeating: -1, count: segs.count)
        for (rank, s) in order.enumerated() {
            segs[Int(s)]!.rank = rank
            segs[Int(s)]!.dependents = dependents[segs[Int(s)]!.name] ?? []
            rankOfSlot[Int(s)] = Int32(rank)
            if segs[Int(s)]!.active { activeRanks.setBit(rank) }
        }
        flag(flagged)  // a deleted segment has no rank: not flagged
        timeSensitive = order.filter { segs[Int($0)]!.timeSensitive && segs[Int($0)]!.active }
        resolveMemberTargets()
        updateThresholds()
    }

    /// Points each segment's `in_segment` names at the segments and lists that now bear them
    /// (``SegmentSlot/memberTargets``). Called whenever a segment or a list appears or goes away, and by
    /// ``rebuildOrder()`` at every change of the segments: so it also drops what new users are evaluated for
    /// (``newUserRanks``).
    func resolveMemberTargets() {
        newUserRanks = nil
        for seg in segs {
            guard let seg else { continue }
            seg.memberTargets = seg.plan.segments.map(memberTarget)
        }
    }

    /// Recomputes each count's thresholds (``KeySlot/thresholds``) from the segments using it. When a windowed
    /// count's change, the cached next instants of that aggregate may now be late, so they are recomputed for every
    /// user holding it (rare: only when a segment is saved or deleted).
    func updateThresholds() {
        var changed: [Int32] = []
        for (i, slot) in keySlots.enumerated() {
            guard let slot, slot.mode != .raw else { continue }
            var thresholds: [Double]? = nil
            if slot.key.kind == .count {
                var numbers: [Double] = []
                var restricted = !slot.segments.isEmpty
                for s in slot.segments {
                    guard let seg = segs[Int(s)], let position = seg.keys.firstIndex(of: Int32(i)),
                        let used = seg.plan.comparedNumbers[position]
                    else {
                        restricted = false
                        break
                    }
                    numbers += used
                }
                if restricted { thresholds = Array(Set(numbers)).sorted() }
            }
            if thresholds != slot.thresholds {
                slot.thresholds = thresholds
                // Only windowed states cache a next instant that depends on the thresholds.
                if slot.mode == .window { changed.append(Int32(i)) }
            }
        }
        guard !changed.isEmpty else { return }
        for (u, user) in users.enumerated() where user.alive {
            var touched = false
            for k in changed {
                let p = user.aggPosition(k)
                guard p.found, let slot = keySlots[Int(k)] else { continue }
                user.aggs[p.index].n = AggregateLogic.computeNext(
                    user.aggs[p.index],
                    user.entries,
                    base: user.entryBase(p.index),
                    slot: slot,
                    after: nowMs
                )
                touched = true
            }
            if touched {
                updateDue(Int32(u), after: nowMs)
                markDirty(Int32(u))
            }
        }
    }
}
