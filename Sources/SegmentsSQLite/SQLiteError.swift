import CSQLite

/// An error reported by SQLite, or a misuse of this wrapper detected before SQLite was called.
///
/// `description` carries the result code and SQLite's message, which names tables, columns and
/// constraints but never the values bound to a statement. The SQL text is only in
/// `debugDescription`, and bound values are never recorded anywhere.
public struct SQLiteError: Error, Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// A SQLite result code, primary (`SQLITE_CONSTRAINT`) or extended (`SQLITE_CONSTRAINT_UNIQUE`).
    ///
    /// A struct around the raw `Int32`, so every code SQLite has or will have can be represented.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The raw SQLite result code.
        public let rawValue: Int32

        /// Wraps a raw SQLite result code.
        /// - Parameter rawValue: A primary or extended SQLite result code.
        public init(rawValue: Int32) {
            self.rawValue = rawValue
        }

        /// The primary code: the low 8 bits of an extended code (`SQLITE_CONSTRAINT` for
        /// `SQLITE_CONSTRAINT_UNIQUE`).
        public var primary: Code {
            Code(rawValue: self.rawValue & 0xFF)
        }

        /// SQLite's English text for the code, such as `"constraint failed"`.
        public var description: String {
            String(cString: sqlite3_errstr(self.rawValue))
        }

        /// `SQLITE_ERROR`: a generic error, such as an SQL syntax error or a missing table.
        public static let error = Code(rawValue: SQLITE_ERROR)
        /// `SQLITE_BUSY`: another connection holds a conflicting lock and the busy timeout expired.
        public static let busy = Code(rawValue: SQLITE_BUSY)
        /// `SQLITE_LOCKED`: a conflict inside this connection or through a shared cache.
        public static let locked = Code(rawValue: SQLITE_LOCKED)
        /// `SQLITE_READONLY`: a write on a read-only connection or file.
        public static let readOnly = Code(rawValue: SQLITE_READONLY)
        /// `SQLITE_IOERR`: the operating system reported an I/O error.
        public static let ioError = Code(rawValue: SQLITE_IOERR)
        /// `SQLITE_CORRUPT`: the database file is malformed.
        public static let corrupt = Code(rawValue: SQLITE_CORRUPT)
        /// `SQLITE_NOTADB`: the file is not an SQLite database.
        public static let notADatabase = Code(rawValue: SQLITE_NOTADB)
        /// `SQLITE_FULL`: the disk is full.
        public static let full = Code(rawValue: SQLITE_FULL)
        /// `SQLITE_CANTOPEN`: the database file could not be opened.
        public static let cantOpen = Code(rawValue: SQLITE_CANTOPEN)
        /// `SQLITE_CONSTRAINT`: a UNIQUE, NOT NULL, CHECK, PRIMARY KEY or foreign key constraint failed.
        public static let constraint = Code(rawValue: SQLITE_CONSTRAINT)
        /// `SQLITE_TOOBIG`: a string or blob exceeds SQLite's size limit.
        public static let tooBig = Code(rawValue: SQLITE_TOOBIG)
        /// `SQLITE_MISUSE`: the API was used incorrectly, for example a closed connection.
        public static let misuse = Code(rawValue: SQLITE_MISUSE)
        /// `SQLITE_RANGE`: a bind index is out of range.
        public static let range = Code(rawValue: SQLITE_RANGE)
        /// `SQLITE_CONSTRAINT_UNIQUE`: a UNIQUE constraint or unique index failed.
        public static let constraintUnique = Code(rawValue: SQLITE_CONSTRAINT | (8 << 8))
        /// `SQLITE_CONSTRAINT_PRIMARYKEY`: a PRIMARY KEY constraint failed.
        public static let constraintPrimaryKey = Code(rawValue: SQLITE_CONSTRAINT | (6 << 8))
        /// `SQLITE_CONSTRAINT_NOTNULL`: a NOT NULL constraint failed.
        public static let constraintNotNull = Code(rawValue: SQLITE_CONSTRAINT | (5 << 8))
        /// `SQLITE_CONSTRAINT_CHECK`: a CHECK constraint failed.
        public static let constraintCheck = Code(rawValue: SQLITE_CONSTRAINT | (1 << 8))
        /// `SQLITE_CONSTRAINT_FOREIGNKEY`: a foreign key constraint failed.
        public static let constraintForeignKey = Code(rawValue: SQLITE_CONSTRAINT | (3 << 8))
    }

    /// The extended result code, such as `SQLITE_CONSTRAINT_UNIQUE`.
    public let extendedCode: Code
    /// SQLite's error message, such as `"UNIQUE constraint failed: users.id"`.
    public let message: String
    /// The SQL text of the statement that failed, when there was one. Only shown by `debugDescription`.
    public let sql: String?

    /// The primary result code, such as `SQLITE_CONSTRAINT`.
    public var code: Code {
        self.extendedCode.primary
    }

    /// Creates an error.
    /// - Parameters:
    ///   - code: A primary or extended SQLite result code.
    ///   - message: A human-readable message; must not contain user data.
    ///   - sql: The SQL text involved, if any.
    public init(code: Code, message: String, sql: String? = nil) {
        self.extendedCode = code
        self.message = message
        self.sql = sql
    }

    /// Whether a constraint (UNIQUE, PRIMARY KEY, NOT NULL, CHECK, foreign key) failed.
    public var isConstraintViolation: Bool {
        self.code == .constraint
    }

    /// Whether a UNIQUE constraint, unique index or PRIMARY KEY rejected a duplicate.
    public var isUniqueViolation: Bool {
        self.extendedCode == .constraintUnique || self.extendedCode == .constraintPrimaryKey
    }

    /// Whether the database was locked by someone else (`SQLITE_BUSY` or `SQLITE_LOCKED`); retrying may succeed.
    public var isBusy: Bool {
        self.code == .busy || self.code == .locked
    }

    /// The result code and message, without the SQL text.
    public var description: String {
        "SQLite error \(self.extendedCode.rawValue) (\(self.code)): \(self.message)"
    }

    /// The description followed by the SQL text, when known.
    public var debugDescription: String {
        guard let sql = self.sql else { return self.description }
        return "\(self.description) [SQL: \(sql)]"
    }
}

extension SQLiteError {
    /// Builds an error from a result code and the connection's current error message.
    init(resultCode: Int32, connection db: OpaquePointer?, sql: String?) {
        // With extended result codes enabled the code returned by the call is already extended.
        let message: String
        if let db, let text = sqlite3_errmsg(db), sqlite3_errcode(db) != SQLITE_OK {
            message = String(cString: text)
        } else {
            message = String(cString: sqlite3_errstr(resultCode))
        }
        self.init(code: Code(rawValue: resultCode), message: message, sql: sql)
    }

    /// A misuse of this wrapper, detected before SQLite was called.
    static func misuse(_ message: String, sql: String? = nil) -> SQLiteError {
        SQLiteError(code: .misuse, message: message, sql: sql)
    }
}
