import SegmentsSQL

/// Maps user ids to their integer keys, with a bounded in-memory cache in front of the `users`
/// table. Used only on the writer thread.
///
/// Live events come for users all over the table: with 1M users and a cache of 262,144 ids that
/// was emptied when full, nearly every event looked its user up in SQLite (22 % of the store's
/// CPU in small live batches). The cache now holds 2M ids (~40 MB with short ids) and, when
/// full, drops half of them, chosen by hash order (about at random), instead of all.
final class UserKeyCache {
    private var keys: [String: Int64] = [:]
    private let capacity: Int

    /// - Parameter capacity: most ids kept; half are dropped when it would grow past this.
    init(capacity: Int = 1 << 21) {
        self.capacity = max(2, capacity)
    }

    /// The number of ids held.
    var count: Int { self.keys.count }

    /// The key of user `id`, or `nil` when there is no such user.
    func key(for id: String, in connection: any SQLConnection) throws -> Int64? {
        if let key = self.keys[id] {
            return key
        }
        let statement = try connection.cachedStatement("SELECT user_key FROM users WHERE id = ?")
        defer { statement.reset() }
        try statement.bind(id, at: 1)
        guard try statement.step() else { return nil }
        let key = statement.int64(at: 0)
        self.remember(id, key)
        return key
    }

    /// Ids looked up, or users created, per statement by ``prefetch(_:in:)`` and
    /// ``createUsers(_:seq:in:attributes:)``.
    static let idsPerStatement = 256

    /// Looks up every id of `ids` not cached yet, `idsPerStatement` per query (on PostgreSQL each query is a
    /// round trip). Returns the ids that name no user, in their order in `ids`, each once.
    func prefetch(_ ids: [String], in connection: any SQLConnection) throws -> [String] {
        var missing: [String] = []
        var seen: Set<String> = []
        for id in ids where self.keys[id] == nil && seen.insert(id).inserted {
            missing.append(id)
        }
        guard !missing.isEmpty else { return [] }
        var found: Set<String> = []
        try connection.runInChunks(
            count: missing.count,
            perStatement: Self.idsPerStatement,
            sql: { "SELECT user_key, id FROM users WHERE id IN (\(SQLPlaceholders.list($0)))" },
            bind: { statement, item, slot in try statement.bind(missing[item], at: slot + 1) },
            row: { statement in
                let id = statement.string(at: 1)
                self.remember(id, statement.int64(at: 0))
                found.insert(id)
            }
        )
        return missing.filter { !found.contains($0) }
    }

    /// Creates users `ids` (none exists yet), as created by change-log entry `seq`, in order, with
    /// multi-row inserts; remembers their keys.
    /// - Parameter attributes: the encoded attributes of the user at an index of `ids` (none by default).
    func createUsers(
        _ ids: [String],
        seq: UInt64,
        in connection: any SQLConnection,
        attributes: (_ index: Int) throws -> [UInt8] = { _ in [] }
    ) throws {
        var created = 0
        try connection.runInChunks(
            count: ids.count,
            perStatement: Self.idsPerStatement,
            sql: {
                "INSERT INTO users(id, attributes, created_seq, updated_seq) VALUES "
                    + SQLPlaceholders.rows($0, columns: 4) + " RETURNING user_key, id"
            },
            bind: { statement, item, slot in
                try statement.bind(ids[item], at: 4 * slot + 1)
                try statement.bind(try attributes(item), at: 4 * slot + 2)
                try statement.bind(Int64(seq), at: 4 * slot + 3)
                try statement.bind(Int64(seq), at: 4 * slot + 4)
            },
            row: { statement in
                self.remember(statement.string(at: 1), statement.int64(at: 0))
                created += 1
            }
        )
        guard created == ids.count else {
            throw ProfileStoreError(.storage, "creating \(ids.count) users returned \(created) keys")
        }
    }

    /// Remembers a user just created.
    func remember(_ id: String, _ key: Int64) {
        if self.keys.count >= self.capacity {
            var keep = false
            self.keys = self.keys.filter { _ in
                keep.toggle()
                return keep
            }
        }
        self.keys[id] = key
    }

    /// Forgets one user (deleted).
    func forget(_ id: String) {
        self.keys.removeValue(forKey: id)
    }

    /// Forgets everything (after a rollback, cached keys may name users that were not stored).
    func reset() {
        self.keys.removeAll()
    }
}
