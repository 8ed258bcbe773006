import Dispatch
import SegmentLanguage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The operations that apply change-log entries: time, profiles, events, user deletion, static lists.

extension MembershipEngine {
    // MARK: - Time

    /// Moves time forward to `nowMs`, re-evaluating every user with something due on the way.
    ///
    /// Each user whose due instant `d <= nowMs` is re-evaluated *at* `d`, in `(d, user id bytes)` order, and again at
    /// its next due instant if that is also `<= nowMs`; the transitions carry `d`, not `nowMs`. An earlier or equal
    /// instant changes nothing.
    ///
    /// A move that finds many users due finishes in bulk (see `advanceInBulk`).
    ///
    /// - Parameter nowMs: The new instant, in Unix milliseconds.
    /// - Returns: The transitions, in `(instant, user id, dependency order)` order.
    @discardableResult
    public func advance(to nowMs: Int64) -> [MembershipTransition] {
        guard nowMs > self.nowMs else { return [] }
        var out: [MembershipTransition] = []
        // A bulk pass rebuilds the whole scheduler: worth it when the users to wake one by one would cost about as
        // much (two sifts each).
        let bulkFrom = max(1, bulkAdvanceMinimum, heap.count / 64)
        if heap.count >= bulkFrom, countDueUsers(by: nowMs, limit: bulkFrom) >= bulkFrom {
            advanceInBulk(to: nowMs, into: &out)
            self.nowMs = nowMs
            return out
        }
        var group: [Int32] = []
        while let top = heap.first, top.due <= nowMs {
            // Everyone due at this instant, taken out of the scheduler and sorted by id once (the scheduler
            // orders by instant alone); users are independent, and each goes back with its next instant.
            let due = top.due
            group.removeAll(keepingCapacity: true)
            while let next = heap.first, next.due == due {
                group.append(next.user)
                heapRemove(at: 0)
            }
            if group.count > 1 { group.sort { utf8Less(users[Int($0)].id, users[Int($1)].id) } }
            for u in group { processDue(u, at: due, into: &out) }
        }
        self.nowMs = nowMs
        return out
    }

    /// Walks the scheduler's entries due by `nowMs` — they form a subtree at the heap's root (an entry is due only if
    /// its parent is) — without visiting the rest, calling `visit` with each one's heap position until it returns
    /// false. Uses the engine's scratch stack: no allocation once it has grown.
    @inline(__always)
    func forEachDueEntry(by nowMs: Int64, _ visit: (Int) -> Bool) {
        guard let top = heap.first, top.due <= nowMs else { return }
        var stack = scratchPositions
        scratchPositions = []
        stack.removeAll(keepingCapacity: true)
        stack.append(0)
        while let i = stack.popLast(), visit(i) {
            var child = 4 * i + 1
            let end = min(child + 4, heap.count)
            while child < end {
                if heap[child].due <= nowMs { stack.append(child) }
                child += 1
            }
        }
        scratchPositions = stack
    }

    /// The number of users due by `nowMs`, counted up to `limit`.
    func countDueUsers(by nowMs: Int64, limit: Int) -> Int {
        var count = 0
        forEachDueEntry(by: nowMs) { _ in
            count += 1
            return count < limit
        }
        return count
    }

    /// The users due by `nowMs`, in no particular order.
    func dueUsers(by nowMs: Int64) -> [Int32] {
        var due: [Int32] = []
        forEachDueEntry(by: nowMs) { i in
            due.append(heap[i].user)
            return true
        }
        return due
    }

