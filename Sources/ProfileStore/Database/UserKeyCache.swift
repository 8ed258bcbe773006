import SegmentsSQLite

/// Maps user ids to their integer keys, with a bounded in-memory cache in front of the `users`
/// table. Used only on the writer thread.
final class UserKeyCache {
    private var keys: [String: Int64] = [:]
    private let capacity: Int

    /// - Parameter capacity: most ids kept; the cache is emptied when it would grow past this.
    init(capacity: Int = 1 << 18) {
        self.capacity = capacity
    }

    /// The key of user `id`, or `nil` when there is no such user.
    func key(for id: String, in connection: SQLiteConnection) throws -> Int64? {
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
            self.keys.removeAll(keepingCapacity: true)
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
