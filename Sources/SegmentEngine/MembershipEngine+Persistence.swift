import SegmentLanguage

// Checkpoints: the catalog (clock, log position, segments, interned tables, lists) in one record, and each user's
// state in a record of its own, so that the daemon rewrites only the users that changed (`takeDirtyUsers`).

extension MembershipEngine {
    static let catalogMagic: [UInt8] = Array("SEGC".utf8)
    static let userMagic: UInt8 = 0xE1
    static let formatVersion: UInt8 = 1

    // MARK: - Encoding

    /// The engine's catalog as bytes: clock, applied change number, segments (with their active state), the interned
    /// attribute and aggregate tables, static lists and the names seen in data. Small; write it with every
    /// checkpoint, in the same transaction as the dirty users' records.
    ///
    /// - Returns: The record.
    public func encodeCatalog() -> [UInt8] {
        var w = BinaryWriter()
        Self.catalogMagic.withUnsafeBufferPointer { w.raw($0) }
        w.u8(Self.formatVersion)
        w.zigzag(nowMs)
        w.varint(appliedSeq)
        for seen in [seenAttributes, seenEvents] {
            if let seen {
                w.u8(1)
                w.int(seen.count)
                for name in seen.sorted(by: utf8Less) { w.string(name) }
            } else {
                w.u8(0)
            }
        }
        w.int(attrSlots.count)
        for slot in attrSlots {
            guard let slot else {
                w.u8(0)
                continue
            }
            w.u8(slot.live ? 2 : 1)
            w.string(slot.name)
        }
        w.int(segs.count)
        for seg in segs {
            guard let seg else {
                w.u8(0)
                continue
            }
            w.u8(seg.active ? 2 : 1)
            w.string(seg.name)
            w.string(seg.expression.canonicalText)
            w.int(seg.attrs.count)
            for a in seg.attrs { w.int(Int(a)) }
            w.int(seg.keys.count)
            for k in seg.keys { w.int(Int(k)) }
        }
        w.int(keySlots.count)
        for slot in keySlots {
            guard let slot else {
                w.u8(0)
                continue
            }
            w.u8(slot.live ? 2 : 1)
        }
        w.int(listSlots.count)
        for slot in listSlots {
            guard let slot else {
                w.u8(0)
                continue
            }
            w.u8(1)
            w.string(slot.name)
        }
        return w.bytes
    }

    /// One user's state as bytes: attributes kept, aggregate states, memberships with their "member since", list
    /// memberships and due instants.
    ///
    /// - Parameter userID: The user id.
    /// - Returns: The record, or `nil` for an unknown user (delete its record).
    public func encodeUserState(_ userID: String) -> [UInt8]? {
        guard let u = userIndex.slot(of: userID, in: users) else { return nil }
        return encodeUser(slot: u)
    }

    /// The states of the users changed (or deleted: `nil`) since the last call, in no particular order; clears the
    /// set. What ``takeDirtyUsers()`` and ``encodeUserState(_:)`` give, without looking each user up again, sorting
    /// the ids or encoding: the caller holds the engine while this runs, and encodes each state
    /// (``UserStateSnapshot/encoded()``) after letting go of it.
    ///
    /// - Returns: `(user id, state)` pairs, one per user.
    public func takeDirtyUserStates() -> [(userID: String, state: UserStateSnapshot?)] {
        var out: [(userID: String, state: UserStateSnapshot?)] = []
        out.reserveCapacity(dirtySlots.count + deletedUsers.count)
        for u in dirtySlots where users[Int(u)].alive && users[Int(u)].dirty {
            users[Int(u)].dirty = false
            out.append((users[Int(u)].id, UserStateSnapshot(users[Int(u)])))
        }
        // A user deleted and created again has a state from its new slot above.
        for key in deletedUsers where userIndex.slot(of: key.string, in: users) == nil {
            out.append((key.string, nil))
        }
        dirtySlots.removeAll(keepingCapacity: true)
        deletedUsers.removeAll(keepingCapacity: true)
        return out
    }

    /// The states of every user, in no particular order, for a complete save (one that replaces every record
    /// saved before); clears the set of changed users as ``takeDirtyUserStates()`` does.
    ///
    /// - Returns: `(user id, state)` pairs, one per user.
    public func takeAllUserStates() -> [(userID: String, state: UserStateSnapshot?)] {
        var out: [(userID: String, state: UserStateSnapshot?)] = []
        out.reserveCapacity(userIndex.count)
        for u in users.indices where users[u].alive {
            users[u].dirty = false
            out.append((users[u].id, UserStateSnapshot(users[u])))
        }
        dirtySlots.removeAll(keepingCapacity: true)
        deletedUsers.removeAll(keepingCapacity: true)
        return out
    }

