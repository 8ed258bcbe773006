import SegmentLanguage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The engine's internal tables. Users, attribute names, aggregates, segments and lists are interned as dense
// `Int32` indexes so that per-user state holds small integers instead of strings.

/// A string compared and hashed by its UTF-8 bytes, as the contract compares user ids and event names (Swift's
/// `String` equality would merge canonically equivalent spellings).
struct ByteKey: Hashable {
    let string: String

    init(_ string: String) { self.string = string }

    static func == (lhs: ByteKey, rhs: ByteKey) -> Bool { utf8Equal(lhs.string, rhs.string) }

    func hash(into hasher: inout Hasher) {
        var copy = string
        copy.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}

extension Array {
    /// Inserts, growing the capacity by about a quarter instead of doubling it when full. The per-user arrays
    /// (attributes, aggregate states, memberships, window entries) are many and small and mostly stop growing, so
    /// doubling would leave up to half of each unused; the extra copies cost little at these sizes.
    @inline(__always)
    mutating func compactInsert(_ element: Element, at index: Int) {
        if count == capacity { reserveCapacity(count + Swift.max(1, count / 4)) }
        insert(element, at: index)
    }

    /// Appends, growing the capacity like ``compactInsert(_:at:)``.
    @inline(__always)
    mutating func compactAppend(_ element: Element) {
        if count == capacity { reserveCapacity(count + Swift.max(1, count / 4)) }
        append(element)
    }
}

/// Whether two strings have the same UTF-8 bytes. Compares the contiguous storage of native strings with `memcmp`
/// (`elementsEqual` walks it byte by byte); falls back to the UTF-8 views otherwise.
@inline(__always)
func utf8Equal(_ a: String, _ b: String) -> Bool {
    let (x, y) = (a.utf8, b.utf8)
    guard x.count == y.count else { return false }
    let fast = x.withContiguousStorageIfAvailable { p in
        y.withContiguousStorageIfAvailable { q in p.isEmpty || memcmp(p.baseAddress!, q.baseAddress!, p.count) == 0 }
    }
    if let fast, let fast { return fast }
    return x.elementsEqual(y)
}

/// UTF-8 byte order of strings (the order of Unicode scalar values), the order the contract sorts user ids and
/// names in. Compares the contiguous storage of native strings with `memcmp`; falls back to the UTF-8 views
/// otherwise.
@inline(__always)
public func utf8Less(_ a: String, _ b: String) -> Bool {
    let fast = a.utf8.withContiguousStorageIfAvailable { p in
        b.utf8.withContiguousStorageIfAvailable { q in
            let common = min(p.count, q.count)
            let order = common == 0 ? 0 : memcmp(p.baseAddress!, q.baseAddress!, common)
            return order != 0 ? order < 0 : p.count < q.count
        }
    }
    if let fast, let fast { return fast }
    return a.utf8.lexicographicallyPrecedes(b.utf8)
}

extension String {
    /// The string in a new allocation made by the calling thread when it is stored out of line (more than 15 UTF-8
    /// bytes); small strings are held inline and returned as they are.
    ///
    /// The evaluator decodes the change feed on a thread of its own, and glibc serves each thread from an arena of
    /// its own. A string the engine keeps for good (a user id, an attribute value) that is still the decoder's
    /// allocation pins its page in the decoder's arena, whose other chunks (the decoded batches) are all freed
    /// after each batch: such pages stay resident, mostly free. Copied on the feed's thread, the string sits with
    /// the rest of the engine's state.
    func copiedOut() -> String {
        utf8.count <= 15 ? self : String(decoding: Array(utf8), as: UTF8.self)
    }
}

extension AttributeValue {
    /// The value with its heap parts (a list's buffer, strings stored out of line) in new allocations made by the
    /// calling thread (see ``Swift/String/copiedOut()``). At 100k users with a list attribute each, the lists left in
    /// the decoder's arena kept about 35 MiB of otherwise free pages resident.
    func copiedOut() -> AttributeValue {
        switch self {
        case .string(let s): return .string(s.copiedOut())
        case .stringList(let list): return .stringList(list.map { $0.copiedOut() })
        case .number, .bool, .timestamp: return self
        }
    }
}

/// One retained attribute value of a user. The value comes first so that the name fits in its padding (24 bytes,
/// not 32).
struct AttrEntry {
    var value: AttributeValue
    var name: Int32

