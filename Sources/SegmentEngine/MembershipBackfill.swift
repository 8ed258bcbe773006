import SegmentLanguage

/// A back-fill in progress: the part of a store snapshot that the engine's pending needs read, collected while the
/// snapshot streams in, installed by ``MembershipEngine/finishBackfill(_:)``.
///
/// Create one with ``MembershipEngine/beginBackfill(snapshotSeq:)``. It covers the needs pending when it was begun
/// (``needs``) and keeps only their data: the attributes named there and, per pending aggregate, the state it needs
/// (running totals, the events still in the window, or the projected events), computed at the engine's instant
/// when the session began. It never touches the engine until it is finished.
///
/// - Important: Not thread-safe, like the engine.
public final class MembershipBackfill {
    /// The change-log number the snapshot is as of (the store's `SnapshotChunk.seq`).
    public let snapshotSeq: UInt64
    /// What this back-fill covers: the needs pending when it began.
    public let needs: RetentionNeeds

    let engineID: ObjectIdentifier
    let nowMs: Int64
    /// Pending attribute name → its slot.
    let attributes: [String: Int32]
    /// Pending aggregates.
    let keys: [(index: Int32, slot: KeySlot)]
    let keysByEvent: [String: [Int]]
    var users: [ByteKey: PartialUser] = [:]
    var finished = false

    struct PartialUser {
        /// Sorted by name index.
        var attrs: [AttrEntry] = []
        var aggs: [DetachedState] = []
    }

    init(engine: MembershipEngine, snapshotSeq: UInt64) {
        self.snapshotSeq = snapshotSeq
        self.engineID = ObjectIdentifier(engine)
        self.nowMs = engine.nowMs
        var attributes: [String: Int32] = [:]
        for (i, slot) in engine.attrSlots.enumerated() { if let slot, !slot.live { attributes[slot.name] = Int32(i) } }
        var keys: [(index: Int32, slot: KeySlot)] = []
        var keysByEvent: [String: [Int]] = [:]
        for (i, slot) in engine.keySlots.enumerated() {
            guard let slot, !slot.live else { continue }
            for name in slot.key.eventNames { keysByEvent[name, default: []].append(keys.count) }
            keys.append((Int32(i), slot))
        }
        self.attributes = attributes
        self.keys = keys
        self.keysByEvent = keysByEvent
        self.needs = engine.pendingNeeds
    }

    /// Whether there is nothing to back-fill.
    public var isEmpty: Bool { attributes.isEmpty && keys.isEmpty }

    /// Takes one profile of the snapshot.
    ///
    /// - Parameters:
    ///   - userID: The user id.
    ///   - attributes: All of the user's attributes as of the snapshot.
    public func addProfile(userID: String, attributes: [String: AttributeValue]) {
        guard !finished else { return }
        users[ByteKey(userID), default: PartialUser()].attrs = []
        updateProfile(userID: userID, set: attributes, removed: [])
    }

    /// Takes one profile change of the log, in log order: `removed` first, then `set` (as the store merges them).
    ///
    /// - Parameters:
    ///   - userID: The user id.
    ///   - set: The attributes set by the change.
    ///   - removed: The attributes removed by the change.
    public func updateProfile(userID: String, set: [String: AttributeValue], removed: [String]) {
        guard !finished, !self.attributes.isEmpty else { return }
        let kept = self.attributes
        updatePartial(ByteKey(userID)) { partial in
            for name in removed {
                guard let a = kept[name] else { continue }
                let p = partial.attrs.position(of: a)
                if p.found { partial.attrs.remove(at: p.index) }
            }
            for (name, value) in set {
                guard let a = kept[name] else { continue }
                let p = partial.attrs.position(of: a)
                if p.found {
                    partial.attrs[p.index].value = value
                } else {
                    partial.attrs.insert(AttrEntry(name: a, value: value), at: p.index)
                }
            }
        }
    }

    /// Forgets a user deleted in the log: its attributes and events before the deletion.
    ///
    /// - Parameter userID: The user id.
    public func removeUser(_ userID: String) {
        guard !finished else { return }
        users[ByteKey(userID)] = nil
    }

    /// Takes events of the snapshot (in log order; each event once).
    ///
    /// - Parameter events: `(user id, event)` pairs.
    public func addEvents(_ events: [(userID: String, event: EventRecord)]) {
        for (userID, event) in events { addEvent(userID: userID, event) }
    }

    /// Takes one event of the snapshot (in log order; each event once).
    ///
    /// - Parameters:
    ///   - userID: The user id.
    ///   - event: The event.
    public func addEvent(userID: String, _ event: EventRecord) {
        guard !finished, let indexes = keysByEvent[event.name] else { return }
        updatePartial(ByteKey(userID)) { partial in
            for i in indexes {
                let (k, slot) = keys[i]
                guard slot.reads(event.name) else { continue }
                if let j = partial.aggs.firstIndex(where: { $0.state.key == k }) {
                    _ = partial.aggs[j].ingest(slot: slot, event: event, now: nowMs)
                } else {
                    var new = DetachedState(key: k)
                    if new.ingest(slot: slot, event: event, now: nowMs) {
                        partial.aggs.append(new)
                    }
                }
            }
        }
    }

