import Foundation
import PostgresNIO

/// Where and as whom to connect to PostgreSQL, read from a libpq-style URL:
/// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`, or with `?host=/socket/directory` for a
/// Unix socket (the server's `.s.PGSQL.PORT` file in that directory).
public struct PostgresAddress: Sendable, Hashable, CustomStringConvertible {
    /// The TCP host, or `nil` for a Unix socket.
    public var host: String?
    /// The port (also names the Unix socket file).
    public var port: Int
    /// The directory of the server's Unix socket, when connecting through one.
    public var socketDirectory: String?
    public var username: String
    public var password: String?
    public var database: String

    /// Reads `url`.
    /// - Throws: ``PostgresSQLError`` (`.connection`) naming what is wrong with the URL.
    public init(url: String) throws(PostgresSQLError) {
        guard let components = URLComponents(string: url),
            components.scheme == "postgres" || components.scheme == "postgresql"
        else {
            throw PostgresSQLError(.connection, "'\(Self.redacted(url))' is not a postgres:// URL")
        }
        let query = Dictionary(
            (components.queryItems ?? []).map { ($0.name, $0.value ?? "") },
            uniquingKeysWith: { _, last in last }
        )
        if let unknown = query.keys.first(where: { !["host", "sslmode"].contains($0) }) {
            throw PostgresSQLError(
                .connection,
                "unknown parameter '\(unknown)' in the PostgreSQL URL (known: host, sslmode)"
            )
        }
        if let mode = query["sslmode"], mode != "disable" {
            throw PostgresSQLError(
                .connection,
                "sslmode=\(mode) is not supported: connect over a Unix socket or a trusted network (sslmode=disable)"
            )
        }
        guard let username = components.user, !username.isEmpty else {
            throw PostgresSQLError(.connection, "the PostgreSQL URL names no user (postgres://USER@HOST/DATABASE)")
        }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty else {
            throw PostgresSQLError(.connection, "the PostgreSQL URL names no database (postgres://USER@HOST/DATABASE)")
        }
        self.username = username
        self.password = components.password
        self.database = database
        self.port = components.port ?? 5432
        if let directory = query["host"], directory.hasPrefix("/") {
            self.socketDirectory = directory
            self.host = nil
        } else if let host = query["host"] ?? components.host, !host.isEmpty {
            self.host = host
        } else {
            throw PostgresSQLError(.connection, "the PostgreSQL URL names no host (or ?host=/socket/directory)")
        }
    }

    /// The URL without its password, for logs and errors.
    public var description: String {
        let user = self.username + (self.password == nil ? "" : ":***")
        if let directory = self.socketDirectory {
            return "postgres://\(user)@:\(self.port)/\(self.database)?host=\(directory)"
        }
        return "postgres://\(user)@\(self.host ?? ""):\(self.port)/\(self.database)"
    }

    /// The same server and user, another database (e.g. `postgres` to create one).
    public func database(_ name: String) -> PostgresAddress {
        var address = self
        address.database = name
        return address
    }

    /// The address as a URL, password included (to hand to a store).
    public var urlString: String {
        var components = URLComponents()
        components.scheme = "postgres"
        components.user = self.username
        components.password = self.password
        components.path = "/" + self.database
        components.port = self.port
        if let directory = self.socketDirectory {
            components.host = ""
            components.queryItems = [URLQueryItem(name: "host", value: directory)]
        } else {
            components.host = self.host
        }
        return components.string ?? ""
    }

    var configuration: PostgresConnection.Configuration {
        if let directory = self.socketDirectory {
            return .init(
                unixSocketPath: "\(directory)/.s.PGSQL.\(self.port)",
                username: self.username,
                password: self.password,
                database: self.database
            )
        }
        return .init(
            host: self.host ?? "localhost",
            port: self.port,
            username: self.username,
            password: self.password,
            database: self.database,
            tls: .disable
        )
    }

    private static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.password != nil else { return url }
        components.password = "***"
        return components.string ?? url
    }
}
