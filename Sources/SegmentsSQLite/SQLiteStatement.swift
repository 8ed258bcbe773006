import CSQLite

/// A compiled SQL statement: bind parameters, step through rows, read columns.
///
/// Parameters are numbered from 1, columns from 0, as in SQLite's C API. After `step()` returns
/// `false` or throws, the statement has already been reset: its locks are released and it can be
/// stepped again, with the same bindings unless new ones are bound. A statement abandoned after a
/// row keeps its read transaction open until `reset()`, so reset statements you stop reading early.
///
/// ```swift
/// let select = try db.prepare("SELECT name, properties FROM events WHERE user_key = ?")
/// try select.bind(userKey, at: 1)
/// while try select.step() {
///     let name = select.string(at: 0)
///     let properties = select.blob(at: 1)
/// }
/// ```
///
/// Not thread-safe, like its connection. The statement is finalized when it is deinitialized.
public final class SQLiteStatement {
    /// The column types SQLite stores.
    public enum ColumnType: Sendable, Hashable {
        /// A 64-bit signed integer.
        case integer
        /// A 64-bit IEEE float.
        case double
        /// UTF-8 text.
        case text
        /// Bytes.
        case blob
        /// NULL.
        case null
    }

    /// The `sqlite3_stmt *` handle.
    let handle: OpaquePointer
    private let liveness: SQLiteConnection.Liveness
    /// The SQL text the statement was compiled from.
    public let sql: String

    init(handle: OpaquePointer, sql: String, liveness: SQLiteConnection.Liveness) {
        self.handle = handle
        self.sql = sql
        self.liveness = liveness
    }

    deinit {
        // Also completes a deferred `sqlite3_close_v2` when this is the connection's last statement.
        sqlite3_finalize(self.handle)
    }

    // MARK: - Binding

    /// Binds a 64-bit integer.
    /// - Parameters:
    ///   - value: The value.
    ///   - index: The 1-based parameter index.
    /// - Throws: `SQLiteError` (`SQLITE_RANGE`) for an index out of range.
    public func bind(_ value: Int64, at index: Int) throws(SQLiteError) {
        try self.check(sqlite3_bind_int64(self.handle, Int32(clamping: index), value))
    }

    /// Binds an integer as a 64-bit integer.
    /// - Parameters:
    ///   - value: The value.
    ///   - index: The 1-based parameter index.
    /// - Throws: `SQLiteError` (`SQLITE_RANGE`) for an index out of range.
    public func bind(_ value: Int, at index: Int) throws(SQLiteError) {
        try self.check(sqlite3_bind_int64(self.handle, Int32(clamping: index), Int64(value)))
    }

    /// Binds a double.
    /// - Parameters:
    ///   - value: The value.
    ///   - index: The 1-based parameter index.
    /// - Throws: `SQLiteError` (`SQLITE_RANGE`) for an index out of range.
    public func bind(_ value: Double, at index: Int) throws(SQLiteError) {
        try self.check(sqlite3_bind_double(self.handle, Int32(clamping: index), value))
    }

    /// Binds text. SQLite copies the string's UTF-8 bytes; an empty string binds empty text, not NULL.
    /// - Parameters:
    ///   - value: The value.
    ///   - index: The 1-based parameter index.
    /// - Throws: `SQLiteError` for an index out of range (`SQLITE_RANGE`) or text too long (`SQLITE_TOOBIG`).
    public func bind(_ value: String, at index: Int) throws(SQLiteError) {
        var value = value
        let rc = value.withUTF8 { utf8 in
            // A nil pointer would bind NULL, so empty text gets a pointer to a static empty string.
            sqlite3_bind_text64(
                self.handle,
                Int32(clamping: index),
                UnsafeRawPointer(utf8.baseAddress ?? emptyText.utf8Start).assumingMemoryBound(to: CChar.self),
                UInt64(utf8.count),
                sqliteTransient,
                UInt8(SQLITE_UTF8)
            )
        }
        try self.check(rc)
    }

    /// Binds a blob. SQLite copies the bytes; an empty buffer binds an empty blob, not NULL.
    /// - Parameters:
    ///   - value: The bytes.
    ///   - index: The 1-based parameter index.
    /// - Throws: `SQLiteError` for an index out of range (`SQLITE_RANGE`) or a blob too big (`SQLITE_TOOBIG`).
    public func bind(_ value: UnsafeRawBufferPointer, at index: Int) throws(SQLiteError) {
        let rc: Int32
        if let base = value.baseAddress, !value.isEmpty {
            rc = sqlite3_bind_blob64(self.handle, Int32(clamping: index), base, UInt64(value.count), sqliteTransient)
        } else {
            rc = sqlite3_bind_zeroblob(self.handle, Int32(clamping: index), 0)
        }
        try self.check(rc)
    }