    init(name: Int32, value: AttributeValue) {
        self.value = value
        self.name = name
    }
}

extension Array {
    /// Where the element whose `key` is `target` is (or would go) in elements sorted by `key`: the binary search of the
    /// per-user arrays, each sorted by an interned index (attributes, aggregate states, memberships, lists).
    @inline(__always)
    func sortedPosition(of target: Int32, by key: (Element) -> Int32) -> (found: Bool, index: Int) {
        var lo = 0
        var hi = count
        while lo < hi {
            let mid = (lo + hi) / 2
            if key(self[mid]) < target { lo = mid + 1 } else { hi = mid }
        }
        return (lo < count && key(self[lo]) == target, lo)
    }
}

extension [UInt64] {
    /// Whether bit `i` is set, the array read as a set of small integers, 64 per word (segments by rank).
    @inline(__always)
    func hasBit(_ i: Int) -> Bool { self[i >> 6] & 1 << UInt64(i & 63) != 0 }

    /// Sets bit `i` (see ``hasBit(_:)``).
    @inline(__always)
    mutating func setBit(_ i: Int) { self[i >> 6] |= 1 << UInt64(i & 63) }
}

extension Array where Element: ExpressibleByNilLiteral {
    /// Appends `nil`s up to `count` elements (a longer array is left as it is): scratch arrays of optional values
    /// that are written by index, not cleared between uses.
    @inline(__always)
    mutating func extend(to count: Int) {
        if self.count < count { append(contentsOf: repeatElement(nil, count: count - self.count)) }
    }
}

extension [AttrEntry] {
    /// Where the entry of attribute `name` is (or would go) in entries sorted by name index.
    func position(of name: Int32) -> (found: Bool, index: Int) { sortedPosition(of: name) { $0.name } }
}

/// One membership of a user: the segment and the instant the user entered it.
///
/// The instant is kept as two 32-bit halves, so that the entry is 12 bytes with 4-byte alignment instead of 16
/// (an `Int64` field would align the entry to 8 bytes and pad it): users hold several memberships each.
struct MemberEntry {
    var segment: Int32
    private var sinceLow: UInt32
    private var sinceHigh: Int32

    init(segment: Int32, sinceMs: Int64) {
        self.segment = segment
        sinceLow = UInt32(truncatingIfNeeded: sinceMs)
        sinceHigh = Int32(truncatingIfNeeded: sinceMs >> 32)
    }

    /// The instant the user entered the segment, in Unix milliseconds.
    var sinceMs: Int64 {
        get { Int64(sinceHigh) << 32 | Int64(sinceLow) }
        set {
            sinceLow = UInt32(truncatingIfNeeded: newValue)
            sinceHigh = Int32(truncatingIfNeeded: newValue >> 32)
        }
    }
}

/// One matching event of a windowed aggregate, or one pending (future-dated) event of an unwindowed one: its
/// instant and the numeric property the aggregate reads (NaN when the event has none).
struct Entry {
    var at: Int64
    var v: Double
}

/// How an aggregate's per-user state is kept.
enum KeyMode: UInt8 {
    /// No window, filter independent of time: running totals of settled events plus pending future ones.
    case totals = 0
    /// A window, filter independent of time: the matching events still inside the window (and future ones),
    /// sorted by instant.
    case window = 1
    /// A filter that compares a property with `now` or `D ago`: the matching-name events themselves, projected on
    /// the properties the filter and the aggregate read, re-scanned on each evaluation.
    case raw = 2
}

/// The per-user state of one aggregate.
///
/// `totals` mode: `n`/`x` are the running totals of the settled events (`at <= now`), per kind:
///
/// | kind  | n                     | x                         |
/// |-------|-----------------------|---------------------------|
/// | count | number of events      | unused                    |
/// | sum   | unused                | sum of numeric values     |
/// | avg   | number of numeric     | sum of numeric values     |
/// | min   | number of numeric     | minimum                   |
/// | max   | number of numeric     | maximum                   |
/// | first | earliest `at`         | 1 when present, else 0    |
/// | last  | latest `at`           | 1 when present, else 0    |
///
/// and its entries are the pending future-dated events, sorted. `window` mode: its entries are the events with
/// `at > now - window` (future ones included), sorted — and, between wake-ups, possibly some that have left it
/// (they are dropped lazily, see `AggregateLogic.computeNext`). `raw` mode: `raw` holds the events. In these two
/// modes `n` caches the next instant at which the value can change in a way that matters (`Int64.max`: never), so
/// that the scheduler does not touch the events.
/// `witness` keeps the properties of the event that gives `first`/`last` its value when the aggregate has a filter
/// (the plan's next-change computation needs an event that passes the filter).
///
/// The entries are not in the state: a user keeps the entries of all its states in one array
/// (``UserRecord/entries``), state after state in key order, and a state knows only how many are its own
/// (`entryCount`). One array per user instead of one per windowed aggregate saves an allocation and its header per
/// aggregate, which at a few entries each was most of the entries' memory. The functions of ``AggregateLogic``
/// take the state, that array and where the state's entries start in it (`base`).
///
/// `raw` and `witness` are rarely used, so they live in a box that exists only while one of them is non-empty:
/// a state is 32 bytes. The box is copied on write, so `KeyState` keeps value semantics.
struct KeyState {
    var key: Int32
    /// How many of the owner's entries, from the state's base on, are this state's.
    var entryCount: Int32 = 0
    var n: Int64 = 0
    var x: Double = 0
    private var extra: KeyExtra?

