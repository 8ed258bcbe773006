import SegmentLanguage

/// The incremental membership engine: segments, static lists and per-user state in memory, kept exactly equal to
/// the segment contract at every instant, with the transitions each change causes.
///
/// The engine is pure and synchronous: no I/O, no clocks, no threads of its own (one operation may spread its work
/// over all processors and waits for it: a new segment evaluated for many users, see `valueForEachUser`). Its owner (the `segment-evaluator` daemon)
/// feeds it the store's change log in order — `advance(to:)` to the entry's time, then the entry's operation with
/// the entry's sequence number — and persists what it returns. Time is Unix milliseconds (`Int64`).
///
/// ```swift
/// let engine = MembershipEngine(nowMs: t0)
/// _ = engine.putSegment(name: "buyers", expression: try SegmentExpression.parse("count(purchase) >= 1"), seq: 1)
/// engine.advance(to: t1)
/// let transitions = engine.addEvents([("u1", EventRecord(name: "purchase", atMs: t1))], seq: 2)
/// // [enter buyers u1 @t1]
/// ```
///
/// Every operation returns the transitions it caused in a deterministic order: the same sequence of calls yields
/// the same transitions, byte for byte, which the daemon relies on to recover exactly once. See
/// docs/evaluation.md for the state kept, scheduling, back-fill and persistence.
///
/// - Important: Not thread-safe. One owner calls it, from one task or thread at a time (the daemon keeps it behind
///   an actor or a `Mutex`). It is deliberately not `Sendable`.
public final class MembershipEngine {
    // MARK: - Clock and log position

    /// The engine's current instant, in Unix milliseconds. Moves only forward, with ``advance(to:)``.
    public internal(set) var nowMs: Int64
    /// The sequence number of the last change-log entry applied. Operations with a smaller number are ignored
    /// (already applied); an equal number is allowed (one entry may need several calls, e.g. at bootstrap).
    public internal(set) var appliedSeq: UInt64

    // MARK: - Catalog

    var attrSlots: [AttrSlot?] = []
    var attrIndex: [String: Int32] = [:]
    var freeAttrs: [Int32] = []

    var keySlots: [KeySlot?] = []
    var keyIndex: [AggregateKey: Int32] = [:]
    var keysByEvent: [String: [Int32]] = [:]
    var freeKeys: [Int32] = []

    var segs: [SegmentSlot?] = []
    var segIndex: [String: Int32] = [:]
    var freeSegs: [Int32] = []
    /// Segments in dependency order (a segment after every segment it reads with `in_segment`), ties by name.
    var order: [Int32] = []
    /// Segments reading a name (segment or list) with `in_segment`.
    var dependents: [String: [Int32]] = [:]
    /// Active segments with comparisons against `now`/`D ago`, in dependency order.
    var timeSensitive: [Int32] = []

    var listSlots: [ListSlot?] = []
    var listIndex: [String: Int32] = [:]
    var freeLists: [Int32] = []

    /// Names of attributes and events seen in data since the beginning of the log; `nil` when the history is
    /// unknown (the engine started from a snapshot), in which case every new need is back-filled.
    var seenAttributes: Set<String>?
    var seenEvents: Set<String>?

    // MARK: - Users

    var users: [UserRecord] = []
    var userIndex = UserSlotIndex()
    var freeUsers: [Int32] = []
    /// The scheduler: an indexed 4-ary min-heap of user slots ordered by `due` (``advance(to:)`` orders the users due
    /// at one instant by id); one entry per user with a due instant.
    var heap: [HeapEntry] = []
    /// Each user slot's position in `heap`, or -1.
    var heapPos: [Int32] = []
    /// Users changed since the last `takeDirtyUsers` (slots whose `dirty` flag is set; may hold stale slots) and
    /// users deleted since then.
    var dirtySlots: [Int32] = []
    var deletedUsers: Set<ByteKey> = []

    /// From this many users due by the instant of an ``advance(to:)`` on (and at least a 64th of the scheduled
    /// users), the move is done in bulk (see `advanceInBulk`); the tests lower it to run that path over a few users.
    var bulkAdvanceMinimum = 4_096
    /// While true, a user's new due instant is only recorded, not put in the scheduler (`advanceInBulk` rebuilds
    /// it).
    var deferScheduling = false

    /// From this many user slots on, a segment evaluated for every user is evaluated on all processors (see
    /// `valueForEachUser`); the tests lower it to run the parallel path over a few users.
    var parallelEvaluationMinimum = 16_384