    /// ``advance(to:)`` when many users are due: each due user is taken through all its due instants up
    /// to `nowMs` at once, users in slot order (the order of their records in memory), the scheduler left alone
    /// meanwhile and rebuilt once at the end; the transitions are then put in `(instant, user id, production)` order.
    ///
    /// The result equals the one-instant-at-a-time loop's, transition for transition: users are independent (each
    /// wake-up reads and writes only its own user's state, the segments' member counts are sums), a user is due
    /// at most once per instant, and its own transitions come out in instant order. What it saves is a scheduler
    /// update per wake-up (two sifts through a heap of every scheduled user, each a cache miss per level) and the
    /// jumping between users' records in due order.
    func advanceInBulk(to nowMs: Int64, into out: inout [MembershipTransition]) {
        var due = dueUsers(by: nowMs)
        due.sort()
        statistics.bulkAdvances += 1
        var produced: [MembershipTransition] = []
        // Per transition: its instant, its user and where it is in `produced`.
        var keys: [(at: Int64, user: Int32, index: Int)] = []
        deferScheduling = true
        for u in due {
            let user = users[Int(u)]
            while user.due <= nowMs {
                let start = produced.count
                processDue(u, at: user.due, into: &produced)
                for i in start..<produced.count { keys.append((produced[i].atMs, u, i)) }
            }
        }
        deferScheduling = false
        rebuildScheduler(after: nowMs)
        // Sorted on integers first (instant, slot, production); then the rare runs of one instant with several users
        // are put in id order, a user's own transitions in production order.
        keys.sort { ($0.at, $0.user, $0.index) < ($1.at, $1.user, $1.index) }
        var runStart = 0
        while runStart < keys.count {
            var runEnd = runStart + 1
            var severalUsers = false
            while runEnd < keys.count, keys[runEnd].at == keys[runStart].at {
                if keys[runEnd].user != keys[runStart].user { severalUsers = true }
                runEnd += 1
            }
            if severalUsers {
                keys[runStart..<runEnd].sort { a, b in
                    a.user != b.user ? utf8Less(users[Int(a.user)].id, users[Int(b.user)].id) : a.index < b.index
                }
            }
            runStart = runEnd
        }
        out.reserveCapacity(out.count + produced.count)
        for entry in keys { out.append(produced[entry.index]) }
    }

    // MARK: - Users

    /// The slot of a user, created when new (then flagged as ``flagNewUser()`` says).
    func ensureUser(_ id: String) -> Int32 { ensureUserReportingNew(id).slot }

    /// The slot of a user and whether it was just created (then flagged as ``flagNewUser()`` says: the caller flags
    /// the segments reading the data it gives the user).
    func ensureUserReportingNew(_ id: String) -> (slot: Int32, isNew: Bool) {
        if let u = userIndex.slot(of: id, in: users) { return (u, false) }
        let u: Int32
        if let free = freeUsers.popLast() {
            u = free
            users[Int(u)] = UserRecord(id: id.copiedOut())
        } else {
            u = Int32(users.count)
            users.append(UserRecord(id: id.copiedOut()))
            heapPos.append(-1)
        }
        userIndex.insert(id, slot: u)
        markDirty(u)
        flagNewUser()
        return (u, true)
    }

    /// Merges a profile write: sets and removes attributes, creating the user when new.
    ///
    /// Only attributes some segment reads are kept; the others are dropped.
    ///
    /// - Parameters:
    ///   - userID: The user id.
    ///   - set: Attributes to set.
    ///   - removed: Attributes to remove (set to null). Applied before `set`.
    ///   - seq: The change-log entry's sequence number.
    /// - Returns: The transitions, at ``nowMs``.
    @discardableResult
    public func upsertProfile(
        userID: String,
        set: [String: AttributeValue],
        removed: [String] = [],
        seq: UInt64
    ) -> [MembershipTransition] {
        guard accept(seq) else { return [] }
        let (u, isNew) = ensureUserReportingNew(userID)
        var changed = isNew
        for name in removed {
            guard let a = attrIndex[name], let slot = attrSlots[Int(a)], slot.live else { continue }
            let p = users[Int(u)].attrPosition(a)
            if p.found {
                users[Int(u)].attrs.remove(at: p.index)
                flag(slot.segments)
                changed = true
            }
        }
        for (name, value) in set {
            seenAttributes?.insert(name)
            guard let a = attrIndex[name], let slot = attrSlots[Int(a)], slot.live else { continue }
            let p = users[Int(u)].attrPosition(a)
            if p.found {
                if users[Int(u)].attrs[p.index].value == value { continue }
                users[Int(u)].attrs[p.index].value = value.copiedOut()
            } else {
                users[Int(u)].attrs.compactInsert(AttrEntry(name: a, value: value.copiedOut()), at: p.index)
            }
            flag(slot.segments)
            changed = true
        }
        var out: [MembershipTransition] = []
        evaluateFlagged(u, at: self.nowMs, exprDirty: false, into: &out)
        if changed { markDirty(u) }
        return out
    }

