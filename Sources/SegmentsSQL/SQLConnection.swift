/// A prepared SQL statement of an ``SQLConnection``: parameters bound by 1-based index, rows read
/// one at a time by 0-based column.
///
/// The store's storage code is written against this protocol so that it runs unchanged on SQLite
/// (the embedded default) and on PostgreSQL. SQL text uses `?` or `?N` placeholders and the subset of
/// SQL both databases accept; a PostgreSQL statement rewrites the placeholders as `$N`.
///
/// Like its connection, a statement is used from one thread at a time.
public protocol SQLStatement: AnyObject {
    /// Binds a 64-bit integer at the 1-based parameter `index`.
    func bind(_ value: Int64, at index: Int) throws
    /// Binds text (an empty string is empty text, not NULL).
    func bind(_ value: String, at index: Int) throws
    /// Binds bytes (an empty array is an empty blob, not NULL).
    func bind(_ value: [UInt8], at index: Int) throws
    /// Binds bytes read from `value` during the call.
    func bind(_ value: UnsafeRawBufferPointer, at index: Int) throws
    /// Binds NULL.
    func bindNull(at index: Int) throws

    /// Runs the statement to its next row: `true` when a row is available to read, `false` when the
    /// statement is done (it can then run again, with the same or new bindings).
    func step() throws -> Bool
    /// Runs the statement to completion, skipping any rows.
    func execute() throws
    /// Makes the statement ready to run again from the start, keeping its bindings; needed only when
    /// rows are left unread.
    func reset()

