import SegmentsSQL
import SegmentsSQLite
import Testing

/// The dialect-neutral helpers of `SegmentsSQL` (keyset pages, chunked statements), run on SQLite; the
/// store suites run them on PostgreSQL too.
@Suite struct SQLHelpersTests {
    private func makeDatabase(rows: Int) throws -> SQLiteConnection {
        let db = try SQLiteConnection(path: ":memory:", options: .init(journalMode: nil))
        try db.execute("CREATE TABLE t(a INTEGER NOT NULL, b TEXT NOT NULL, PRIMARY KEY(a, b)) WITHOUT ROWID")
        try db.insertRows("INSERT INTO t(a, b)", columns: 2, count: rows, rowsPerStatement: 7) { statement, row, at in
            try statement.bind(Int64(row / 3), at: at)
            try statement.bind("k\(row % 3)", at: at + 1)
        }
        return db
    }

    /// Every row exactly once, in key order, whether the rows fill the last page, leave it short, or
    /// there are none; a key of two columns continues inside a run of equal first columns.
    @Test(arguments: [0, 1, 4, 5, 12, 13])
    func keysetPagesReadEveryRowOnceInOrder(rows: Int) throws {
        let db = try self.makeDatabase(rows: rows)
        var queries = 0
        let pages = KeysetPages(
            "SELECT a, b FROM t WHERE (a, b) > (?, ?) ORDER BY a, b",
            after: (a: Int64.min, b: ""),
            rowsPerPage: 4,
            bind: { statement, after in
                queries += 1
                try statement.bind(after.a, at: 1)
                try statement.bind(after.b, at: 2)
            },
            readKey: { (a: $0.int64(at: 0), b: $0.string(at: 1)) }
        )
        var read: [String] = []
        try pages.forEach(in: db) { row in read.append("\(row.int64(at: 0))/\(row.string(at: 1))") }
        let expected = (0..<rows).map { "\($0 / 3)/k\($0 % 3)" }
        #expect(read == expected)
        // Full pages, then one short (or empty) page that ends the reading.
        #expect(queries == rows / 4 + 1)
        #expect(try pages.next(in: db) == nil)
    }

    /// A chunked statement runs once per chunk, with a shorter last chunk, and hands over every row.
    @Test func runInChunksCoversEveryItem() throws {
        let db = try self.makeDatabase(rows: 30)
        var statements: [Int] = []
        var found: [Int64] = []
        let wanted: [Int64] = [9, 0, 4, 2, 7, 100, 5]
        try db.runInChunks(
            count: wanted.count,
            perStatement: 3,
            sql: { items in
                statements.append(items)
                return "SELECT DISTINCT a FROM t WHERE a IN (\(SQLPlaceholders.list(items))) ORDER BY a"
            },
            bind: { statement, item, slot in try statement.bind(wanted[item], at: slot + 1) },
            row: { found.append($0.int64(at: 0)) }
        )
        #expect(statements == [3, 3, 1])
        #expect(found == [0, 4, 9, 2, 7, 5])
        #expect(SQLPlaceholders.rows(2, columns: 3) == "(?, ?, ?), (?, ?, ?)")
    }
}