    /// Records a batch of events, creating unknown users.
    ///
    /// Events may be late (`at < now`: they count from now on, within their window) or future-dated (`at > now`:
    /// they count from their own instant on, which is scheduled). Only events some aggregate reads are kept, and of
    /// those only what the aggregates need. The store de-duplicates event ids before the feed.
    ///
    /// - Parameters:
    ///   - events: `(user id, event)` pairs, in log order.
    ///   - seq: The change-log entry's sequence number.
    /// - Returns: The transitions, at ``nowMs``, user by user in order of first appearance in the batch.
    @discardableResult
    public func addEvents(_ events: [(userID: String, event: EventRecord)], seq: UInt64) -> [MembershipTransition] {
        guard accept(seq) else { return [] }
        var out: [MembershipTransition] = []
        // Taken out of the engine while in use, so that filling it does not copy it.
        var grouping = batchGrouping
        batchGrouping = BatchGrouping()
        grouping.group(events, index: userIndex, users: users)
        var keysByName = BatchEventKeys()
        for g in grouping.firsts.indices {
            let slot = grouping.slots[g] >= 0 ? grouping.slots[g] : nil
            applyEvents(
                events,
                first: grouping.firsts[g],
                next: grouping.next,
                slot: slot,
                keysByName: &keysByName,
                into: &out
            )
        }
        batchGrouping = grouping
        return out
    }

    /// Applies the events of one user and evaluates it: `events[first]`, then `events[next[i]]` after `events[i]`
    /// until -1. `slot` is the user's, when the caller looked it up already (`nil`: looked up, or created, here).
    private func applyEvents(
        _ events: [(userID: String, event: EventRecord)],
        first: Int,
        next: [Int],
        slot knownSlot: Int32?,
        keysByName: inout BatchEventKeys,
        into out: inout [MembershipTransition]
    ) {
        let (u, isNew) = knownSlot.map { ($0, false) } ?? ensureUserReportingNew(events[first].userID)
        var changed = isNew
        let now = self.nowMs
        // The user's states and entries are moved out of the record while its events are applied, and back before
        // it is evaluated: each read of a record's array property retains and releases its buffer, several times per
        // aggregate an event counts in (0.75 % of engine-bench's live phase).
        let user = users[Int(u)]
        var aggs = user.aggs
        var entries = user.entries
        user.aggs = []
        user.entries = []
        var i = first
        while i >= 0 {
            let event = events[i].event
            i = next[i]
            guard let ks = keysByName.keys(for: event.name, in: self) else { continue }
            for k in ks {
                guard let slot = keySlots[Int(k)], slot.live else { continue }
                let p = aggs.position(of: k)
                let base = aggs.entryBase(p.index)
                // A count compared only with numbers (see `KeySlot.thresholds`) that stays on the same side of each
                // of them changes no result: its segments need not be evaluated.
                if p.found {
                    let before = slot.thresholds.map { _ in
                        AggregateLogic.count(aggs[p.index], entries, base: base, slot: slot, at: now)
                    }
                    if AggregateLogic.ingest(&aggs[p.index], &entries, base: base, slot: slot, event: event, now: now) {
                        if let before, let thresholds = slot.thresholds {
                            let after = AggregateLogic.count(aggs[p.index], entries, base: base, slot: slot, at: now)
                            if !AggregateLogic.sameSide(before, after, of: thresholds) { flag(slot.segments) }
                        } else {
                            flag(slot.segments)
                        }
                        touchedKeys.append(k)
                        changed = true
                    }
                } else {
                    // A new state is built in the user's entries at its place: it has none yet, so `base` is where
                    // its first would go; left out of `aggs` (and so holding none) if the event does not count.
                    var st = KeyState(key: k)
                    if AggregateLogic.ingest(&st, &entries, base: base, slot: slot, event: event, now: now) {
                        if let thresholds = slot.thresholds {
                            let after = AggregateLogic.count(st, entries, base: base, slot: slot, at: now)
                            if !AggregateLogic.sameSide(0, after, of: thresholds) { flag(slot.segments) }
                        } else {
                            flag(slot.segments)
                        }
                        aggs.compactInsert(st, at: p.index)
                        touchedKeys.append(k)
                        changed = true
                    }
                }
            }
        }
        user.aggs = aggs
        user.entries = entries
        evaluateFlagged(u, at: now, exprDirty: false, into: &out)
        if changed { markDirty(u) }
    }

