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
