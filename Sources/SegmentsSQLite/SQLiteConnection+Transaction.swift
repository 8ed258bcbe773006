import CSQLite

extension SQLiteConnection {
    /// How a transaction takes its locks.
    public enum TransactionKind: Sendable, Hashable {
        /// `BEGIN DEFERRED`: takes a read lock at the first read and the write lock at the first write.
        /// Good for reads; a deferred writer can fail with `SQLITE_BUSY` when it upgrades.
        case deferred
        /// `BEGIN IMMEDIATE`: takes the write lock at once, waiting up to the busy timeout. Use it for writes.
        case immediate

        var beginSQL: String {
            switch self {
            case .deferred: "BEGIN DEFERRED"
            case .immediate: "BEGIN IMMEDIATE"
            }
        }
    }

    /// Runs `body` in a transaction: commits when it returns, rolls back when it throws.
    ///
    /// If the commit fails the transaction is rolled back too, so the connection is never left in an
    /// open transaction. Transactions do not nest: calling this inside another transaction throws.
    /// - Parameters:
    ///   - kind: How the transaction takes its locks; use `.immediate` for writes.
    ///   - body: The work to do; it uses this connection directly.
    /// - Returns: What `body` returns.
    /// - Throws: The error `body` threw, or a `SQLiteError` from BEGIN or COMMIT.
    public func transaction<Result>(
        _ kind: TransactionKind,
        _ body: () throws -> Result
    ) throws -> Result {
        try self.cachedStatement(kind.beginSQL).execute()
        let result: Result
        do {
            result = try body()
            try self.cachedStatement("COMMIT").execute()
        } catch {
            self.rollbackIfNeeded()
            throw error
        }
        return result
    }

    /// Rolls back the open transaction, if any. Errors are ignored: the caller is already reporting one.
    private func rollbackIfNeeded() {
        // SQLite rolls back by itself after some errors (SQLITE_FULL, SQLITE_IOERR, ...).
        guard self.isInTransaction else { return }
        do {
            try self.cachedStatement("ROLLBACK").execute()
        } catch {
            // Cannot happen short of a closed connection; the next BEGIN would report the state.
        }
    }
}