    /// Forgets a user: exits from every segment it was in (in dependency order), its attributes, events and list
    /// memberships.
    ///
    /// - Parameters:
    ///   - userID: The user id.
    ///   - seq: The change-log entry's sequence number.
    /// - Returns: The exits, at ``nowMs``.
    @discardableResult
    public func deleteUser(userID: String, seq: UInt64) -> [MembershipTransition] {
        guard accept(seq), let u = userIndex.slot(of: userID, in: users) else { return [] }
        var out: [MembershipTransition] = []
        for s in order where users[Int(u)].memberPosition(s).found {
            guard let seg = segs[Int(s)] else { continue }
            segs[Int(s)]!.memberCount -= 1
            out.append(MembershipTransition(segment: seg.name, userID: userID, kind: .exit, atMs: nowMs))
        }
        for l in users[Int(u)].lists { listSlots[Int(l)]?.memberCount -= 1 }
        removeUser(u)
        return out
    }

    /// Frees a user's slot (no transitions).
    func removeUser(_ u: Int32) {
        let pos = heapPos[Int(u)]
        if pos >= 0 { heapRemove(at: Int(pos)) }
        userIndex.remove(users[Int(u)].id, in: users)
        deletedUsers.insert(ByteKey(users[Int(u)].id))
        users[Int(u)] = UserRecord(id: "")
        users[Int(u)].alive = false
        freeUsers.append(u)
    }

    // MARK: - Static lists

    /// Creates an empty static list (nothing happens when it exists).
    ///
    /// - Parameters:
    ///   - name: The list name.
    ///   - seq: The change-log entry's sequence number.
    /// - Returns: No transitions (an empty list changes no `in_segment`); the array is for uniformity.
    @discardableResult
    public func createList(name: String, seq: UInt64) -> [MembershipTransition] {
        guard accept(seq) else { return [] }
        _ = ensureList(name)
        return []
    }

    func ensureList(_ name: String) -> Int32 {
        if let l = listIndex[name] { return l }
        let l: Int32
        if let free = freeLists.popLast() {
            l = free
            listSlots[Int(l)] = ListSlot(name: name)
        } else {
            l = Int32(listSlots.count)
            listSlots.append(ListSlot(name: name))
        }
        listIndex[name] = l
        resolveMemberTargets()
        return l
    }

    /// Adds users to a static list (creating the list and unknown users), re-evaluating the segments that read it.
    ///
    /// - Parameters:
    ///   - name: The list name.
    ///   - userIDs: The users to add, in order; repeats and present members are skipped.
    ///   - seq: The change-log entry's sequence number.
    /// - Returns: The transitions, at ``nowMs``, user by user.
    @discardableResult
    public func addToList(name: String, userIDs: [String], seq: UInt64) -> [MembershipTransition] {
        guard accept(seq) else { return [] }
        let l = ensureList(name)
        var out: [MembershipTransition] = []
        for id in userIDs {
            let u = ensureUser(id)
            let p = users[Int(u)].listPosition(l)
            if !p.found {
                users[Int(u)].lists.compactInsert(l, at: p.index)
                listSlots[Int(l)]!.memberCount += 1
                flagDependents(of: name)
                markDirty(u)
            }
            evaluateFlagged(u, at: nowMs, exprDirty: false, into: &out)
        }
        return out
    }

