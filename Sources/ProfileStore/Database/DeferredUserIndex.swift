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
        self.eventIDFilter?.insert(userKey: userKey, eventID: eventID)
        self.pendingCount += 1
        return true
    }

    /// Builds the filter in front of `event_ids` from the table and the pending ids (at start-up,
    /// after ``rebuild(from:)``), sized from `meta.event_count` (every stored event, so at least
    /// the ids) rather than a second pass over the table.
    /// - Returns: The number of pairs in the table.
    @discardableResult
    func loadEventIDFilter(from connection: any SQLConnection) throws -> Int {
        let events = try connection.prepare("SELECT coalesce((SELECT value FROM meta WHERE key = 'event_count'), 0)")
        _ = try events.step()
        let filter = EventIDFilter(capacity: max(4_000_000, 2 * Int(events.int64(at: 0))))
        let rows = try connection.prepare("SELECT user_key, event_id FROM event_ids")
        var stored = 0
        while try rows.step() {
            filter.insert(userKey: rows.int64(at: 0), eventID: rows.string(at: 1))
            stored += 1
        }
        for (userKey, ids) in self.eventIDs {
            for eventID in ids { filter.insert(userKey: userKey, eventID: eventID) }
        }
        self.eventIDFilter = filter
        return stored
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
        let entries = try connection.prepare(
            "SELECT seq, payload FROM change_log WHERE seq > ? AND kind IN (?, ?, ?) ORDER BY seq"
        )
        try entries.bind(Int64(self.indexedThroughSeq), at: 1)
        try entries.bind(ChangeKind.profilesUpserted.rawValue, at: 2)
        try entries.bind(ChangeKind.eventsTracked.rawValue, at: 3)
        try entries.bind(ChangeKind.listMembersChanged.rawValue, at: 4)
        let userKey = try connection.prepare("SELECT user_key FROM users WHERE id = ?")
        func key(_ id: String) throws -> Int64? {
            defer { userKey.reset() }
            try userKey.bind(id, at: 1)
            return try userKey.step() ? userKey.int64(at: 0) : nil
        }
        while try entries.step() {
            let seq = UInt64(entries.int64(at: 0))
            let entry = try Segments_V1_ChangeEntry(serializedBytes: entries.blob(at: 1))
            switch entry.change {
            case .profilesUpserted(let upserted):
                for change in upserted.changes {
                    if let key = try key(change.userID) { self.noteUser(key, inEntry: seq) }
                }
            case .eventsTracked(let tracked):
                for event in tracked.events {
                    guard let key = try key(event.userID) else { continue }
                    self.noteUser(key, inEntry: seq)
                    if !event.eventID.isEmpty, self.eventIDs[key, default: []].insert(event.eventID).inserted {
                        self.eventIDFilter?.insert(userKey: key, eventID: event.eventID)
                        self.pendingCount += 1
                    }
                }
            case .listMembersChanged(let changed):
                for id in changed.added + changed.removed {
                    if let key = try key(id) { self.noteUser(key, inEntry: seq) }
                }
            default:
                break
            }
        }
    }
}
