import NIOCore
import PostgresNIO
import SegmentsSQL

/// A statement of a ``PostgresSQLConnection``. Its SQL is written with SQLite's `?` / `?N`
/// placeholders, rewritten once as PostgreSQL's `$N`. The first ``step()`` runs it and fetches
/// every row; the following ones walk them.
public final class PostgresSQLStatement: SQLStatement {
    private enum Value {
        case int64(Int64)
        case text(String)
        case bytes([UInt8])
        case null
    }

    /// The statement as written.
    public let sql: String
    /// The statement as sent (`$N` placeholders).
    let translated: String
    private unowned let connection: PostgresSQLConnection
    private var values: [Value]
    private var rows: [PostgresRow]?
    private var nextRow = 0
    private var cells: [PostgresCell] = []

    init(sql: String, connection: PostgresSQLConnection) {
        self.sql = sql
        let (translated, parameters) = Self.translate(sql)
        self.translated = translated
        self.values = Array(repeating: .null, count: parameters)
        self.connection = connection
    }

    // MARK: - Binding

    public func bind(_ value: Int64, at index: Int) throws {
        try self.set(.int64(value), at: index)
    }

    public func bind(_ value: String, at index: Int) throws {
        try self.set(.text(value), at: index)
    }

    public func bind(_ value: [UInt8], at index: Int) throws {
        try self.set(.bytes(value), at: index)
    }

    public func bind(_ value: UnsafeRawBufferPointer, at index: Int) throws {
        try self.set(.bytes([UInt8](value)), at: index)
    }

    public func bindNull(at index: Int) throws {
        try self.set(.null, at: index)
    }

    private func set(_ value: Value, at index: Int) throws(PostgresSQLError) {
        guard index >= 1, index <= self.values.count else {
            throw PostgresSQLError(
                .server,
                "parameter \(index) is out of range: the statement takes \(self.values.count)",
                sql: self.sql
            )
        }
        self.values[index - 1] = value
    }

    // MARK: - Running

    public func step() throws -> Bool {
        if self.rows == nil {
            self.rows = try self.connection.run(self.query(), sql: self.sql)
            self.nextRow = 0
        }
        guard let rows = self.rows, self.nextRow < rows.count else {
            self.reset()
            return false
        }
        self.cells = Array(rows[self.nextRow])
        self.nextRow += 1
        return true
    }

    public func execute() throws {
        self.reset()
        _ = try self.connection.run(self.query(), sql: self.sql)
    }

    public func reset() {
        self.rows = nil
        self.cells = []
    }

    private func query() -> PostgresQuery {
        var bindings = PostgresBindings(capacity: self.values.count)
        for value in self.values {
            switch value {
            case .int64(let value): bindings.append(value)
            case .text(let value): bindings.append(value)
            case .bytes(let value): bindings.append(ByteBuffer(bytes: value))
            case .null: bindings.appendNull()
            }
        }
        return PostgresQuery(unsafeSQL: self.translated, binds: bindings)
    }

    // MARK: - Columns

    public func isNull(at index: Int) -> Bool {
        self.cell(index)?.bytes == nil
    }

    /// Integers of any width, booleans as 0 or 1, and text holding a number; anything else is 0.
    public func int64(at index: Int) -> Int64 {
        guard let cell = self.cell(index), let bytes = cell.bytes else { return 0 }
        let at = bytes.readerIndex
        switch cell.dataType {
        case .int8: return bytes.getInteger(at: at, as: Int64.self) ?? 0
        case .int4: return Int64(bytes.getInteger(at: at, as: Int32.self) ?? 0)
        case .int2: return Int64(bytes.getInteger(at: at, as: Int16.self) ?? 0)
        case .bool: return Int64(bytes.getInteger(at: at, as: UInt8.self) ?? 0)
        default: return Int64(self.string(at: index)) ?? 0
        }
    }

    public func string(at index: Int) -> String {
        guard let cell = self.cell(index), let bytes = cell.bytes else { return "" }
        switch cell.dataType {
        case .int8, .int4, .int2: return String(self.int64(at: index))
        default: return String(buffer: bytes)
        }
    }

    public func withBlob<Result, Failure: Error>(
        at index: Int,
        _ body: (UnsafeRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        guard let bytes = self.cell(index)?.bytes else {
            return try body(UnsafeRawBufferPointer(start: nil, count: 0))
        }
        let outcome = bytes.withUnsafeReadableBytes { buffer in
            Swift.Result { () throws(Failure) -> Result in try body(buffer) }
        }
        return try outcome.get()
    }

    private func cell(_ index: Int) -> PostgresCell? {
        index >= 0 && index < self.cells.count ? self.cells[index] : nil
    }

    // MARK: - Placeholders

    /// Rewrites `?N` as `$N` and each bare `?` as the next number (SQLite's numbering), outside quoted
    /// text; returns the statement and how many parameters it takes.
    static func translate(_ sql: String) -> (String, Int) {
        var output = ""
        output.reserveCapacity(sql.utf8.count + 8)
        var highest = 0
        var quote: Character?
        var index = sql.startIndex
        while index < sql.endIndex {
            let character = sql[index]
            index = sql.index(after: index)
            if let open = quote {
                output.append(character)
                if character == open { quote = nil }
                continue
            }
            if character == "'" || character == "\"" {
                quote = character
                output.append(character)
                continue
            }
            guard character == "?" else {
                output.append(character)
                continue
            }
            var digits = ""
            while index < sql.endIndex, let digit = sql[index].wholeNumberValue, sql[index].isASCII {
                digits.append(String(digit))
                index = sql.index(after: index)
            }
            let number = Int(digits) ?? highest + 1
            highest = max(highest, number)
            output += "$\(number)"
        }
        return (output, highest)
    }
}
