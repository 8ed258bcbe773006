import SegmentsSQLite
import Testing

@Suite struct SQLiteStatementTests {
    private func makeDatabase() throws -> SQLiteConnection {
        let db = try SQLiteConnection(path: ":memory:", options: .init(journalMode: nil))
        try db.execute(
            """
            CREATE TABLE t(
                id INTEGER PRIMARY KEY,
                i INTEGER, d REAL, s TEXT, b BLOB,
                u TEXT UNIQUE, n TEXT NOT NULL DEFAULT ''
            );
            """
        )
        return db
    }

    @Test func roundTripsEveryType() throws {
        let db = try self.makeDatabase()
        let insert = try db.prepare("INSERT INTO t(i, d, s, b) VALUES (?, ?, ?, ?)")
        #expect(insert.parameterCount == 4)
        let rows: [(Int64?, Double?, String?, [UInt8]?)] = [
            (Int64.max, 1.5, "plain", [0, 1, 2, 255]),
            (Int64.min, -0.0, "", []),
            (0, .greatestFiniteMagnitude, "héllo 👋 中文 \u{0}after-nul", Array(repeating: 7, count: 100_000)),
            (nil, nil, nil, nil),
        ]
        for row in rows {
            try insert.bind(row.0, at: 1)
            try insert.bind(row.1, at: 2)
            try insert.bind(row.2, at: 3)
            try insert.bind(row.3, at: 4)
            try insert.execute()
            #expect(db.changes == 1)
        }
        #expect(db.lastInsertRowID == 4)

        let select = try db.prepare("SELECT i, d, s, b FROM t ORDER BY id")
        #expect(select.columnCount == 4)
        #expect(select.columnName(at: 2) == "s")
        var index = 0
        while try select.step() {
            let row = rows[index]
            if let i = row.0 {
                #expect(select.columnType(at: 0) == .integer)
                #expect(select.int64(at: 0) == i)
                #expect(select.columnType(at: 1) == .double)
                #expect(select.double(at: 1) == row.1)
                // Empty text and blobs are stored as empty values, not NULL.
                #expect(select.columnType(at: 2) == .text)
                #expect(select.string(at: 2) == row.2)
                #expect(select.columnType(at: 3) == .blob)
                #expect(select.blob(at: 3) == row.3)
                select.withBlob(at: 3) { #expect($0.count == row.3?.count) }
            } else {
                for column in 0..<4 {
                    #expect(select.isNull(at: column))
                    #expect(select.columnType(at: column) == .null)
                }
                #expect(select.int64(at: 0) == 0)
                #expect(select.string(at: 2) == "")
                #expect(select.blob(at: 3) == [])
                select.withBlob(at: 3) { #expect($0.isEmpty) }
            }
            index += 1
        }
        #expect(index == rows.count)
    }

    @Test func bindsIntsRawBuffersAndNull() throws {
        let db = try self.makeDatabase()
        let insert = try db.prepare("INSERT INTO t(i, b, s) VALUES (?, ?, ?)")
        try insert.bind(42, at: 1)
        let bytes: [UInt8] = [9, 8, 7]
        try bytes.withUnsafeBytes { try insert.bind($0, at: 2) }
        try insert.bindNull(at: 3)
        try insert.execute()
        try insert.bind(Int?.none, at: 1)
        try insert.bind(UnsafeRawBufferPointer(start: nil, count: 0), at: 2)
        try insert.execute()

        let select = try db.prepare("SELECT i, b, s FROM t ORDER BY id")
        #expect(try select.step())
        #expect(select.int(at: 0) == 42)
        #expect(select.blob(at: 1) == bytes)
        #expect(select.isNull(at: 2))
        #expect(try select.step())
        #expect(select.isNull(at: 0))
        #expect(select.columnType(at: 1) == .blob)
        #expect(select.blob(at: 1).isEmpty)
        #expect(try !select.step())
    }

    @Test func updatesAndDeletes() throws {
        let db = try self.makeDatabase()
        try db.execute("INSERT INTO t(i) VALUES (1), (2), (3)")
        let update = try db.prepare("UPDATE t SET s = ? WHERE i >= ?")
        try update.bind("x", at: 1)
        try update.bind(Int64(2), at: 2)
        try update.execute()
        #expect(db.changes == 2)
        let delete = try db.prepare("DELETE FROM t WHERE s = ?")
        try delete.bind("x", at: 1)
        try delete.execute()
        #expect(db.changes == 2)
        let count = try db.prepare("SELECT count(*), max(i) FROM t")
        #expect(try count.step())
        #expect(count.int(at: 0) == 1)
        #expect(count.int(at: 1) == 1)
    }

    @Test func reportsConstraintViolations() throws {
        let db = try self.makeDatabase()
        let insert = try db.prepare("INSERT INTO t(id, u) VALUES (?, ?)")
        try insert.bind(1, at: 1)
        try insert.bind("secret-user-value", at: 2)
        try insert.execute()

        try insert.bind(2, at: 1)
        let unique = #expect(throws: SQLiteError.self) { try insert.execute() }
        #expect(unique?.code == .constraint)
        #expect(unique?.extendedCode == .constraintUnique)
        #expect(unique?.isConstraintViolation == true)
        #expect(unique?.isUniqueViolation == true)
        #expect(unique?.isBusy == false)
        #expect(unique?.message == "UNIQUE constraint failed: t.u")
        // User data and SQL stay out of `description`; the SQL is in `debugDescription`.
        let description = unique.map { String(describing: $0) } ?? ""
        #expect(!description.contains("secret-user-value"))
        #expect(!description.contains("INSERT"))
        #expect(unique?.debugDescription.contains("INSERT INTO t(id, u)") == true)
        #expect(unique?.debugDescription.contains("secret-user-value") == false)

        try insert.bind(1, at: 1)
        try insert.bind("other", at: 2)
        let primaryKey = #expect(throws: SQLiteError.self) { try insert.execute() }
        #expect(primaryKey?.extendedCode == .constraintPrimaryKey)
        #expect(primaryKey?.isUniqueViolation == true)

        let notNull = #expect(throws: SQLiteError.self) { try db.execute("INSERT INTO t(n) VALUES (NULL)") }
        #expect(notNull?.extendedCode == .constraintNotNull)
        #expect(notNull?.isUniqueViolation == false)

        // The statement was reset by the failure and runs again.
        try insert.bind(3, at: 1)
        try insert.execute()
        #expect(db.lastInsertRowID == 3)
    }

    @Test func rejectsBadSQLAndBadIndexes() throws {
        let db = try self.makeDatabase()
        let syntax = #expect(throws: SQLiteError.self) { try db.prepare("SELEC 1") }
        #expect(syntax?.code == .error)
        #expect(syntax?.sql == "SELEC 1")
        let twoStatements = #expect(throws: SQLiteError.self) { try db.prepare("SELECT 1; SELECT 2") }
        #expect(twoStatements?.code == .misuse)
        let empty = #expect(throws: SQLiteError.self) { try db.prepare("  -- nothing") }
        #expect(empty?.code == .misuse)
        // A trailing semicolon, whitespace and comment are fine.
        _ = try db.prepare("SELECT 1; \n -- done\n")

        let statement = try db.prepare("SELECT ?")
        for index in [0, 2, Int.max, Int.min] {
            let range = #expect(throws: SQLiteError.self) { try statement.bind(1, at: index) }
            #expect(range?.code == .range)
        }
        #expect(statement.isNull(at: 99))
        #expect(statement.columnName(at: 99) == "")
    }

    @Test func bindingsSurviveResetUntilCleared() throws {
        let db = try self.makeDatabase()
        let select = try db.prepare("SELECT ?, ?")
        try select.bind("a", at: 1)
        try select.bind(2.5, at: 2)
        #expect(try select.step())
        select.reset()
        #expect(try select.step())
        #expect(select.string(at: 0) == "a")
        #expect(try !select.step())
        // Stepping again after the end runs the statement again.
        #expect(try select.step())
        select.clearBindings()
        select.reset()
        #expect(try select.step())
        #expect(select.isNull(at: 0))
        #expect(select.isNull(at: 1))
    }
}
