import SegmentLanguage

// Back-fill from memory: a new aggregate over an event name the engine already keeps, computed from the states of
// an aggregate it already holds instead of a read of the store's log.

extension MembershipEngine {
    /// How a new aggregate can be computed from a live one over the same event name.
    enum Derivation {
        /// The source keeps every event of the name (projected) inside its window: replay them into the new state.
        case replayRaw(source: Int32)
        /// Both keep the matching events inside a window with the same filter, the source's window at least as long:
        /// copy the source's entries that are inside the new window.
        case narrowWindow(source: Int32)
    }

    /// A live aggregate whose per-user states hold everything `slot` needs, or `nil`.
    ///
    /// A live aggregate's states are exact for every user (it has seen every event of its name since it became
    /// live, or was back-filled), so a state computed from them is what a back-fill from the log would give:
    /// - a `raw` source holds every event of the name inside its window, projected on its properties: any new
    ///   aggregate whose properties (filter and value) it keeps and whose window it covers (no window: the source
    ///   has none either) is those events replayed;
    /// - a `window` source holds the events passing its filter inside its window, each with its value: a new
    ///   windowed aggregate with the same filter, a window no longer, and the same value property (or none: a
    ///   count) is the part of those entries inside the new window.
    func derivation(for slot: KeySlot) -> Derivation? {
        let key = slot.key
        // A sequence keeps only the events its own steps can still use: neither a source nor derived.
        guard key.sequence == nil else { return nil }
        var best: Derivation?
        for k in keysByEvent[key.event] ?? [] {
            guard let source = keySlots[Int(k)], source.live, source.key.sequence == nil,
                utf8Equal(source.key.event, key.event)
            else { continue }
            if let window = source.key.windowMs {
                guard let needed = key.windowMs, needed <= window else { continue }
            }
            switch source.mode {
            case .raw:
                guard slot.projection.allSatisfy(source.projection.contains) else { continue }
                best = .replayRaw(source: k)
            case .window:
                guard slot.mode == .window, source.key.filter == key.filter,
                    key.property == nil || key.property == source.key.property
                else { continue }
                // Copying entries is cheaper than replaying events: take it when there is one.
                return .narrowWindow(source: k)
            case .totals:
                continue
            }
        }
        return best
    }

    /// Fills every user's state of aggregate `k` (a new slot, not yet used by any segment) from the source of
    /// `derivation`, at ``nowMs``.
    func derive(_ k: Int32, _ derivation: Derivation) {
        guard let slot = keySlots[Int(k)] else { return }
        let now = nowMs
        let source: Int32
        switch derivation {
        case .replayRaw(let s), .narrowWindow(let s): source = s
        }
        for (u, user) in users.enumerated() where user.alive {
            let p = user.aggPosition(source)
            guard p.found else { continue }
            var new = DetachedState(key: k)
            switch derivation {
            case .replayRaw:
                for event in user.aggs[p.index].raw {
                    _ = new.ingest(slot: slot, event: event, now: now)
                }
            case .narrowWindow:
                let sourceState = user.aggs[p.index]
                new.entries = Array(user.entries[sourceState.span(base: user.entryBase(p.index))])
                new.state.entryCount = sourceState.entryCount
                if let w = slot.key.windowMs {
                    AggregateLogic.dropExpired(&new.state, &new.entries, base: 0, at: now, windowMs: w)
                }
                new.state.n = AggregateLogic.computeNext(new.state, new.entries, base: 0, slot: slot, after: now)
            }
            if new.state.isEmpty { continue }
            user.setAggregate(new)
            updateDue(Int32(u), after: now)
            markDirty(Int32(u))
        }
    }
}
