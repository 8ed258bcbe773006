import SegmentsSQL
import SegmentsWire
import SwiftProtobuf

/// The two per-user indexes of the store — which change-log entries mention a user
/// (`user_seqs`, for deletion) and which event ids a user has (`event_ids`, for de-duplication) —
/// with their newest entries held in memory and written to SQLite in large sorted groups.
///
/// Both indexes are derived from the change log. Writing them row by row at every commit costs a
/// random B-tree insert per event and rewrites most of both trees at every commit (measured:
/// 2 GiB written for an 87 MiB database). Instead, entries of the last entries are kept here and
/// flushed, sorted, once there are ``flushThreshold`` of them, in the same transaction as a
/// commit, together with `meta.index_seq`, the last change-log entry they cover. After a crash,
/// the entries after `index_seq` are rebuilt by reading the log's tail (``rebuild(from:)``), so
/// nothing is lost.
///
/// Used only on the writer thread.
final class DeferredUserIndex {
    /// Pending entries that trigger a flush.
    let flushThreshold: Int

    /// - Parameter flushThreshold: pending entries that trigger a flush.
    init(flushThreshold: Int) {
        self.flushThreshold = max(1, flushThreshold)
    }

    private var seqs: [Int64: [UInt64]] = [:]
    private var eventIDs: [Int64: Set<String>] = [:]
    /// Every pair in `event_ids` and in `eventIDs` (and maybe more), once loaded.
    private var eventIDFilter: EventIDFilter?
    /// While the filter is loaded on another thread: the pairs pending at the start of the load and every pair
    /// recorded since, which the load may not see (see ``beginEventIDFilterLoad(from:)``).
    private var eventIDsDuringLoad: EventIDFilter?
    private var pendingCount = 0
    /// Every change-log entry up to this number is in the SQLite tables.
    private(set) var indexedThroughSeq: UInt64 = 0

    // MARK: - Queries and updates

    /// Records that log entry `seq` mentions the user.
    func noteUser(_ userKey: Int64, inEntry seq: UInt64) {
        // One hash lookup: the list is modified in place through the dictionary.
        if Self.appendIfNew(seq, to: &self.seqs[userKey, default: []]) {
            self.pendingCount += 1
        }
    }

    private static func appendIfNew(_ seq: UInt64, to list: inout [UInt64]) -> Bool {
        guard list.last != seq else { return false }
        list.append(seq)
        return true
    }

    /// Records the user's event id unless it is already known.
    /// - Returns: `false` when the id was already recorded (the event is a duplicate).
    func insertEventID(_ eventID: String, userKey: Int64, in connection: any SQLConnection) throws -> Bool {
        if self.eventIDs[userKey]?.contains(eventID) == true {
            return false
        }
        // The table is searched only when the filter says the pair may be there.
        if self.eventIDFilter?.mayContain(userKey: userKey, eventID: eventID) ?? true {
            let select = try connection.cachedStatement("SELECT 1 FROM event_ids WHERE user_key = ? AND event_id = ?")
            defer { select.reset() }
            try select.bind(userKey, at: 1)
            try select.bind(eventID, at: 2)
            if try select.step() {
                return false
            }
        }
        self.eventIDs[userKey, default: []].insert(eventID)
        self.rememberInFilters(userKey: userKey, eventID: eventID)
        self.pendingCount += 1
        return true
    }

    /// Starts the load of the filter in front of `event_ids` (at start-up, after ``rebuild(from:)``): until
    /// ``installEventIDFilter(_:)``, every id is looked up in the table, and the pairs pending now or recorded from
    /// now on are kept in a filter of their own, to be merged into the loaded one.
    ///
    /// The load runs on a reader connection while the store serves: at 20M stored ids it takes tens of seconds,
    /// which would otherwise delay a start, and a standby's takeover. It needs no snapshot: a pair in the table
    /// before the load began stays there (a deleted user's pairs may stay in the filter; a false positive costs a
    /// lookup), and one flushed to the table since is in this filter.
    /// - Returns: the capacity to load the filter with, sized from `meta.event_count` (every stored event, so at
    ///   least the ids) rather than a count of the table.
    func beginEventIDFilterLoad(from connection: any SQLConnection) throws -> Int {
        let events = try connection.prepare("SELECT coalesce((SELECT value FROM meta WHERE key = 'event_count'), 0)")
        _ = try events.step()
        let capacity = max(4_000_000, 2 * Int(events.int64(at: 0)))
        let during = EventIDFilter(capacity: capacity)
        for (userKey, ids) in self.eventIDs {
            for eventID in ids { during.insert(userKey: userKey, eventID: eventID) }
        }
        self.eventIDsDuringLoad = during
        return capacity
    }