    /// What a user new to the engine is evaluated for besides the segments reading its data, as bits by rank (see
    /// `segmentsToEvaluateForNewUsers()`); `nil` after a change of the segments or lists, until the next new user.
    var newUserRanks: [UInt64]?
    /// Evaluate every active segment for a new user instead (the tests' reference for `newUserRanks`).
    var evaluatesNewUsersInFull = false

    /// Scratch: the segments to evaluate for the user at hand, as bits by rank (position in `order`): evaluating finds
    /// them in dependency order without visiting every segment.
    var flaggedRanks: [UInt64] = []
    /// The rank of each segment slot (-1: a free slot), for flagging without reading the segment.
    var rankOfSlot: [Int32] = []
    /// The active segments, as bits by rank (what ``flagAllActive()`` flags).
    var activeRanks: [UInt64] = []
    /// Scratch: aggregates whose state changed in the operation at hand.
    var touchedKeys: [Int32] = []
    /// Scratch: aggregate values handed to a plan.
    var scratchValues: [AttributeValue?] = []
    /// Scratch: attribute values handed to a plan, in the order of its `attributes`.
    var scratchAttributes: [AttributeValue?] = []
    /// Scratch: heap positions still to visit in a walk of the scheduler's due entries (`forEachDueEntry`).
    var scratchPositions: [Int] = []
    /// Scratch: the batch of events at hand grouped by user (see ``BatchGrouping``).
    var batchGrouping = BatchGrouping()
    /// Scratch: the time-sensitive segments evaluated by the `evaluateFlagged` at hand.
    var scratchSensitive: [Int32] = []
    /// Scratch: the time-sensitive segments with a comparison due at the wake-up at hand (`flagDueComparisons`).
    var dueSensitive: [Int32] = []

    /// Work counters since the engine was created or restored, for metrics.
    public internal(set) var statistics = MembershipEngineStatistics()

    /// Creates an empty engine.
    ///
    /// - Parameters:
    ///   - nowMs: The starting instant, in Unix milliseconds.
    ///   - appliedSeq: The change-log position the engine starts at. `0` means the very beginning of the log: the
    ///     engine then sees all data and a new segment needs a back-fill only for data it has dropped. Any other
    ///     value means "starting from a snapshot at that position": every new need is back-filled.
    public init(nowMs: Int64, appliedSeq: UInt64 = 0) {
        self.nowMs = nowMs
        self.appliedSeq = appliedSeq
        if appliedSeq == 0 {
            seenAttributes = []
            seenEvents = []
        }
    }

    /// Records that a user's checkpoint record is out of date.
    @inline(__always)
    func markDirty(_ u: Int32) {
        let user = users[Int(u)]
        if !user.dirty {
            user.dirty = true
            dirtySlots.append(u)
        }
    }

    /// Whether an operation with this sequence number is new; records it (an entry with nothing for this engine still
    /// moves ``appliedSeq``).
    ///
    /// - Parameter seq: The change-log entry's sequence number.
    /// - Returns: `false` when an entry with a larger number was applied already.
    @discardableResult
    public func accept(_ seq: UInt64) -> Bool {
        guard seq >= appliedSeq else { return false }
        appliedSeq = seq
        return true
    }

    // MARK: - Queries

    /// Whether the engine knows the user (it has a profile write, an event or a list membership).
    ///
    /// - Parameter userID: The user id.
    /// - Returns: Whether the user exists.
    public func knowsUser(_ userID: String) -> Bool { userIndex.slot(of: userID, in: users) != nil }

    /// The number of users.
    public var userCount: Int { userIndex.count }

    /// Whether a segment (active or waiting for a back-fill) or a static list has this name.
    ///
    /// - Parameter name: A segment or list name.
    /// - Returns: Whether the engine knows it.
    public func knowsSegmentOrList(_ name: String) -> Bool { segIndex[name] != nil || listIndex[name] != nil }

    /// The number of saved segments (active or waiting for a back-fill).
    public var segmentCount: Int { segIndex.count }

    /// Whether the user is in a segment (or static list), and since when.
    ///
    /// - Parameters:
    ///   - userID: The user id.
    ///   - segment: A segment or static list name.
    /// - Returns: Membership and the instant the user entered (`nil` for lists and non-members).
    public func isMember(userID: String, segment: String) -> (member: Bool, sinceMs: Int64?) {
        guard let u = userIndex.slot(of: userID, in: users) else { return (false, nil) }
        if let s = segIndex[segment] {
            let p = users[Int(u)].memberPosition(s)
            return p.found ? (true, users[Int(u)].members[p.index].sinceMs) : (false, nil)
        }
        if let l = listIndex[segment] { return (users[Int(u)].listPosition(l).found, nil) }
        return (false, nil)
    }

