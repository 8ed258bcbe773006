/// The rows of a query read a page at a time in the order of a unique key: each page runs the query
/// again for the rows after the last key read (keyset pagination), with `LIMIT rowsPerPage`.
///
/// A PostgreSQL query's rows all arrive at its first step, so one query over a large table (the
/// event-id index at start-up, the users of a snapshot) would hold the whole table in memory; a page
/// holds at most `rowsPerPage` rows. Inside one snapshot transaction the pages read one state of the
/// database. On SQLite, which streams rows, a page costs one more index descent.
///
/// Used from one thread at a time, like its connection.
public final class KeysetPages<Key> {
    private let sql: String
    private let rowsPerPage: Int
    private let bind: (_ statement: any SQLStatement, _ after: Key) throws -> Void
    private let readKey: (_ statement: any SQLStatement) -> Key
    private var after: Key
    private var statement: (any SQLStatement)?
    private var rowsInPage = 0
    private var finished = false

    /// - Parameters:
    ///   - sql: the query, without `LIMIT`: it selects the rows whose key follows the key bound by `bind`
    ///     (`WHERE k > ?`, or `(a, b) > (?, ?)` for a key of two columns) and orders them by that key.
    ///   - start: a key below every row's.
    ///   - rowsPerPage: rows read per query.
    ///   - bind: binds every parameter of `sql`, with `after` as the key to read after.
    ///   - readKey: the key of the row the statement is on.
    public init(
        _ sql: String,
        after start: Key,
        rowsPerPage: Int,
        bind: @escaping (_ statement: any SQLStatement, _ after: Key) throws -> Void,
        readKey: @escaping (_ statement: any SQLStatement) -> Key
    ) {
        self.sql = sql + " LIMIT \(max(1, rowsPerPage))"
        self.rowsPerPage = max(1, rowsPerPage)
        self.after = start
        self.bind = bind
        self.readKey = readKey
    }

    /// Moves to the next row: returns the statement positioned on it (read its columns before the next
    /// call), or `nil` after the last row.
    public func next(in connection: any SQLConnection) throws -> (any SQLStatement)? {
        while !self.finished {
            if let statement = self.statement {
                if try statement.step() {
                    self.rowsInPage += 1
                    self.after = self.readKey(statement)
                    return statement
                }
                // A short page is the last one.
                self.finished = self.rowsInPage < self.rowsPerPage
                self.statement = nil
                continue
            }
            let statement = try connection.prepare(self.sql)
            try self.bind(statement, self.after)
            self.statement = statement
            self.rowsInPage = 0
        }
        return nil
    }

    /// Calls `body` with the statement positioned on each remaining row, in key order.
    public func forEach(in connection: any SQLConnection, _ body: (_ row: any SQLStatement) throws -> Void) throws {
        while let row = try self.next(in: connection) {
            try body(row)
        }
    }
}