    /// Reads every pair of `event_ids` into a new filter of `capacity`, a page at a time, on any connection;
    /// stops early, returning `nil`, once `isCancelled` says so.
    static func loadEventIDFilter(
        capacity: Int,
        from connection: any SQLConnection,
        isCancelled: () -> Bool
    ) throws -> (filter: EventIDFilter, pairs: Int)? {
        let filter = EventIDFilter(capacity: capacity)
        let pages = KeysetPages(
            "SELECT user_key, event_id FROM event_ids WHERE (user_key, event_id) > (?, ?) ORDER BY user_key, event_id",
            after: (userKey: Int64.min, eventID: ""),
            rowsPerPage: StoreDatabase.rowsPerQuery,
            bind: { statement, after in
                try statement.bind(after.userKey, at: 1)
                try statement.bind(after.eventID, at: 2)
            },
            readKey: { (userKey: $0.int64(at: 0), eventID: $0.string(at: 1)) }
        )
        var pairs = 0
        while let row = try pages.next(in: connection) {
            filter.insert(userKey: row.int64(at: 0), eventID: row.string(at: 1))
            pairs += 1
            if pairs % StoreDatabase.rowsPerQuery == 0, isCancelled() { return nil }
        }
        return (filter, pairs)
    }

    /// Puts a filter made by ``loadEventIDFilter(capacity:from:isCancelled:)`` in front of `event_ids`, with the
    /// pairs recorded while it was loaded.
    func installEventIDFilter(_ loaded: EventIDFilter) {
        if let during = self.eventIDsDuringLoad {
            loaded.formUnion(during)
        }
        self.eventIDFilter = loaded
        self.eventIDsDuringLoad = nil
    }

    private func rememberInFilters(userKey: Int64, eventID: String) {
        self.eventIDFilter?.insert(userKey: userKey, eventID: eventID)
        self.eventIDsDuringLoad?.insert(userKey: userKey, eventID: eventID)
    }

    /// Every log entry that mentions the user, ascending.
    func entries(ofUser userKey: Int64, in connection: any SQLConnection) throws -> [UInt64] {
        let select = try connection.cachedStatement("SELECT seq FROM user_seqs WHERE user_key = ? ORDER BY seq")
        defer { select.reset() }
        try select.bind(userKey, at: 1)
        var result: [UInt64] = []
        while try select.step() {
            result.append(UInt64(select.int64(at: 0)))
        }
        return result + (self.seqs[userKey] ?? [])
    }

    /// Forgets everything about a deleted user, in memory and in the tables.
    func forget(_ userKey: Int64, in connection: any SQLConnection) throws {
        self.pendingCount -= (self.seqs.removeValue(forKey: userKey)?.count ?? 0)
        self.pendingCount -= (self.eventIDs.removeValue(forKey: userKey)?.count ?? 0)
        for sql in ["DELETE FROM user_seqs WHERE user_key = ?", "DELETE FROM event_ids WHERE user_key = ?"] {
            let delete = try connection.cachedStatement(sql)
            try delete.bind(userKey, at: 1)
            try delete.execute()
        }
    }

    // MARK: - Flushing and recovery

    /// Writes the pending entries when there are enough of them (or always with `force`), sorted,
    /// inside the caller's open transaction, and records that the tables cover entries up to
    /// `headSeq`.
    func flushIfNeeded(headSeq: UInt64, in connection: any SQLConnection, force: Bool = false) throws {
        guard force || self.pendingCount >= self.flushThreshold else { return }
        var seqRows: [(userKey: Int64, seq: UInt64)] = []
        seqRows.reserveCapacity(self.pendingCount)
        for userKey in self.seqs.keys.sorted() {
            for seq in self.seqs[userKey] ?? [] {
                seqRows.append((userKey, seq))
            }
        }
        try Self.insertRows("user_seqs(user_key, seq)", count: seqRows.count, in: connection) { statement, row, at in
            try statement.bind(seqRows[row].userKey, at: at)
            try statement.bind(Int64(seqRows[row].seq), at: at + 1)
        }
        var idRows: [(userKey: Int64, eventID: String)] = []
        idRows.reserveCapacity(max(0, self.pendingCount - seqRows.count))
        for userKey in self.eventIDs.keys.sorted() {
            for eventID in (self.eventIDs[userKey] ?? []).sorted() {
                idRows.append((userKey, eventID))
            }
        }
        let idTarget = "event_ids(user_key, event_id)"
        try Self.insertRows(idTarget, count: idRows.count, in: connection) { statement, row, at in
            try statement.bind(idRows[row].userKey, at: at)
            try statement.bind(idRows[row].eventID, at: at + 1)
        }
        let save = try connection.cachedStatement(
            "INSERT INTO meta(key, value) VALUES ('index_seq', ?1) ON CONFLICT(key) DO UPDATE SET value = ?1"
        )
        try save.bind(Int64(headSeq), at: 1)
        try save.execute()
        self.seqs.removeAll(keepingCapacity: true)
        self.eventIDs.removeAll(keepingCapacity: true)
        self.pendingCount = 0
        self.indexedThroughSeq = headSeq
    }