    /// The segments and static lists a user is in, sorted by UTF-8 bytes (as `SegmentsOf` promises).
    ///
    /// - Parameter userID: The user id.
    /// - Returns: Segment and list names.
    public func segments(of userID: String) -> [String] {
        guard let u = userIndex.slot(of: userID, in: users) else { return [] }
        let segments = users[Int(u)].members.compactMap { segs[Int($0.segment)]?.name }
        let lists = users[Int(u)].lists.compactMap { listSlots[Int($0)]?.name }
        return (segments + lists).sorted(by: utf8Less)
    }

    /// The members of a segment or static list, sorted by UTF-8 bytes of the user id.
    ///
    /// - Parameter segment: A segment or list name.
    /// - Returns: User ids; empty for an unknown name.
    public func members(of segment: String) -> [String] {
        var out: [String] = []
        if let s = segIndex[segment] {
            out.reserveCapacity(segs[Int(s)]?.memberCount ?? 0)
            for user in users where user.alive && user.memberPosition(s).found { out.append(user.id) }
        } else if let l = listIndex[segment] {
            for user in users where user.alive && user.listPosition(l).found { out.append(user.id) }
        }
        return out.sorted(by: utf8Less)
    }

    /// The number of members of a segment or static list.
    ///
    /// - Parameter segment: A segment or list name.
    /// - Returns: The count; 0 for an unknown name.
    public func memberCount(of segment: String) -> Int {
        if let s = segIndex[segment] { return segs[Int(s)]?.memberCount ?? 0 }
        if let l = listIndex[segment] { return listSlots[Int(l)]?.memberCount ?? 0 }
        return 0
    }

    /// The earliest instant at which some membership can change by time alone, or `nil`. The daemon sets a timer
    /// for it (or, with a manual clock, waits for the clock to pass it) and calls ``advance(to:)``.
    ///
    /// - Returns: The instant in Unix milliseconds; may be early (nothing changes then), never late.
    public func nextDueMs() -> Int64? {
        heap.first?.due
    }

    /// The number of users with a scheduled wake-up (a membership that can change by time alone).
    public var scheduledWakeupCount: Int { heap.count }

    /// The saved segments: name, expression and whether it is active (not waiting for a back-fill), sorted by
    /// name.
    public var savedSegments: [(name: String, expression: SegmentExpression, active: Bool)] {
        segs.compactMap { $0 }.sorted { utf8Less($0.name, $1.name) }.map { ($0.name, $0.expression, $0.active) }
    }

    /// The static list names, sorted.
    public var listNames: [String] {
        listSlots.compactMap { $0?.name }.sorted(by: utf8Less)
    }

    /// Everything the engine keeps per user for the saved segments, including needs waiting for a back-fill.
    public var retention: RetentionNeeds {
        var needs = RetentionNeeds()
        for slot in attrSlots { if let slot { needs.attributes.insert(slot.name) } }
        for slot in keySlots {
            if let slot {
                for name in slot.key.eventNames { needs.events[name, default: []].formUnion(slot.projection) }
            }
        }
        return needs
    }

    /// Whether some need waits for a back-fill (``pendingNeeds`` is not empty), without building the needs.
    public var hasPendingNeeds: Bool {
        attrSlots.contains { $0?.live == false } || keySlots.contains { $0?.live == false }
    }

    /// The needs still waiting for a back-fill (see ``beginBackfill(snapshotSeq:)``).
    public var pendingNeeds: RetentionNeeds {
        var needs = RetentionNeeds()
        for slot in attrSlots { if let slot, !slot.live { needs.attributes.insert(slot.name) } }
        for slot in keySlots {
            if let slot, !slot.live {
                for name in slot.key.eventNames { needs.events[name, default: []].formUnion(slot.projection) }
            }
        }
        return needs
    }

    /// The users whose state changed (or who were deleted) since the last call, sorted by UTF-8 bytes; clears the
    /// set. For each, the daemon writes ``encodeUserState(_:)`` when ``knowsUser(_:)``, else deletes its record.
    ///
    /// - Returns: User ids.
    public func takeDirtyUsers() -> [String] {
        var ids = deletedUsers
        for u in dirtySlots where users[Int(u)].alive && users[Int(u)].dirty {
            users[Int(u)].dirty = false
            ids.insert(ByteKey(users[Int(u)].id))
        }
        dirtySlots.removeAll(keepingCapacity: true)
        deletedUsers.removeAll(keepingCapacity: true)
        return ids.map(\.string).sorted(by: utf8Less)
    }
}