    private func encodeUser(slot u: Int32) -> [UInt8] {
        UserStateSnapshot(users[Int(u)]).encoded()
    }

    // MARK: - Restoring

    /// Restores an engine from its catalog record; then call ``restoreUser(_:)`` with every user record.
    ///
    /// - Parameter catalog: Bytes from ``encodeCatalog()``.
    /// - Throws: ``MembershipEngineError`` `corruptState`, `unsupportedFormat` or `stateMismatch`.
    public convenience init(restoringCatalog catalog: [UInt8]) throws(MembershipEngineError) {
        var r = BinaryReader(catalog)
        guard catalog.count >= 5, Array(catalog[0..<4]) == Self.catalogMagic else {
            throw BinaryReader.corrupt("not a catalog record")
        }
        r.offset = 4
        guard try r.u8() == Self.formatVersion else {
            throw MembershipEngineError(.unsupportedFormat, "unknown catalog format version")
        }
        let now = try r.zigzag()
        let seq = try r.varint()
        self.init(nowMs: now, appliedSeq: seq)
        var seen: [Set<String>?] = []
        for _ in 0..<2 {
            if try r.u8() == 1 {
                var names: Set<String> = []
                for _ in 0..<(try r.count()) { names.insert(try r.string()) }
                seen.append(names)
            } else {
                seen.append(nil)
            }
        }
        seenAttributes = seen[0]
        seenEvents = seen[1]

        for i in 0..<(try r.count()) {
            let tag = try r.u8()
            guard tag != 0 else {
                attrSlots.append(nil)
                continue
            }
            let name = try r.string()
            attrSlots.append(AttrSlot(name: name, refs: 0, live: tag == 2))
            attrIndex[name] = Int32(i)
        }
        var segmentKeys: [(segment: Int32, keys: [Int32])] = []
        for i in 0..<(try r.count()) {
            let tag = try r.u8()
            guard tag != 0 else {
                segs.append(nil)
                continue
            }
            let name = try r.string()
            let text = try r.string()
            let expression: SegmentExpression
            do {
                expression = try SegmentExpression.parse(text)
            } catch {
                throw MembershipEngineError(.stateMismatch, "a saved expression no longer parses: \(error.message)")
            }
            let plan = SegmentPlan(expression)
            var attrs: [Int32] = []
            for _ in 0..<(try r.count()) { attrs.append(Int32(try r.int())) }
            var keys: [Int32] = []
            for _ in 0..<(try r.count()) { keys.append(Int32(try r.int())) }
            guard attrs.count == plan.attributes.count, keys.count == plan.aggregates.count else {
                throw MembershipEngineError(.stateMismatch, "segment tables do not match the expression")
            }
            for (k, a) in attrs.enumerated() {
                guard Int(a) < attrSlots.count, attrSlots[Int(a)]?.name == plan.attributes[k] else {
                    throw MembershipEngineError(.stateMismatch, "attribute table does not match the expression")
                }
                attrSlots[Int(a)]!.refs += 1
            }
            let text2 = expression.canonicalText
            segs.append(
                SegmentSlot(
                    name: name,
                    expression: expression,
                    plan: plan,
                    attrs: attrs,
                    keys: keys,
                    timeSensitive: text2.contains("now") || text2.contains("ago"),
                    active: tag == 2
                )
            )
            segIndex[name] = Int32(i)
            segmentKeys.append((Int32(i), keys))
        }
        let keyCount = try r.count()
        var keyLive: [UInt8] = []
        for _ in 0..<keyCount { keyLive.append(try r.u8()) }
        keySlots = Array(repeating: nil, count: keyCount)
        for (s, keys) in segmentKeys {
            let plan = segs[Int(s)]!.plan
            for (position, k) in keys.enumerated() {
                guard Int(k) < keyCount, keyLive[Int(k)] != 0 else {
                    throw MembershipEngineError(.stateMismatch, "aggregate table does not match the expressions")
                }
                let key = plan.aggregates[position]
                if let existing = keySlots[Int(k)] {
                    guard existing.key == key else {
                        throw MembershipEngineError(.stateMismatch, "aggregate table does not match the expressions")
                    }
                    keySlots[Int(k)]!.refs += 1
                } else {
                    keySlots[Int(k)] = KeySlot(key: key, refs: 1, live: keyLive[Int(k)] == 2)
                    keyIndex[key] = k
                    for name in key.eventNames { keysByEvent[name, default: []].append(k) }
                }
            }
        }
        for i in 0..<keyCount where keySlots[i] == nil && keyLive[i] != 0 {
            throw MembershipEngineError(.stateMismatch, "an aggregate no segment uses")
        }
        for (i, slot) in attrSlots.enumerated() where slot != nil && slot!.refs == 0 {
            _ = i
            throw MembershipEngineError(.stateMismatch, "an attribute no segment reads")
        }
        for i in 0..<(try r.count()) {
            let tag = try r.u8()
            guard tag != 0 else {
                listSlots.append(nil)
                continue
            }
            let name = try r.string()
            listSlots.append(ListSlot(name: name))
            listIndex[name] = Int32(i)
        }
        guard r.isAtEnd else { throw BinaryReader.corrupt("trailing bytes") }
        freeAttrs = attrSlots.indices.reversed().filter { attrSlots[$0] == nil }.map { Int32($0) }
        freeKeys = keySlots.indices.reversed().filter { keySlots[$0] == nil }.map { Int32($0) }
        freeSegs = segs.indices.reversed().filter { segs[$0] == nil }.map { Int32($0) }
        freeLists = listSlots.indices.reversed().filter { listSlots[$0] == nil }.map { Int32($0) }
        rebuildOrder()
    }

