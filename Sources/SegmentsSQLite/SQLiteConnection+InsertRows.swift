extension SQLiteConnection {
    /// Inserts `count` rows with a multi-row statement — `INSERT … VALUES (?, …), (?, …), …` with
    /// `rowsPerStatement` rows — and the rest one statement per row. One statement per row spends
    /// most of a bulk insert in SQLite's per-statement step/reset work rather than in the B-trees.
    ///
    /// Both statements are cached on the connection.
    ///
    /// - Parameters:
    ///   - insert: the statement up to `VALUES`, e.g. `INSERT OR IGNORE INTO t(a, b)`.
    ///   - columns: parameters per row.
    ///   - count: rows to insert.
    ///   - rowsPerStatement: rows per multi-row statement.
    ///   - bind: binds row `row` at parameters `first`, `first + 1`, … `first + columns - 1`.
    public func insertRows(
        _ insert: String,
        columns: Int,
        count: Int,
        rowsPerStatement: Int,
        bind: (_ statement: SQLiteStatement, _ row: Int, _ first: Int) throws -> Void
    ) throws {
        let values = "(" + repeatElement("?", count: columns).joined(separator: ", ") + ")"
        var row = 0
        if count >= rowsPerStatement {
            let many = try self.cachedStatement(
                insert + " VALUES " + repeatElement(values, count: rowsPerStatement).joined(separator: ", ")
            )
            while count - row >= rowsPerStatement {
                for offset in 0..<rowsPerStatement {
                    try bind(many, row + offset, columns * offset + 1)
                }
                try many.execute()
                row += rowsPerStatement
            }
        }
        let one = try self.cachedStatement(insert + " VALUES " + values)
        while row < count {
            try bind(one, row, 1)
            try one.execute()
            row += 1
        }
    }
}