    init(key: Int32) { self.key = key }

    /// Raw events (raw mode) or the pending events' properties (first/last with a filter).
    var raw: [EventRecord] {
        get { extra?.raw ?? [] }
        _modify {
            let box = uniqueExtra()
            yield &box.raw
            if box.raw.isEmpty && box.witness.isEmpty { extra = nil }
        }
    }

    /// The properties of the event giving first/last its value (with a filter).
    var witness: [String: AttributeValue] {
        get { extra?.witness ?? [:] }
        _modify {
            let box = uniqueExtra()
            yield &box.witness
            if box.raw.isEmpty && box.witness.isEmpty { extra = nil }
        }
    }

    /// Whether the box of rare parts exists: the state has raw events or a witness (known without copying
    /// either out).
    var hasExtra: Bool { extra != nil }

    /// The box, created or copied so that this state is its only owner.
    private mutating func uniqueExtra() -> KeyExtra {
        if !isKnownUniquelyReferenced(&extra) {
            extra = extra.map { KeyExtra(raw: $0.raw, witness: $0.witness) } ?? KeyExtra(raw: [], witness: [:])
        }
        return extra!
    }

    /// Whether the state equals the state of an aggregate with no events (so it need not be kept).
    var isEmpty: Bool { (n == 0 || n == .max) && x == 0 && entryCount == 0 && raw.isEmpty }

    /// Where the state's entries are in its owner's array, given where they start.
    @inline(__always)
    func span(base: Int) -> Range<Int> { base..<(base + Int(entryCount)) }

}

/// An aggregate state with its entries in an array of its own: a state being built (a new aggregate's first
/// event, a back-fill, a derivation) before it joins a user's arrays with ``UserRecord/setAggregate(_:)``.
struct DetachedState {
    var state: KeyState
    var entries: [Entry] = []

    init(key: Int32) { state = KeyState(key: key) }

    /// ``AggregateLogic/ingest(_:_:base:slot:event:now:)`` on this state.
    mutating func ingest(slot: KeySlot, event: EventRecord, now: Int64) -> Bool {
        AggregateLogic.ingest(&state, &entries, base: 0, slot: slot, event: event, now: now)
    }

    /// ``AggregateLogic/advance(_:_:base:slot:to:)`` on this state.
    @discardableResult
    mutating func advance(slot: KeySlot, to t: Int64) -> Bool {
        AggregateLogic.advance(&state, &entries, base: 0, slot: slot, to: t)
    }
}

/// The rarely used parts of a ``KeyState`` (see there).
final class KeyExtra {
    var raw: [EventRecord]
    var witness: [String: AttributeValue]

    init(raw: [EventRecord], witness: [String: AttributeValue]) {
        self.raw = raw
        self.witness = witness
    }
}

extension [KeyState] {
    /// Where the state of aggregate `key` is (or would go) in states sorted by key index.
    func position(of key: Int32) -> (found: Bool, index: Int) { sortedPosition(of: key) { $0.key } }

