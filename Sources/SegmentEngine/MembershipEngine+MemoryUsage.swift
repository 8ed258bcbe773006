import SegmentLanguage

/// Where the engine's memory goes, by kind of state: an estimate computed from the sizes and capacities of its
/// tables (see ``MembershipEngine/memoryUsage()``), for benchmarks, logs and status pages.
public struct EngineMemoryUsage: Sendable, Hashable {
    /// The per-user records themselves (one object each: id, due instants, flags, array references).
    public var userRecords = 0
    /// User ids too long to be stored inline (more than 15 UTF-8 bytes).
    public var userIDs = 0
    /// The id → user slot table (``UserSlotIndex``).
    public var userIndex = 0
    /// Retained attribute values (arrays of 24-byte cells), including strings stored out of line.
    public var attributes = 0
    /// Aggregate states (arrays of 32-byte states), without their event entries.
    public var aggregateStates = 0
    /// Event entries kept by windowed aggregates and pending future-dated events (16 bytes each, in one array per
    /// user).
    public var windowEntries = 0
    /// Raw events kept for filters that read the clock, and first/last witnesses.
    public var rawEvents = 0
    /// Memberships (12 bytes each) and static-list memberships (4 bytes each).
    public var memberships = 0
    /// The scheduler's heap and positions, and the dirty-user list.
    public var scheduler = 0
    /// Event entries held, all users together.
    public var windowEntryCount = 0

    /// All of the above, in bytes.
    public var total: Int {
        userRecords + userIDs + userIndex + attributes + aggregateStates + windowEntries + rawEvents + memberships
            + scheduler
    }

    /// The categories with their names, in a fixed order, for printing.
    public var categories: [(name: String, bytes: Int)] {
        [
            ("user records", userRecords), ("user ids", userIDs), ("user index", userIndex),
            ("attributes", attributes), ("aggregate states", aggregateStates), ("window entries", windowEntries),
            ("raw events", rawEvents), ("memberships", memberships), ("scheduler", scheduler),
        ]
    }
}

/// glibc's size of an allocation of `bytes` (8 bytes of chunk header, 16-byte granules, 32 at least).
@inline(__always)
func mallocSize(_ bytes: Int) -> Int { max(32, (bytes + 8 + 15) & ~15) }

/// The heap size of an array's buffer with `capacity` elements of `Element` (none for an empty array).
@inline(__always)
func arrayHeapBytes<Element>(_ array: [Element]) -> Int {
    array.capacity == 0 ? 0 : mallocSize(32 + array.capacity * MemoryLayout<Element>.stride)
}

/// The heap size of a string's storage (none for a small string held inline).
@inline(__always)
func stringHeapBytes(_ string: String) -> Int {
    string.utf8.count <= 15 ? 0 : mallocSize(32 + string.utf8.count + 1)
}

extension MembershipEngine {
    /// An estimate of the heap memory held for users, computed from the tables' sizes and capacities as glibc
    /// would allocate them. Walks every user: O(users), for benchmarks and occasional status, not per request.
    /// Catalog tables (segments, plans, interned names) are small and not counted.
    ///
    /// - Returns: Bytes by kind of state.
    public func memoryUsage() -> EngineMemoryUsage {
        var usage = EngineMemoryUsage()
        // Object header (16) + id (16) + five array references (40) + two instants (16) + two flags.
        let recordBytes = mallocSize(16 + 16 + 40 + 16 + 2)
        for user in users {
            usage.userRecords += recordBytes
            usage.userIDs += stringHeapBytes(user.id)
            usage.attributes += arrayHeapBytes(user.attrs)
            for entry in user.attrs {
                if case .string(let s) = entry.value { usage.attributes += stringHeapBytes(s) }
            }
            usage.aggregateStates += arrayHeapBytes(user.aggs)
            usage.windowEntries += arrayHeapBytes(user.entries)
            usage.windowEntryCount += user.entries.count
            for state in user.aggs {
                if state.hasExtra {
                    usage.rawEvents += mallocSize(16 + 8 + 8) + arrayHeapBytes(state.raw)
                    for event in state.raw { usage.rawEvents += 64 * max(1, event.properties.count) }
                    usage.rawEvents += 64 * state.witness.count
                }
            }
            usage.memberships += arrayHeapBytes(user.members) + arrayHeapBytes(user.lists)
        }
        usage.userRecords += arrayHeapBytes(users)
        usage.userIndex = userIndex.heapBytes
        usage.scheduler =
            arrayHeapBytes(heap) + arrayHeapBytes(heapPos) + arrayHeapBytes(dirtySlots)
            + arrayHeapBytes(freeUsers)
        return usage
    }
}
