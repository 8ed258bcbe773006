import CSQLite

/// A connection to one SQLite database, opened with `SQLITE_OPEN_NOMUTEX`.
///
/// A connection is not thread-safe: use it from one thread or task at a time (it is not `Sendable`,
/// but can be handed over with `sending`). Open one writer connection per database and as many
/// read-only connections as there are concurrent readers; in WAL mode readers see the last
/// committed transaction and never block the writer.
///
/// ```swift
/// let db = try SQLiteConnection(path: path, options: .init(synchronous: .normal))
/// try db.transaction(.immediate) {
///     let insert = try db.cachedStatement("INSERT INTO t(a, b) VALUES (?, ?)")
///     try insert.bind(Int64(1), at: 1)
///     try insert.bind("one", at: 2)
///     try insert.execute()
/// }
/// ```
///
/// The connection closes on `close()` or when it is deinitialized. Statements prepared from it keep
/// SQLite's resources alive until they are deinitialized too, but fail with `SQLITE_MISUSE` once the
/// connection is closed.
public final class SQLiteConnection {
    /// Whether the connection is open; shared with its statements so they can refuse to run after `close()`.
    final class Liveness {
        var isOpen = true
    }

    /// The `sqlite3 *` handle. Valid only while `liveness.isOpen`.
    let handle: OpaquePointer
    let liveness = Liveness()
    /// The path the connection was opened with.
    public let path: String
    private var statementCache: [String: SQLiteStatement] = [:]
    private let statementCacheCapacity: Int
    /// The checkpointer the connection's WAL hook calls (``WALCheckpointer/attach(to:)``): the hook holds it
    /// unretained, so the connection keeps it.
    var walCheckpointer: WALCheckpointer?

    /// Opens (and by default creates) a database file and applies `options`.
    /// - Parameters:
    ///   - path: A file path, or `":memory:"` for a private in-memory database (set `journalMode`
    ///     to `nil` or `.memory` for that).
    ///   - options: Open flags and the pragmas to set.
    /// - Throws: `SQLiteError` when the file cannot be opened or a pragma fails, including when the
    ///   requested journal mode could not be set.
    public init(path: String, options: Options = Options()) throws(SQLiteError) {
        var flags = SQLITE_OPEN_NOMUTEX
        if options.readOnly {
            flags |= SQLITE_OPEN_READONLY
        } else {
            flags |= SQLITE_OPEN_READWRITE
            if options.createIfMissing {
                flags |= SQLITE_OPEN_CREATE
            }
        }
        var handle: OpaquePointer?
        let rc = sqlite3_open_v2(path, &handle, flags, nil)
        guard rc == SQLITE_OK, let handle else {
            // Even a failed open usually allocates a handle that carries the message and must be closed.
            let code = handle.map { sqlite3_extended_errcode($0) } ?? rc
            let error = SQLiteError(resultCode: code, connection: handle, sql: nil)
            sqlite3_close_v2(handle)
            throw error
        }
        sqlite3_extended_result_codes(handle, 1)
        self.handle = handle
        self.path = path
        self.statementCacheCapacity = max(options.statementCacheCapacity, 0)
        // From here on a throw runs `deinit`, which closes the handle.
        try self.configure(options)
    }

    deinit {
        self.close()
    }

    private func configure(_ options: Options) throws(SQLiteError) {
        let busyMilliseconds =
            options.busyTimeout.components.seconds * 1000
            + options.busyTimeout.components.attoseconds / 1_000_000_000_000_000
        sqlite3_busy_timeout(self.handle, Int32(clamping: max(busyMilliseconds, 0)))
        if let pageSize = options.pageSize, !options.readOnly {
            try self.execute("PRAGMA page_size = \(pageSize)")
        }
        if let journalMode = options.journalMode, !options.readOnly {
            let mode = try self.pragma("PRAGMA journal_mode = \(journalMode.rawValue)")
            guard mode?.lowercased() == journalMode.rawValue else {
                throw SQLiteError(
                    code: .error,
                    message: "journal_mode is \(mode ?? "unknown"), not \(journalMode.rawValue)"
                )
            }
        }
        if let synchronous = options.synchronous {
            try self.execute("PRAGMA synchronous = \(synchronous.rawValue)")
        }
        if let cacheSizeKiB = options.cacheSizeKiB {
            try self.execute("PRAGMA cache_size = \(-abs(cacheSizeKiB))")
        }
        if let mmapSize = options.mmapSize {
            try self.execute("PRAGMA mmap_size = \(max(mmapSize, 0))")
        }
    }

    // MARK: - State

    /// Whether the connection is open: `false` after `close()`.
    public var isOpen: Bool {
        self.liveness.isOpen
    }

    /// The rowid of the most recent successful INSERT on this connection (`sqlite3_last_insert_rowid`),
    /// or 0 when there was none or the connection is closed.
    public var lastInsertRowID: Int64 {
        guard self.liveness.isOpen else { return 0 }
        return sqlite3_last_insert_rowid(self.handle)
    }

    /// The number of rows changed by the most recent INSERT, UPDATE or DELETE (`sqlite3_changes64`),
    /// or 0 when the connection is closed.
    public var changes: Int {
        guard self.liveness.isOpen else { return 0 }
        return Int(sqlite3_changes64(self.handle))
    }

    /// Whether a transaction is open (SQLite is not in autocommit mode).
    public var isInTransaction: Bool {
        guard self.liveness.isOpen else { return false }
        return sqlite3_get_autocommit(self.handle) == 0
    }