    /// Removes users from a static list, re-evaluating the segments that read it.
    ///
    /// - Parameters:
    ///   - name: The list name.
    ///   - userIDs: The users to remove, in order; non-members are skipped.
    ///   - seq: The change-log entry's sequence number.
    /// - Returns: The transitions, at ``nowMs``, user by user.
    @discardableResult
    public func removeFromList(name: String, userIDs: [String], seq: UInt64) -> [MembershipTransition] {
        guard accept(seq), let l = listIndex[name] else { return [] }
        var out: [MembershipTransition] = []
        for id in userIDs {
            guard let u = userIndex.slot(of: id, in: users) else { continue }
            let p = users[Int(u)].listPosition(l)
            guard p.found else { continue }
            users[Int(u)].lists.remove(at: p.index)
            listSlots[Int(l)]!.memberCount -= 1
            markDirty(u)
            flagDependents(of: name)
            evaluateFlagged(u, at: nowMs, exprDirty: false, into: &out)
        }
        return out
    }

    /// Deletes a static list, re-evaluating the segments that read it for its former members (in user id order).
    ///
    /// - Parameters:
    ///   - name: The list name.
    ///   - seq: The change-log entry's sequence number.
    /// - Returns: The transitions, at ``nowMs``.
    @discardableResult
    public func deleteList(name: String, seq: UInt64) -> [MembershipTransition] {
        guard accept(seq), let l = listIndex[name] else { return [] }
        listIndex[name] = nil
        listSlots[Int(l)] = nil
        freeLists.append(l)
        resolveMemberTargets()
        var former: [Int32] = []
        for (u, user) in users.enumerated() where user.alive && user.listPosition(l).found { former.append(Int32(u)) }
        former.sort { utf8Less(users[Int($0)].id, users[Int($1)].id) }
        var out: [MembershipTransition] = []
        for u in former {
            let p = users[Int(u)].listPosition(l)
            users[Int(u)].lists.remove(at: p.index)
            markDirty(u)
            flagDependents(of: name)
            evaluateFlagged(u, at: nowMs, exprDirty: false, into: &out)
        }
        return out
    }

    /// Evaluates `segments` for every user and returns the transitions in user id order (each user's in dependency
    /// order), as if the users had been evaluated in id order: users are evaluated independently of each other, so
    /// they are taken in slot order and only the transitions — far fewer than the users — are sorted.
    func evaluateEveryUser(
        _ segments: [Int32],
        at t: Int64,
        exprDirty: Bool,
        fullDue: Bool = false
    ) -> [MembershipTransition] {
        var out: [MembershipTransition] = []
        // One segment nothing reads and whose comparisons do not move with time (a new segment, usually): its
        // result changes no due instant and flags nothing, so only its membership is kept.
        let alone = segments.count == 1 && !exprDirty && !fullDue
        if alone, let seg = segs[Int(segments[0])], seg.active, !seg.timeSensitive, seg.dependents.isEmpty {
            let s = segments[0]
            let values = valueForEachUser(seg, at: t)
            // Without members (a new segment) no one can leave: the users outside need no look at their
            // memberships, which is a cache miss or two per user (a third of a put's time over 100k users).
            let hadMembers = seg.memberCount > 0
            for u in values.indices {
                switch values[u] {
                case .freeSlot: continue
                case .outside where !hadMembers: continue
                case .due:
                    flag(segments)
                    evaluateFlagged(Int32(u), at: t, exprDirty: false, into: &out)
                case .outside, .inside:
                    if setMembership(users[u], s, seg, values[u] == .inside, at: t, into: &out) {
                        markDirty(Int32(u))
                    }
                }
            }
        } else {
            for (u, user) in users.enumerated() where user.alive {
                flag(segments)
                evaluateFlagged(Int32(u), at: t, exprDirty: exprDirty, fullDue: fullDue, into: &out)
            }
        }
        let order = out.indices.sorted { i, j in
            utf8Less(out[i].userID, out[j].userID) || (!utf8Less(out[j].userID, out[i].userID) && i < j)
        }
        return order.map { out[$0] }
    }

    /// What ``valueForEachUser(_:at:)`` found for one user slot.
    enum UserValue: UInt8 {
        case freeSlot
        /// The user is due by the instant: not evaluated (the caller evaluates it with everything else due).
        case due
        /// The segment's value is false.
        case outside
        /// The segment's value is true.
        case inside
    }