    /// Rows per multi-row `INSERT` of a flush.
    static let rowsPerInsert = 128

    /// Runs `INSERT INTO target VALUES (?, ?), … ON CONFLICT DO NOTHING` for `count` two-column rows.
    /// - Parameters:
    ///   - target: table and its two columns, e.g. `user_seqs(user_key, seq)`.
    ///   - bind: binds row `row` at parameters `at` and `at + 1`.
    private static func insertRows<Connection: SQLConnection>(
        _ target: String,
        count: Int,
        in connection: Connection,
        bind: (_ statement: any SQLStatement, _ row: Int, _ at: Int) throws -> Void
    ) throws {
        try connection.insertRows(
            "INSERT INTO \(target)",
            conflict: "ON CONFLICT DO NOTHING",
            columns: 2,
            count: count,
            rowsPerStatement: Self.rowsPerInsert
        ) { statement, row, at in try bind(statement, row, at) }
    }

    /// Rebuilds the in-memory part from the change log: every entry after `meta.index_seq`.
    /// Called at start-up and after a rolled-back write.
    func rebuild(from connection: any SQLConnection) throws {
        self.seqs.removeAll()
        self.eventIDs.removeAll()
        self.pendingCount = 0
        let meta = try connection.cachedStatement("SELECT value FROM meta WHERE key = 'index_seq'")
        self.indexedThroughSeq = try meta.step() ? UInt64(meta.int64(at: 0)) : 0
        meta.reset()
        // In log order: a user's entries are kept ascending (PostgreSQL, unlike SQLite, returns rows in no set order).
        // A few entries per query, since entries can be large; their users looked up a few hundred per query.
        let pages = KeysetPages(
            "SELECT seq, payload FROM change_log WHERE seq > ? AND kind IN (?, ?, ?) ORDER BY seq",
            after: Int64(self.indexedThroughSeq),
            rowsPerPage: StoreDatabase.logEntriesPerQuery,
            bind: { statement, after in
                try statement.bind(after, at: 1)
                try statement.bind(ChangeKind.profilesUpserted.rawValue, at: 2)
                try statement.bind(ChangeKind.eventsTracked.rawValue, at: 3)
                try statement.bind(ChangeKind.listMembersChanged.rawValue, at: 4)
            },
            readKey: { $0.int64(at: 0) }
        )
        let userKeys = UserKeyCache()
        var page: [(seq: UInt64, entry: Segments_V1_ChangeEntry)] = []
        repeat {
            page.removeAll(keepingCapacity: true)
            while page.count < StoreDatabase.logEntriesPerQuery, let row = try pages.next(in: connection) {
                page.append((UInt64(row.int64(at: 0)), try Segments_V1_ChangeEntry(serializedBytes: row.blob(at: 1))))
            }
            let deleted = Set(try userKeys.prefetch(page.flatMap { Self.users(of: $0.entry) }, in: connection))
            for (seq, entry) in page {
                for userID in Self.users(of: entry) where !deleted.contains(userID) {
                    if let key = try userKeys.key(for: userID, in: connection) {
                        self.noteUser(key, inEntry: seq)
                    }
                }
                guard case .eventsTracked(let tracked) = entry.change else { continue }
                for event in tracked.events where !event.eventID.isEmpty && !deleted.contains(event.userID) {
                    guard let key = try userKeys.key(for: event.userID, in: connection) else { continue }
                    if self.eventIDs[key, default: []].insert(event.eventID).inserted {
                        self.rememberInFilters(userKey: key, eventID: event.eventID)
                        self.pendingCount += 1
                    }
                }
            }
        } while page.count == StoreDatabase.logEntriesPerQuery
    }

    /// The users an entry mentions (a user may come more than once).
    private static func users(of entry: Segments_V1_ChangeEntry) -> [String] {
        switch entry.change {
        case .profilesUpserted(let upserted): upserted.changes.map(\.userID)
        case .eventsTracked(let tracked): tracked.events.map(\.userID)
        case .listMembersChanged(let changed): changed.added + changed.removed
        default: []
        }
    }
}