    /// Reads the `user_version` pragma, which migrations use to record the schema version.
    /// - Returns: The stored version; 0 for a new database.
    /// - Throws: `SQLiteError` when the connection is closed or the read fails.
    public func userVersion() throws(SQLiteError) -> Int {
        Int(try self.pragma("PRAGMA user_version") ?? "0") ?? 0
    }

    /// Writes the `user_version` pragma. Call it inside the migration's transaction so the schema and
    /// its version change together.
    /// - Parameter version: The new version, in `Int32` range.
    /// - Throws: `SQLiteError` when the version is out of range, the connection is closed or the write fails.
    public func setUserVersion(_ version: Int) throws(SQLiteError) {
        guard let version = Int32(exactly: version) else {
            throw .misuse("user_version must fit in 32 bits")
        }
        try self.execute("PRAGMA user_version = \(version)")
    }

    // MARK: - Statements

    /// Runs one or more `;`-separated SQL statements, discarding any rows (`sqlite3_exec`).
    ///
    /// Meant for schema scripts and pragmas; bind values through `prepare(_:)` instead of
    /// interpolating them into `sql`.
    /// - Parameter sql: The SQL script.
    /// - Throws: `SQLiteError` for the first statement that fails; the ones before it stay applied.
    public func execute(_ sql: String) throws(SQLiteError) {
        try self.checkOpen(sql)
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(self.handle, sql, nil, nil, &message)
        guard rc == SQLITE_OK else {
            let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_free(message)
            throw SQLiteError(code: .init(rawValue: rc), message: text, sql: sql)
        }
    }

    /// Compiles one SQL statement.
    /// - Parameter sql: Exactly one statement; a trailing `;`, whitespace and comments are allowed.
    /// - Returns: A new statement, owned by the caller and finalized when it is deinitialized.
    /// - Throws: `SQLiteError` for a syntax error, an unknown table or column, an empty string or
    ///   more than one statement (`SQLITE_MISUSE`).
    public func prepare(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
        try self.prepare(sql, flags: 0)
    }

    /// Returns the statement cached for this exact SQL text, compiling and caching it the first time.
    ///
    /// The statement comes back reset (ready to bind and step) with the previous bindings still in
    /// place. Use it for the few fixed statements a component runs over and over; do not hold on to it
    /// across calls that might use the same SQL text, since both callers would get the same object.
    /// - Parameter sql: Exactly one statement, as for `prepare(_:)`.
    /// - Returns: The cached statement.
    /// - Throws: `SQLiteError` as for `prepare(_:)`.
    public func cachedStatement(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
        if let statement = self.statementCache[sql] {
            try self.checkOpen(sql)
            statement.resetIfBusy()
            return statement
        }
        let statement = try self.prepare(sql, flags: UInt32(SQLITE_PREPARE_PERSISTENT))
        if self.statementCache.count >= self.statementCacheCapacity {
            // Statements still referenced elsewhere stay valid; the others are finalized.
            self.statementCache.removeAll(keepingCapacity: true)
        }
        if self.statementCacheCapacity > 0 {
            self.statementCache[sql] = statement
        }
        return statement
    }

    /// Closes the connection. Does nothing if it is already closed.
    ///
    /// An open transaction is rolled back. Cached statements are released; statements still referenced
    /// elsewhere keep SQLite's memory alive until they are deinitialized, and throw `SQLITE_MISUSE`
    /// when used.
    public func close() {
        guard self.liveness.isOpen else { return }
        self.liveness.isOpen = false
        self.statementCache.removeAll()
        // `close_v2` never fails for live statements: it defers the release until the last one is finalized.
        sqlite3_close_v2(self.handle)
    }

    // MARK: - Internal

    func checkOpen(_ sql: String?) throws(SQLiteError) {
        guard self.liveness.isOpen else {
            throw .misuse("the connection is closed", sql: sql)
        }
    }

    private func prepare(_ sql: String, flags: UInt32) throws(SQLiteError) -> SQLiteStatement {
        try self.checkOpen(sql)
        let db = self.handle
        var statement: OpaquePointer?
        let (rc, hasMore) = sql.withCString { text -> (Int32, Bool) in
            var tail: UnsafePointer<CChar>?
            let rc = sqlite3_prepare_v3(db, text, -1, flags, &statement, &tail)
            guard rc == SQLITE_OK, let tail, tail.pointee != 0 else { return (rc, false) }
            // Compile the rest: it must hold nothing but whitespace and comments.
            var extra: OpaquePointer?
            let extraRC = sqlite3_prepare_v3(db, tail, -1, 0, &extra, nil)
            sqlite3_finalize(extra)
            return (rc, extraRC != SQLITE_OK || extra != nil)
        }
        guard rc == SQLITE_OK else {
            sqlite3_finalize(statement)
            throw SQLiteError(resultCode: rc, connection: db, sql: sql)
        }
        guard let statement else {
            throw .misuse("the SQL text holds no statement", sql: sql)
        }
        guard !hasMore else {
            sqlite3_finalize(statement)
            throw .misuse("prepare takes exactly one statement; use execute(_:) for scripts", sql: sql)
        }
        return SQLiteStatement(handle: statement, sql: sql, liveness: self.liveness)
    }

    /// Runs a pragma (or any statement) and returns the first column of its first row as text.
    func pragma(_ sql: String) throws(SQLiteError) -> String? {
        let statement = try self.prepare(sql)
        guard try statement.step() else { return nil }
        let value = statement.isNull(at: 0) ? nil : statement.string(at: 0)
        statement.reset()
        return value
    }
}

@available(*, unavailable, message: "use a connection from one thread at a time; open one per thread")
extension SQLiteConnection: Sendable {}