    /// Binds a blob. SQLite copies the bytes; an empty array binds an empty blob, not NULL.
    /// - Parameters:
    ///   - value: The bytes.
    ///   - index: The 1-based parameter index.
    /// - Throws: `SQLiteError` for an index out of range (`SQLITE_RANGE`) or a blob too big (`SQLITE_TOOBIG`).
    public func bind(_ value: [UInt8], at index: Int) throws(SQLiteError) {
        let rc = value.withUnsafeBytes { bytes in
            if let base = bytes.baseAddress, !bytes.isEmpty {
                sqlite3_bind_blob64(self.handle, Int32(clamping: index), base, UInt64(bytes.count), sqliteTransient)
            } else {
                sqlite3_bind_zeroblob(self.handle, Int32(clamping: index), 0)
            }
        }
        try self.check(rc)
    }

    /// Binds NULL.
    /// - Parameter index: The 1-based parameter index.
    /// - Throws: `SQLiteError` (`SQLITE_RANGE`) for an index out of range.
    public func bindNull(at index: Int) throws(SQLiteError) {
        try self.check(sqlite3_bind_null(self.handle, Int32(clamping: index)))
    }

    /// Binds a 64-bit integer, or NULL when `value` is `nil`.
    /// - Parameters:
    ///   - value: The value or `nil`.
    ///   - index: The 1-based parameter index.
    /// - Throws: `SQLiteError` (`SQLITE_RANGE`) for an index out of range.
    public func bind(_ value: Int64?, at index: Int) throws(SQLiteError) {
        if let value { try self.bind(value, at: index) } else { try self.bindNull(at: index) }
    }

    /// Binds an integer, or NULL when `value` is `nil`.
    /// - Parameters:
    ///   - value: The value or `nil`.
    ///   - index: The 1-based parameter index.
    /// - Throws: `SQLiteError` (`SQLITE_RANGE`) for an index out of range.
    public func bind(_ value: Int?, at index: Int) throws(SQLiteError) {
        if let value { try self.bind(value, at: index) } else { try self.bindNull(at: index) }
    }

    /// Binds a double, or NULL when `value` is `nil`.
    /// - Parameters:
    ///   - value: The value or `nil`.
    ///   - index: The 1-based parameter index.
    /// - Throws: `SQLiteError` (`SQLITE_RANGE`) for an index out of range.
    public func bind(_ value: Double?, at index: Int) throws(SQLiteError) {
        if let value { try self.bind(value, at: index) } else { try self.bindNull(at: index) }
    }

    /// Binds text, or NULL when `value` is `nil`.
    /// - Parameters:
    ///   - value: The value or `nil`.
    ///   - index: The 1-based parameter index.
    /// - Throws: `SQLiteError` for an index out of range (`SQLITE_RANGE`) or text too long (`SQLITE_TOOBIG`).
    public func bind(_ value: String?, at index: Int) throws(SQLiteError) {
        if let value { try self.bind(value, at: index) } else { try self.bindNull(at: index) }
    }

    /// Binds a blob, or NULL when `value` is `nil`.
    /// - Parameters:
    ///   - value: The bytes or `nil`.
    ///   - index: The 1-based parameter index.
    /// - Throws: `SQLiteError` for an index out of range (`SQLITE_RANGE`) or a blob too big (`SQLITE_TOOBIG`).
    public func bind(_ value: [UInt8]?, at index: Int) throws(SQLiteError) {
        if let value { try self.bind(value, at: index) } else { try self.bindNull(at: index) }
    }

    /// Sets every parameter back to NULL (`sqlite3_clear_bindings`).
    public func clearBindings() {
        sqlite3_clear_bindings(self.handle)
    }

    /// The number of parameters the statement takes.
    public var parameterCount: Int {
        Int(sqlite3_bind_parameter_count(self.handle))
    }

    // MARK: - Running

    /// Runs the statement to its next row.
    ///
    /// On `false` or a throw the statement is reset, so it releases its locks and can run again.
    /// - Returns: `true` when a row is available to read, `false` when the statement is done.
    /// - Throws: `SQLiteError`, for example a constraint violation or `SQLITE_BUSY`; `SQLITE_MISUSE`
    ///   when the connection is closed.
    public func step() throws(SQLiteError) -> Bool {
        guard self.liveness.isOpen else {
            throw .misuse("the connection is closed", sql: self.sql)
        }
        switch sqlite3_step(self.handle) {
        case SQLITE_ROW:
            return true
        case SQLITE_DONE:
            sqlite3_reset(self.handle)
            return false
        case let rc:
            // Read the message before reset, which could overwrite it.
            let error = SQLiteError(resultCode: rc, connection: sqlite3_db_handle(self.handle), sql: self.sql)
            sqlite3_reset(self.handle)
            throw error
        }
    }

    /// Runs the statement to completion, skipping any rows; for INSERT, UPDATE, DELETE and DDL.
    /// - Throws: `SQLiteError` as for `step()`.
    public func execute() throws(SQLiteError) {
        while try self.step() {}
    }