    /// Whether a column of the current row is NULL.
    func isNull(at index: Int) -> Bool
    /// A column of the current row as a 64-bit integer (NULL is 0).
    func int64(at index: Int) -> Int64
    /// A column of the current row as text (NULL is `""`).
    func string(at index: Int) -> String
    /// Calls `body` with the bytes of a column of the current row (empty for NULL), valid only
    /// during the call.
    func withBlob<Result, Failure: Error>(
        at index: Int,
        _ body: (UnsafeRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result
}

extension SQLStatement {
    /// Binds an integer as a 64-bit integer.
    public func bind(_ value: Int, at index: Int) throws {
        try self.bind(Int64(value), at: index)
    }

    /// Binds a 64-bit integer, or NULL when `value` is `nil`.
    public func bind(_ value: Int64?, at index: Int) throws {
        if let value { try self.bind(value, at: index) } else { try self.bindNull(at: index) }
    }

    /// Binds text, or NULL when `value` is `nil`.
    public func bind(_ value: String?, at index: Int) throws {
        if let value { try self.bind(value, at: index) } else { try self.bindNull(at: index) }
    }

    /// A column of the current row as an integer (NULL is 0).
    public func int(at index: Int) -> Int {
        Int(self.int64(at: index))
    }

    /// A column of the current row as bytes (NULL is empty), copied.
    public func blob(at index: Int) -> [UInt8] {
        self.withBlob(at: index) { [UInt8]($0) }
    }
}

/// A connection to a SQL database, used from one thread at a time: SQLite's
/// `SegmentsSQLite.SQLiteConnection` or PostgreSQL's `SegmentsPostgres.PostgresSQLConnection`.
public protocol SQLConnection: AnyObject {
    /// The statement type of this connection.
    associatedtype Statement: SQLStatement

    /// Prepares `sql`.
    func prepare(_ sql: String) throws -> Statement
    /// Prepares `sql` once and keeps it on the connection: the same statement is returned for the
    /// same text (ready to run, with its previous bindings).
    func cachedStatement(_ sql: String) throws -> Statement
    /// Runs one or more statements without parameters, skipping any rows.
    func execute(_ sql: String) throws
    /// Whether a transaction is open on the connection.
    var isInTransaction: Bool { get }
    /// The number of rows changed by the most recent INSERT, UPDATE or DELETE.
    var changes: Int { get }
    /// The schema version recorded in the database (0 for a new database).
    func userVersion() throws -> Int
    /// Records the schema version; call it inside the migration's transaction.
    func setUserVersion(_ version: Int) throws
    /// The SQL of this database's dialect that begins a write transaction (SQLite: `BEGIN IMMEDIATE`).
    var beginWriteSQL: String { get }
    /// The SQL that begins a read-only transaction whose reads all see one snapshot of the database.
    var beginSnapshotSQL: String { get }
    /// Whether the connection to the database is gone and will not come back (a server connection that
    /// closed and does not reconnect). Never for SQLite.
    var isLost: Bool { get }
    /// Closes the connection (an open transaction is rolled back); does nothing when it is closed already.
    /// Its statements fail from then on.
    func close()
    /// Whether a query's rows come one at a time as they are stepped through (SQLite). When not
    /// (PostgreSQL), the first step fetches them all: ask for few at a time when they are large.
    var streamsRows: Bool { get }
}

extension SQLConnection {
    /// Runs `body` in a write transaction: commits when it returns, rolls back when it throws.
    /// Transactions do not nest.
    public func writeTransaction<Result>(_ body: () throws -> Result) throws -> Result {
        try self.cachedStatement(self.beginWriteSQL).execute()
        let result: Result
        do {
            result = try body()
            try self.cachedStatement("COMMIT").execute()
        } catch {
            if self.isInTransaction {
                try? self.cachedStatement("ROLLBACK").execute()
            }
            throw error
        }
        return result
    }

    /// Runs one statement per chunk of up to `perStatement` items — an `IN (…)` list or a multi-row
    /// `VALUES` list built by `sql` for a chunk's size — and hands every row it returns to `row`.
    /// Statements of a full chunk are cached on the connection; the last, shorter chunk is prepared once.
    ///
    /// One statement per item spends a batch in per-statement work (SQLite) or round trips
    /// (PostgreSQL); one statement per chunk does not.
    ///
    /// - Parameters:
    ///   - count: items.
    ///   - perStatement: items per statement.
    ///   - sql: the statement for a chunk of `items` items.
    ///   - bind: binds item `item` as the `slot`-th item (from 0) of its chunk's statement.
    ///   - row: called with the statement positioned on each row it returns.
    public func runInChunks(
        count: Int,
        perStatement: Int,
        sql: (_ items: Int) -> String,
        bind: (_ statement: Statement, _ item: Int, _ slot: Int) throws -> Void,
        row: (_ statement: Statement) throws -> Void = { _ in }
    ) throws {
        var start = 0
        while start < count {
            let items = min(perStatement, count - start)
            let statement = items == perStatement ? try self.cachedStatement(sql(items)) : try self.prepare(sql(items))
            for slot in 0..<items {
                try bind(statement, start + slot, slot)
            }
            while try statement.step() {
                try row(statement)
            }
            start += items
        }
    }

    /// Inserts `count` rows with a multi-row statement — `INSERT … VALUES (?, …), (?, …), …` with
    /// `rowsPerStatement` rows — and the rest one statement per row. One statement per row spends
    /// most of a bulk insert in per-statement work (SQLite) or round trips (PostgreSQL).
    ///
    /// Both statements are cached on the connection.
    ///
    /// - Parameters:
    ///   - insert: the statement up to `VALUES`, e.g. `INSERT INTO t(a, b)`.
    ///   - conflict: what follows the values, e.g. `ON CONFLICT DO NOTHING` (or `""`).
    ///   - columns: parameters per row.
    ///   - count: rows to insert.
    ///   - rowsPerStatement: rows per multi-row statement.
    ///   - bind: binds row `row` at parameters `first`, `first + 1`, … `first + columns - 1`.
    public func insertRows(
        _ insert: String,
        conflict: String = "",
        columns: Int,
        count: Int,
        rowsPerStatement: Int,
        bind: (_ statement: Statement, _ row: Int, _ first: Int) throws -> Void
    ) throws {
        let values = SQLPlaceholders.rows(1, columns: columns)
        let tail = conflict.isEmpty ? "" : " " + conflict
        var row = 0
        if count >= rowsPerStatement {
            let many = try self.cachedStatement(
                insert + " VALUES " + SQLPlaceholders.rows(rowsPerStatement, columns: columns) + tail
            )
            while count - row >= rowsPerStatement {
                for offset in 0..<rowsPerStatement {
                    try bind(many, row + offset, columns * offset + 1)
                }
                try many.execute()
                row += rowsPerStatement
            }
        }
        let one = try self.cachedStatement(insert + " VALUES " + values + tail)
        while row < count {
            try bind(one, row, 1)
            try one.execute()
            row += 1
        }
    }
}

/// Placeholder lists for statements built for a number of items.
public enum SQLPlaceholders {
    /// `count` comma-separated placeholders, `?, ?, ?`, for an `IN (…)` list.
    public static func list(_ count: Int) -> String {
        repeatElement("?", count: count).joined(separator: ", ")
    }

    /// `count` rows of `columns` placeholders each, `(?, ?), (?, ?)`, for a `VALUES` list.
    public static func rows(_ count: Int, columns: Int) -> String {
        repeatElement("(" + Self.list(columns) + ")", count: count).joined(separator: ", ")
    }
}
