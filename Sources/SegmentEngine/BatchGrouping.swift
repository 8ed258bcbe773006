import SegmentLanguage

/// One batch of events grouped by user, in order of first appearance, each user's events kept in order: each event
/// links to the next one of its user (`next`), so that grouping allocates no array per user.
///
/// A known user's slot is looked up once, here, and its group found by slot in an open-addressing table over the
/// slots (a multiplication and integer comparisons per probe); only users new to the engine are grouped by id
/// (they get their slot when their first event is applied, in order of first appearance). A dictionary keyed by
/// the id bytes hashed every event's id a second time and compared ids byte by byte.
///
/// The engine keeps one grouping and reuses its storage from batch to batch: allocated per batch, its buffers (a
/// quarter of a megabyte for a batch of 10,000 events) came and went between the allocations of the users a
/// catch-up creates, and left the heap fragmented (15–25 MiB more resident after a catch-up at 100k users).
struct BatchGrouping {
    /// Per group: the index of its first event.
    private(set) var firsts: [Int] = []
    /// Per group: the user's slot, or -1 for a user new to the engine.
    private(set) var slots: [Int32] = []
    /// Per event: the index of the next event of its user, or -1.
    private(set) var next: [Int] = []
    /// Per group: the index of its last event so far.
    private var lasts: [Int] = []
    /// The table of slots (-1: empty), a power of two long, with each slot's group.
    private var tableSlots: [Int32] = []
    private var tableGroups: [Int32] = []
    /// The table's cells in use, emptied before the next batch.
    private var used: [Int32] = []

    /// Groups `events` (whose users are looked up in `index` over `users`).
    mutating func group(
        _ events: [(userID: String, event: EventRecord)],
        index: UserSlotIndex,
        users: [UserRecord]
    ) {
        reset(for: events.count)
        var newUsers: [ByteKey: Int] = [:]
        for i in events.indices {
            let slot = index.slot(of: events[i].userID, in: users)
            let group: Int?
            if let slot {
                group = self.group(of: slot, orAdd: firsts.count)
            } else {
                let key = ByteKey(events[i].userID)
                group = newUsers[key]
                if group == nil { newUsers[key] = firsts.count }
            }
            if let group {
                next[lasts[group]] = i
                lasts[group] = i
            } else {
                firsts.append(i)
                lasts.append(i)
                slots.append(slot ?? -1)
            }
        }
    }

    private mutating func reset(for count: Int) {
        for cell in used { tableSlots[Int(cell)] = -1 }
        used.removeAll(keepingCapacity: true)
        firsts.removeAll(keepingCapacity: true)
        lasts.removeAll(keepingCapacity: true)
        slots.removeAll(keepingCapacity: true)
        next.removeAll(keepingCapacity: true)
        next.append(contentsOf: repeatElement(-1, count: count))
        // At most half full.
        var size = 16
        while size < 2 * count { size *= 2 }
        if tableSlots.count < size {
            tableSlots = [Int32](repeating: -1, count: size)
            tableGroups = [Int32](repeating: 0, count: size)
        }
    }

    /// The group of `slot`, or `nil` after recording `newGroup` as its group.
    @inline(__always)
    private mutating func group(of slot: Int32, orAdd newGroup: Int) -> Int? {
        let mask = tableSlots.count - 1
        // Fibonacci hashing: the slot times 2^64 / φ, top bits first.
        let mixed = UInt64(UInt32(bitPattern: slot)) &* 0x9E37_79B9_7F4A_7C15
        var i = Int(truncatingIfNeeded: mixed >> 32) & mask
        while true {
            let s = tableSlots[i]
            if s == slot { return Int(tableGroups[i]) }
            if s < 0 {
                tableSlots[i] = slot
                tableGroups[i] = Int32(truncatingIfNeeded: newGroup)
                used.append(Int32(truncatingIfNeeded: i))
                return nil
            }
            i = (i &+ 1) & mask
        }
    }
}
