import PostgresNIO

/// A failure of a PostgreSQL statement or connection, with the server's own words when it sent any.
public struct PostgresSQLError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, as a class a caller can act on.
    public enum Kind: Sendable, Hashable {
        /// The server refused the statement (`sqlState` says why).
        case server
        /// The connection could not be made, or was lost: whatever was in flight is not known to have run.
        case connection
        /// A value came back in a form this client does not read.
        case decoding
    }

    /// The class of the failure.
    public let kind: Kind
    /// The server's SQLSTATE code (e.g. `23505` for a unique violation), when the server sent one.
    public let sqlState: String?
    /// A human message: the server's message and detail, or what the client saw.
    public let message: String
    /// The statement, when the failure belongs to one.
    public let sql: String?

    /// Makes an error.
    public init(_ kind: Kind, _ message: String, sqlState: String? = nil, sql: String? = nil) {
        self.kind = kind
        self.message = message
        self.sqlState = sqlState
        self.sql = sql
    }

    /// Wraps what postgres-nio threw, keeping the server's message (PSQLError's own description hides it).
    init(_ error: any Error, sql: String?) {
        if let error = error as? PostgresSQLError {
            self.init(error.kind, error.message, sqlState: error.sqlState, sql: sql ?? error.sql)
            return
        }
        guard let error = error as? PSQLError else {
            self.init(.connection, "\(error)", sql: sql)
            return
        }
        if error.code == .server, let info = error.serverInfo {
            var message = info[.message] ?? "server error"
            if let detail = info[.detail] {
                message += " (\(detail))"
            }
            self.init(.server, message, sqlState: info[.sqlState], sql: sql)
            return
        }
        let underlying = error.underlying.map { ": \($0)" } ?? ""
        self.init(.connection, "\(error.code)\(underlying)", sql: sql)
    }

    /// Whether the server refused the statement for a unique or primary-key violation.
    public var isUniqueViolation: Bool {
        self.sqlState == "23505"
    }

    public var description: String {
        let state = self.sqlState.map { " [\($0)]" } ?? ""
        // The statement's start is enough to find it (a migration runs to pages).
        let statement = self.sql.map { " in: " + ($0.count > 160 ? $0.prefix(160) + "…" : $0) } ?? ""
        return "PostgreSQL: \(self.message)\(state)\(statement)"
    }
}