    /// The value of `seg` at `t` for each user slot (see ``UserValue``).
    ///
    /// Evaluating only reads the engine — users, catalog, memberships — and each user's value depends on that user
    /// alone, so with many users the slots are split into ranges evaluated on all processors at once (a new segment
    /// over a million users is the case: put → readable is this loop). Each range has its own scratch storage.
    func valueForEachUser(_ seg: SegmentSlot, at t: Int64) -> [UserValue] {
        let users = self.users
        var values = [UserValue](repeating: .freeSlot, count: users.count)
        let parts = users.count >= parallelEvaluationMinimum ? Self.processorCount : 1
        var evaluated = [Int](repeating: 0, count: parts)
        values.withUnsafeMutableBufferPointer { values in
            evaluated.withUnsafeMutableBufferPointer { evaluated in
                let shared = ParallelEvaluation(
                    engine: self,
                    users: users,
                    seg: seg,
                    resolved: resolvedInputs(seg),
                    values: values.baseAddress!,
                    evaluated: evaluated.baseAddress!
                )
                let count = users.count
                DispatchQueue.concurrentPerform(iterations: parts) { part in
                    shared.evaluate((count * part / parts)..<(count * (part + 1) / parts), part: part, at: t)
                }
            }
        }
        statistics.segmentEvaluations += evaluated.reduce(0, +)
        return values
    }

    /// Processors online (at least 1).
    static let processorCount = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
}

/// What the ranges of `valueForEachUser` share.
private struct ParallelEvaluation: @unchecked Sendable {
    // @unchecked: the engine, its users and the segment are only read while the ranges run (the engine's caller
    // waits for them); each range writes `values` at its own slots and `evaluated` at its own index.
    unowned(unsafe) let engine: MembershipEngine
    let users: [UserRecord]
    let seg: SegmentSlot
    /// The segment's inputs, resolved before the ranges start (see ``ResolvedInputs``).
    let resolved: ResolvedInputs
    let values: UnsafeMutablePointer<MembershipEngine.UserValue>
    let evaluated: UnsafeMutablePointer<Int>

    /// Evaluates the segment for the alive users of `range` not due by `t`, and marks those due.
    func evaluate(_ range: Range<Int>, part: Int, at t: Int64) {
        var scratch: [AttributeValue?] = []
        var count = 0
        // A plan of this range's own: the evaluation retains and releases the plan's storage at every step, and
        // threads doing so on one shared copy contend for its cache lines (measured: no gain from a second core).
        let plan = SegmentPlan(seg.expression)
        for u in range {
            let user = users[u]
            guard user.alive else { continue }
            guard user.due > t else {
                values[u] = .due
                continue
            }
            // Moved in and out, so that the scratch storage is reused instead of copied for every user.
            var inputs = UserPlanInputs(engine: engine, user: user, resolved: resolved, at: t, values: consume scratch)
            values[u] = plan.evaluate(&inputs, nowMs: t) ? .inside : .outside
            scratch = inputs.values
            count += 1
        }
        evaluated[part] = count
    }
}

/// The aggregates reading each event name met in one batch of events. A batch holds few distinct names: comparing
/// an event's name with those met before costs less than hashing it, to look it up in the engine's table and to
/// record it among the names seen.
struct BatchEventKeys {
    private var names: [String] = []
    private var keys: [[Int32]?] = []

    /// The aggregates reading events named `name`, the name recorded as seen; both done once per batch for the first
    /// 16 distinct names (by their bytes).
    ///
    /// The engine's table is keyed by `String`, whose equality merges canonically equivalent spellings: its
    /// aggregates are kept only when they read `name` byte for byte (``KeySlot/reads(_:)``), here rather than at
    /// every event.
    mutating func keys(for name: String, in engine: MembershipEngine) -> [Int32]? {
        for i in names.indices where utf8Equal(names[i], name) { return keys[i] }
        engine.seenEvents?.insert(name)
        let found = engine.keysByEvent[name].flatMap { candidates -> [Int32]? in
            let reading = candidates.filter { engine.keySlots[Int($0)]?.reads(name) == true }
            return reading.isEmpty ? nil : reading
        }
        if names.count < 16 {
            names.append(name)
            keys.append(found)
        }
        return found
    }
}
