import Foundation
import Logging
import SegmentsPostgres

/// The database a test's profile store keeps its data in: SQLite in the test's directory, or a
/// database of its own on the throwaway PostgreSQL server named by `SEGMENTS_TEST_POSTGRES` (which
/// the test command starts; see `dev/postgres-server.sh`).
///
/// Stores started by ``InProcessProfileStore`` and ``DaemonPair`` use ``current``; a test runs its
/// body once per backend with ``withEach(_:)``.
public enum TestStoreBackend: Sendable, CustomStringConvertible {
    case sqlite
    /// The server's URL, to a database the tests may create databases from (e.g. `postgres`).
    case postgres(serverURL: String)

    /// The backend of stores started in this task.
    @TaskLocal public static var current: TestStoreBackend = .sqlite

    /// The environment variable naming the test PostgreSQL server.
    public static let serverVariable = "SEGMENTS_TEST_POSTGRES"

    /// SQLite, then PostgreSQL when `SEGMENTS_TEST_POSTGRES` names a server.
    public static var available: [TestStoreBackend] {
        guard let url = ProcessInfo.processInfo.environment[Self.serverVariable], !url.isEmpty else {
            return [.sqlite]
        }
        return [.sqlite, .postgres(serverURL: url)]
    }

    /// Runs `body` once with each available backend as ``current``; returns the last result.
    public static func withEach<Result: Sendable>(_ body: () async throws -> Result) async throws -> Result {
        var result: Result?
        for backend in Self.available {
            result = try await Self.$current.withValue(backend) {
                do {
                    return try await body()
                } catch {
                    throw BackendFailure(backend: backend, error: error)
                }
            }
        }
        return result!
    }

    /// The PostgreSQL URL of the database for a test directory (created on first use, so that a
    /// store restarted on the same directory finds its data), or `nil` on SQLite.
    public func postgresURL(forDirectory directory: String) throws -> String? {
        guard case .postgres(let serverURL) = self else { return nil }
        let server = try PostgresAddress(url: serverURL)
        var hasher = FNV1a()
        hasher.add(directory)
        let name = "segments_test_\(String(hasher.value, radix: 16))"
        let connection = try PostgresSQLConnection(address: server, logger: Logger(label: "test-postgres"))
        defer { connection.close() }
        do {
            try connection.execute("CREATE DATABASE \(name)")
        } catch let error as PostgresSQLError where error.sqlState == "42P04" {
            // Already made for this directory: a restart.
        }
        return server.database(name).urlString
    }

    /// The `profile-store` arguments that put a store's data for `directory` on this backend.
    public func storeArguments(directory: String) throws -> [String] {
        if let url = try self.postgresURL(forDirectory: directory) {
            return ["--postgres", url]
        }
        return ["--data-dir", directory + "/data"]
    }

    public var description: String {
        switch self {
        case .sqlite: "SQLite"
        case .postgres: "PostgreSQL"
        }
    }

    /// A test's failure, naming the backend it ran on.
    public struct BackendFailure: Error, CustomStringConvertible {
        public let backend: TestStoreBackend
        public let error: any Error

        public var description: String {
            "on \(self.backend): \(self.error)"
        }
    }
}

/// 64-bit FNV-1a: a stable hash of a directory path (Swift's `Hasher` is seeded per process).
private struct FNV1a {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func add(_ text: String) {
        for byte in text.utf8 {
            self.value = (self.value ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
    }
}