    /// Mutates a user's partial state in place, created empty if need be.
    private func updatePartial(_ key: ByteKey, _ body: (inout PartialUser) -> Void) {
        body(&users[key, default: PartialUser()])
    }
}

extension MembershipEngine {
    /// Starts a back-fill of the needs pending now (``pendingNeeds``) from a store snapshot as of `snapshotSeq`.
    ///
    /// The rule that makes back-fill exact (no gap, no double count): the snapshot is the store's state after entry
    /// `snapshotSeq`, and it is installed when the engine has applied exactly that entry. Until then, the engine
    /// ignores live data for pending needs (the snapshot holds all of it up to `snapshotSeq`); from then on it takes
    /// them live. So the daemon: reads the snapshot's first chunk (its `seq`), keeps applying the feed up to that
    /// number while streaming the snapshot into the session, then calls ``finishBackfill(_:)``, which refuses when
    /// ``appliedSeq`` is not `snapshotSeq`.
    ///
    /// - Parameter snapshotSeq: The snapshot's change-log number.
    /// - Returns: A session to feed the snapshot's profiles and events into.
    public func beginBackfill(snapshotSeq: UInt64) -> MembershipBackfill {
        MembershipBackfill(engine: self, snapshotSeq: snapshotSeq)
    }

    /// Installs a back-fill and activates the segments whose needs are all met, evaluating them for every user.
    ///
    /// - Parameter session: A session begun on this engine.
    /// - Returns: The transitions, at ``nowMs``, in user id order.
    /// - Throws: ``MembershipEngineError`` `snapshotSeqMismatch` when ``appliedSeq`` is not the snapshot's number
    ///   (take a new snapshot; the session is unusable), `foreignBackfill` for a session of another engine or one
    ///   already finished. Nothing changes when it throws.
    @discardableResult
    public func finishBackfill(_ session: MembershipBackfill) throws(MembershipEngineError) -> [MembershipTransition] {
        guard session.engineID == ObjectIdentifier(self), !session.finished else {
            throw MembershipEngineError(.foreignBackfill, "back-fill session belongs to another engine or is finished")
        }
        guard session.snapshotSeq == appliedSeq else {
            throw MembershipEngineError(
                .snapshotSeqMismatch,
                "snapshot is as of change \(session.snapshotSeq) but the engine has applied \(appliedSeq)"
            )
        }
        session.finished = true
        // The needs still pending and identical to the session's (a need released and re-acquired meanwhile may
        // have another slot).
        var installAttr: Set<Int32> = []
        for (name, a) in session.attributes where attrIndex[name] == a && attrSlots[Int(a)]?.live == false {
            attrSlots[Int(a)]!.live = true
            installAttr.insert(a)
        }
        var installKey: Set<Int32> = []
        for (k, slot) in session.keys where keySlots[Int(k)]?.live == false && keySlots[Int(k)]?.key == slot.key {
            keySlots[Int(k)]!.live = true
            installKey.insert(k)
        }
        var out: [MembershipTransition] = []
        let now = nowMs
        let partials = session.users.sorted { utf8Less($0.key.string, $1.key.string) }
        for (key, partial) in partials {
            let (u, isNew) = ensureUserReportingNew(key.string)
            // The back-filled data is installed without flagging the segments reading it.
            if isNew { flagAllActive() }
            for entry in partial.attrs where installAttr.contains(entry.name) {
                let p = users[Int(u)].attrPosition(entry.name)
                if p.found {
                    users[Int(u)].attrs[p.index].value = entry.value
                } else {
                    users[Int(u)].attrs.compactInsert(entry, at: p.index)
                }
            }
            for var new in partial.aggs where installKey.contains(new.state.key) {
                guard let slot = keySlots[Int(new.state.key)] else { continue }
                new.advance(slot: slot, to: now)
                if new.state.isEmpty { continue }
                users[Int(u)].setAggregate(new)
            }
            markDirty(u)
            if isNew { evaluateFlagged(u, at: now, exprDirty: true, fullDue: true, into: &out) }
        }
        var activated: [Int32] = []
        for s in order {
            guard let seg = segs[Int(s)], !seg.active, isSatisfied(seg) else { continue }
            segs[Int(s)]!.active = true
            activated.append(s)
        }
        rebuildOrder()
        return out + evaluateEveryUser(activated, at: now, exprDirty: true, fullDue: true)
    }

    /// Back-fills from a whole snapshot in one call: ``beginBackfill(snapshotSeq:)``, the profiles and events, then
    /// ``finishBackfill(_:)``.
    ///
    /// - Parameters:
    ///   - snapshotSeq: The snapshot's change-log number; must be ``appliedSeq``.
    ///   - profiles: Every profile of the snapshot.
    ///   - events: Every event of the snapshot.
    /// - Returns: The transitions.
    /// - Throws: As ``finishBackfill(_:)``.
    @discardableResult
    public func backfill(
        snapshotSeq: UInt64,
        profiles: [(userID: String, attributes: [String: AttributeValue])],
        events: [(userID: String, event: EventRecord)]
    ) throws(MembershipEngineError) -> [MembershipTransition] {
        let session = beginBackfill(snapshotSeq: snapshotSeq)
        for profile in profiles { session.addProfile(userID: profile.userID, attributes: profile.attributes) }
        session.addEvents(events)
        return try finishBackfill(session)
    }
}