    /// Resets the statement to run again from the start, keeping its bindings (`sqlite3_reset`).
    ///
    /// Needed only when you stop reading rows before `step()` returns `false`.
    public func reset() {
        sqlite3_reset(self.handle)
    }

    // MARK: - Columns

    /// The number of columns in the result.
    public var columnCount: Int {
        Int(sqlite3_column_count(self.handle))
    }

    /// The name of a result column, or `""` for an index out of range.
    /// - Parameter index: The 0-based column index.
    /// - Returns: The column's name (its `AS` alias when there is one).
    public func columnName(at index: Int) -> String {
        guard let name = sqlite3_column_name(self.handle, Int32(clamping: index)) else { return "" }
        return String(cString: name)
    }

    /// The storage type of a column in the current row.
    /// - Parameter index: The 0-based column index.
    /// - Returns: The type; `.null` for an index out of range.
    public func columnType(at index: Int) -> ColumnType {
        switch sqlite3_column_type(self.handle, Int32(clamping: index)) {
        case SQLITE_INTEGER: .integer
        case SQLITE_FLOAT: .double
        case SQLITE_TEXT: .text
        case SQLITE_BLOB: .blob
        default: .null
        }
    }

    /// Whether a column in the current row is NULL.
    /// - Parameter index: The 0-based column index.
    /// - Returns: `true` for NULL (and for an index out of range).
    public func isNull(at index: Int) -> Bool {
        sqlite3_column_type(self.handle, Int32(clamping: index)) == SQLITE_NULL
    }

    /// A column of the current row as a 64-bit integer, converted by SQLite's rules (NULL is 0).
    /// - Parameter index: The 0-based column index.
    /// - Returns: The value.
    public func int64(at index: Int) -> Int64 {
        sqlite3_column_int64(self.handle, Int32(clamping: index))
    }

    /// A column of the current row as an integer, converted by SQLite's rules (NULL is 0).
    /// - Parameter index: The 0-based column index.
    /// - Returns: The value.
    public func int(at index: Int) -> Int {
        Int(sqlite3_column_int64(self.handle, Int32(clamping: index)))
    }

    /// A column of the current row as a double, converted by SQLite's rules (NULL is 0).
    /// - Parameter index: The 0-based column index.
    /// - Returns: The value.
    public func double(at index: Int) -> Double {
        sqlite3_column_double(self.handle, Int32(clamping: index))
    }

    /// A column of the current row as text, converted by SQLite's rules (NULL is `""`); invalid
    /// UTF-8 is repaired with replacement characters.
    /// - Parameter index: The 0-based column index.
    /// - Returns: The value.
    public func string(at index: Int) -> String {
        let column = Int32(clamping: index)
        // Ask for the text before its length, as SQLite documents.
        guard let text = sqlite3_column_text(self.handle, column) else { return "" }
        let count = Int(sqlite3_column_bytes(self.handle, column))
        return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
    }

    /// A column of the current row as bytes (NULL is empty).
    /// - Parameter index: The 0-based column index.
    /// - Returns: A copy of the bytes.
    public func blob(at index: Int) -> [UInt8] {
        self.withBlob(at: index) { [UInt8]($0) }
    }

    /// Calls `body` with the bytes of a column of the current row, without copying them.
    /// - Parameters:
    ///   - index: The 0-based column index.
    ///   - body: Reads the bytes (empty for NULL); they are valid only during the call.
    /// - Returns: What `body` returns.
    /// - Throws: What `body` throws.
    public func withBlob<Result, Failure: Error>(
        at index: Int,
        _ body: (UnsafeRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        let column = Int32(clamping: index)
        let bytes = sqlite3_column_blob(self.handle, column)
        let count = Int(sqlite3_column_bytes(self.handle, column))
        return try body(UnsafeRawBufferPointer(start: count > 0 ? bytes : nil, count: count))
    }

    // MARK: - Internal

    /// Resets the statement if it is part-way through its rows.
    func resetIfBusy() {
        if sqlite3_stmt_busy(self.handle) != 0 {
            sqlite3_reset(self.handle)
        }
    }

    @inline(__always)
    private func check(_ rc: Int32) throws(SQLiteError) {
        guard rc == SQLITE_OK else {
            throw SQLiteError(resultCode: rc, connection: sqlite3_db_handle(self.handle), sql: self.sql)
        }
    }
}

@available(*, unavailable, message: "use a statement on its connection's thread")
extension SQLiteStatement: Sendable {}

/// `SQLITE_TRANSIENT`: tells SQLite to copy bound text and blobs before the bind call returns.
private var sqliteTransient: sqlite3_destructor_type {
    unsafeBitCast(-1, to: sqlite3_destructor_type.self)
}

/// Bound for empty text that has no buffer: a nil pointer would make SQLite store NULL instead of `''`.
private let emptyText: StaticString = ""