    /// Where the entries of `self[index]` start in the user's entries (or where they would go, for `count`).
    @inline(__always)
    func entryBase(_ index: Int) -> Int {
        var base = 0
        var i = 0
        while i < index {
            base &+= Int(self[i].entryCount)
            i &+= 1
        }
        return base
    }
}

/// Everything the engine keeps about one user. A class, so that reading a user from the table does not copy its
/// arrays.
final class UserRecord {
    let id: String
    /// Retained attribute values, sorted by name index.
    var attrs: [AttrEntry] = []
    /// Aggregate states, sorted by key index; aggregates with no events have no state.
    var aggs: [KeyState] = []
    /// The entries of the aggregate states, state after state in the order of `aggs` (see ``KeyState``).
    var entries: [Entry] = []
    /// Memberships, sorted by segment index.
    var members: [MemberEntry] = []
    /// Static lists the user is in, sorted by list index.
    var lists: [Int32] = []
    /// The earliest instant any membership can change by time alone (`Int64.max`: never).
    var due: Int64 = .max
    /// The part of `due` that comes from comparisons with `now`/`D ago` (attributes, `first`/`last`).
    var exprDue: Int64 = .max
    /// False for a free slot.
    var alive = true
    /// Changed since the last checkpoint.
    var dirty = false

    init(id: String) { self.id = id }

    func attrPosition(_ name: Int32) -> (found: Bool, index: Int) { attrs.position(of: name) }

    func aggPosition(_ key: Int32) -> (found: Bool, index: Int) { aggs.position(of: key) }

    /// Where the entries of `aggs[index]` start in `entries` (or where they would go, for `aggs.count`).
    @inline(__always)
    func entryBase(_ index: Int) -> Int { aggs.entryBase(index) }

    /// Puts a state built on its own in place of the user's state of the same aggregate, or inserts it.
    func setAggregate(_ detached: DetachedState) {
        let p = aggPosition(detached.state.key)
        let base = entryBase(p.index)
        if p.found {
            entries.replaceSubrange(aggs[p.index].span(base: base), with: detached.entries)
            aggs[p.index] = detached.state
        } else {
            if !detached.entries.isEmpty {
                if entries.capacity < entries.count + detached.entries.count {
                    entries.reserveCapacity(entries.count + Swift.max(detached.entries.count, entries.count / 4))
                }
                entries.insert(contentsOf: detached.entries, at: base)
            }
            aggs.compactInsert(detached.state, at: p.index)
        }
    }

    /// Removes the states (and their entries) for which `drop` is true.
    /// - Returns: Whether any was removed.
    @discardableResult
    func removeAggregates(where drop: (Int32) -> Bool) -> Bool {
        guard aggs.contains(where: { drop($0.key) }) else { return false }
        var keptStates: [KeyState] = []
        var keptEntries: [Entry] = []
        keptStates.reserveCapacity(aggs.count)
        keptEntries.reserveCapacity(entries.count)
        var base = 0
        for st in aggs {
            let span = st.span(base: base)
            base = span.upperBound
            if drop(st.key) { continue }
            keptStates.append(st)
            keptEntries.append(contentsOf: entries[span])
        }
        aggs = keptStates
        entries = keptEntries
        return true
    }

    func memberPosition(_ segment: Int32) -> (found: Bool, index: Int) {
        members.sortedPosition(of: segment) { $0.segment }
    }

    func listPosition(_ list: Int32) -> (found: Bool, index: Int) { lists.sortedPosition(of: list) { $0 } }