    /// Restores one user from a record of ``encodeUserState(_:)`` (written with the same catalog).
    ///
    /// - Parameter bytes: The record.
    /// - Throws: ``MembershipEngineError`` `corruptState`, `unsupportedFormat`, or `stateMismatch` when it refers to
    ///   attributes, aggregates, segments or lists the catalog does not have, or the user is already restored.
    public func restoreUser(_ bytes: [UInt8]) throws(MembershipEngineError) {
        var r = BinaryReader(bytes)
        guard try r.u8() == Self.userMagic else { throw BinaryReader.corrupt("not a user record") }
        guard try r.u8() == Self.formatVersion else {
            throw MembershipEngineError(.unsupportedFormat, "unknown user record format version")
        }
        func mismatch(_ what: String) -> MembershipEngineError {
            MembershipEngineError(.stateMismatch, "user record refers to \(what) the catalog does not have")
        }
        let user = UserRecord(id: try r.string())
        let base = try r.zigzag()
        let due = try r.zigzag()
        user.due = due == 0 ? .max : due &+ base &- 1
        let exprDue = try r.zigzag()
        user.exprDue = exprDue == 0 ? .max : exprDue &+ base &- 1
        for _ in 0..<(try r.count()) {
            let a = try r.int()
            guard a < attrSlots.count, attrSlots[a] != nil else { throw mismatch("an attribute") }
            user.attrs.compactAppend(AttrEntry(name: Int32(a), value: try r.value()))
        }
        for _ in 0..<(try r.count()) {
            let k = try r.int()
            guard k < keySlots.count, keySlots[k] != nil else { throw mismatch("an aggregate") }
            var st = KeyState(key: Int32(k))
            st.n = try r.zigzag()
            st.x = try r.compactDouble()
            var previous = base
            for _ in 0..<(try r.count()) {
                let at = previous &+ (try r.zigzag())
                previous = at
                user.entries.compactAppend(Entry(at: at, v: try r.compactDouble()))
                st.entryCount += 1
            }
            for _ in 0..<(try r.count()) {
                let name = try r.string()
                let at = base &+ (try r.zigzag())
                st.raw.append(EventRecord(name: name, atMs: at, properties: try r.properties()))
            }
            st.witness = try r.properties()
            user.aggs.compactAppend(st)
        }
        for _ in 0..<(try r.count()) {
            let s = try r.int()
            guard s < segs.count, segs[s] != nil else { throw mismatch("a segment") }
            user.members.compactAppend(MemberEntry(segment: Int32(s), sinceMs: base &+ (try r.zigzag())))
        }
        for _ in 0..<(try r.count()) {
            let l = try r.int()
            guard l < listSlots.count, listSlots[l] != nil else { throw mismatch("a list") }
            user.lists.compactAppend(Int32(l))
        }
        guard r.isAtEnd else { throw BinaryReader.corrupt("trailing bytes") }
        guard isSorted(user.attrs.map(\.name)), isSorted(user.aggs.map(\.key)), isSorted(user.members.map(\.segment)),
            isSorted(user.lists)
        else { throw BinaryReader.corrupt("unsorted user tables") }
        guard userIndex.slot(of: user.id, in: users) == nil else {
            throw MembershipEngineError(.stateMismatch, "a user record appears twice")
        }
        for m in user.members { segs[Int(m.segment)]!.memberCount += 1 }
        for l in user.lists { listSlots[Int(l)]!.memberCount += 1 }
        let u = Int32(users.count)
        users.append(user)
        heapPos.append(-1)
        userIndex.insert(user.id, slot: u)
        if user.due != .max { heapReposition(u) }
    }