    func attribute(_ name: Int32) -> AttributeValue? {
        let p = attrPosition(name)
        return p.found ? attrs[p.index].value : nil
    }
}

/// A scheduler entry: a user slot and its due instant (a copy of `UserRecord.due`, kept here so that sifting reads
/// contiguous memory).
struct HeapEntry {
    var due: Int64
    var user: Int32
}

/// An interned attribute name.
struct AttrSlot {
    var name: String
    /// Number of segments reading it.
    var refs: Int
    /// False while it waits for a back-fill.
    var live: Bool
    /// Segments reading it.
    var segments: [Int32] = []
}

/// An interned aggregate. A class so that reading one from the table does not copy (and retain) its fields.
final class KeySlot {
    let key: AggregateKey
    let mode: KeyMode
    /// Number of segments using it.
    var refs: Int
    /// False while it waits for a back-fill.
    var live: Bool
    /// Properties kept per event (raw mode) or for the witness (first/last with a filter).
    let projection: [String]
    /// Segments using it.
    var segments: [Int32] = []
    /// For a `count` (windowed or not, no time-reading filter) that every segment using it compares only with
    /// number literals: those numbers, sorted, distinct (see `SegmentPlan.comparedNumbers`). Between two crossings
    /// of one of them, each of those comparisons keeps its value, so: a windowed count wakes its user only when,
    /// falling as events leave the window, it crosses one (not at every event's exit), and an event that leaves the
    /// count on the same side of each does not re-evaluate the segments. `nil`: every change of the value matters.
    /// Set by `rebuildOrder`.
    var thresholds: [Double]?

    init(key: AggregateKey, refs: Int, live: Bool) {
        self.key = key
        self.refs = refs
        self.live = live
        if key.sequence != nil {
            mode = .raw
        } else if let filter = key.filter, filter.readsTime {
            mode = .raw
        } else if key.windowMs != nil {
            mode = .window
        } else {
            mode = .totals
        }
        var names = key.filter?.propertyNames ?? key.sequence?.propertyNames ?? []
        if let p = key.property, !names.contains(p) { names.append(p) }
        projection = names
        eventNames = key.eventNames
    }

    /// The names of the events that can change the value (``SegmentLanguage/AggregateKey/eventNames``).
    let eventNames: [String]

    /// Whether events named `name` can change the value: ``SegmentLanguage/AggregateKey/reads(_:)``, without copying
    /// the key (and retaining its fields) at every event.
    @inline(__always)
    func reads(_ name: String) -> Bool {
        for candidate in eventNames where utf8Equal(candidate, name) { return true }
        return false
    }

    var isFirstOrLast: Bool { key.kind == .first || key.kind == .last }
}

/// A saved segment. A class so that reading one from the table does not copy (and retain) its fields.
final class SegmentSlot {
    let name: String
    let expression: SegmentExpression
    let plan: SegmentPlan
    /// Interned `plan.attributes`, in plan order.
    let attrs: [Int32]
    /// Interned `plan.aggregates`, in plan order.
    let keys: [Int32]
    /// Whether the expression compares something with `now` or `D ago` (then the plan's next-change is asked).
    let timeSensitive: Bool
    /// False while some attribute or aggregate it reads waits for a back-fill.
    var active: Bool
    /// Number of members.
    var memberCount: Int = 0
    /// Position in the dependency order.
    var rank: Int = 0
    /// Segments reading this one with `in_segment`.
    var dependents: [Int32] = []
    /// What each name of `plan.segments` refers to, by index (kept current by
    /// ``MembershipEngine/resolveMemberTargets()``), so that evaluating `in_segment` hashes no name.
    var memberTargets: [MemberTarget] = [] {
        didSet {
            resolved?.deallocate()
            resolved = nil
        }
    }
    /// `attrs`, the aggregates' slots and `memberTargets` in buffers of the segment's own, which an evaluation reads
    /// without reference counting (see ``ResolvedInputs``): made on first use by
    /// ``MembershipEngine/resolvedInputs(_:)``, dropped when `memberTargets` changes.
    var resolved: ResolvedInputs?

    init(
        name: String,
        expression: SegmentExpression,
        plan: SegmentPlan,
        attrs: [Int32],
        keys: [Int32],
        timeSensitive: Bool,
        active: Bool
    ) {
        self.name = name
        self.expression = expression
        self.plan = plan
        self.attrs = attrs
        self.keys = keys
        self.timeSensitive = timeSensitive
        self.active = active
    }

    deinit { resolved?.deallocate() }
}

/// What a name read by `in_segment` refers to: a segment or a static list of the engine, by slot, or nothing (a
/// name neither defines reads as never a member). See ``MembershipEngine/memberTarget(_:)``.
enum MemberTarget {
    case segment(Int32)
    case list(Int32)
    case none
}

/// A static list.
struct ListSlot {
    var name: String
    var memberCount: Int = 0
}