    /// Restores a whole engine: the catalog, then every user record.
    ///
    /// - Parameters:
    ///   - catalog: Bytes from ``encodeCatalog()``.
    ///   - users: Every user record from ``encodeUserState(_:)``, in any order.
    /// - Returns: An engine that behaves exactly as the one encoded.
    /// - Throws: As ``init(restoringCatalog:)`` and ``restoreUser(_:)``.
    public static func restore(
        catalog: [UInt8],
        users: some Sequence<[UInt8]>
    ) throws(MembershipEngineError) -> MembershipEngine {
        let engine = try MembershipEngine(restoringCatalog: catalog)
        for record in users { try engine.restoreUser(record) }
        return engine
    }
}

private func isSorted(_ values: [Int32]) -> Bool {
    zip(values, values.dropFirst()).allSatisfy { $0 < $1 }
}

/// One user's state as it was when taken from the engine (``MembershipEngine/takeDirtyUserStates()``): its arrays
/// share storage with the engine's until either side changes them (copy on write), so taking it costs a few
/// reference counts and encoding it can happen on another thread while the engine goes on.
public struct UserStateSnapshot: @unchecked Sendable {
    // @unchecked: value semantics throughout — the arrays are copy-on-write and the one class inside a
    // `KeyState` (`KeyExtra`) is copied by the engine before it changes a shared one. The snapshot itself is
    // never changed.
    let id: String
    let attrs: [AttrEntry]
    let aggs: [KeyState]
    let entries: [Entry]
    let members: [MemberEntry]
    let lists: [Int32]
    let due: Int64
    let exprDue: Int64

    init(_ user: UserRecord) {
        id = user.id
        attrs = user.attrs
        aggs = user.aggs
        entries = user.entries
        members = user.members
        lists = user.lists
        due = user.due
        exprDue = user.exprDue
    }

    /// The record ``MembershipEngine/restoreUser(_:)`` reads.
    public func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        self.encode(into: &bytes)
        return bytes
    }

    /// Appends the record ``MembershipEngine/restoreUser(_:)`` reads to `bytes` (no copy of its own).
    public func encode(into bytes: inout [UInt8]) {
        var w = BinaryWriter(capacity: 1024)
        defer { w.append(to: &bytes) }
        w.u8(MembershipEngine.userMagic)
        w.u8(MembershipEngine.formatVersion)
        w.string(id)
        // Instants are written relative to a base taken from the state itself, so that a record does not change
        // while the user's state does not.
        let base = due != .max ? due : (members.first?.sinceMs ?? 0)
        w.zigzag(base)
        w.zigzag(due == .max ? 0 : due &- base &+ 1)
        w.zigzag(exprDue == .max ? 0 : exprDue &- base &+ 1)
        w.int(attrs.count)
        for entry in attrs {
            w.int(Int(entry.name))
            w.value(entry.value)
        }
        w.int(aggs.count)
        // Through buffers, field by field: copying each state out of the array retained and released what it holds.
        aggs.withUnsafeBufferPointer { aggs in
            entries.withUnsafeBufferPointer { entries in
                var entryBase = 0
                for i in aggs.indices {
                    w.int(Int(aggs[i].key))
                    w.zigzag(aggs[i].n)
                    w.compactDouble(aggs[i].x)
                    w.int(Int(aggs[i].entryCount))
                    var previous = base
                    let span = aggs[i].span(base: entryBase)
                    entryBase = span.upperBound
                    for e in span {
                        w.zigzag(entries[e].at &- previous)
                        previous = entries[e].at
                        w.compactDouble(entries[e].v)
                    }
                    guard aggs[i].hasExtra else {
                        w.int(0)  // raw events
                        w.int(0)  // witness properties
                        continue
                    }
                    let raw = aggs[i].raw
                    w.int(raw.count)
                    for event in raw {
                        w.string(event.name)
                        w.zigzag(event.atMs &- base)
                        w.properties(event.properties)
                    }
                    w.properties(aggs[i].witness)
                }
            }
        }
        w.int(members.count)
        for m in members {
            w.int(Int(m.segment))
            w.zigzag(m.sinceMs &- base)
        }
        w.int(lists.count)
        for l in lists { w.int(Int(l)) }
    }
}
