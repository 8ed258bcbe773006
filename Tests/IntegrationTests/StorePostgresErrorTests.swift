import Foundation
import Logging
import SegmentsPostgres
import SegmentsTesting
import Testing

/// A store on PostgreSQL says why it cannot start or go on, and exits (systemd restarts it): an unreachable database,
/// a schema newer than the binary, the database connection lost under it.
@Suite struct StorePostgresErrorTests {
    static let hasPostgres = TestStoreBackend.available.count > 1

    /// A store started against nothing: no daemon, so `CommandResult` sees it exit.
    @Test func anUnreachableDatabaseStopsTheStoreAtStartWithTheReason() async throws {
        try await TemporaryDirectory.with { directory in
            let result = try await CommandResult.run(
                BuiltProducts.path(of: "profile-store"),
                ["--socket", directory + "/store.sock", "--postgres", "postgres://segments@127.0.0.1:1/segments"]
            )
            #expect(result.status != 0)
            #expect(result.stderr.contains("cannot connect to postgres://segments@127.0.0.1:1/segments"))
        }
    }

    @Test func aURLThatIsNotPostgresIsRefused() async throws {
        try await TemporaryDirectory.with { directory in
            let result = try await CommandResult.run(
                BuiltProducts.path(of: "profile-store"),
                ["--socket", directory + "/store.sock", "--postgres", "mysql://root@localhost/segments"]
            )
            #expect(result.status != 0)
            #expect(result.stderr.contains("is not a postgres:// URL"))
        }
    }

    @Test(.enabled(if: Self.hasPostgres, "needs the test PostgreSQL server (SEGMENTS_TEST_POSTGRES)"))
    func aSchemaNewerThanTheStoreIsRefused() async throws {
        try await TemporaryDirectory.with { directory in
            let url = try #require(try TestStoreBackend.available.last?.postgresURL(forDirectory: directory))
            let arguments = ["--socket", directory + "/store.sock", "--postgres", url]
            let store = try await DaemonProcess.start(
                BuiltProducts.path(of: "profile-store"),
                arguments: arguments,
                socketPath: directory + "/store.sock",
                logPath: directory + "/store.log"
            )
            #expect(store.terminate() == 0)
            let connection = try PostgresSQLConnection(
                address: PostgresAddress(url: url),
                logger: Logger(label: "test")
            )
            try connection.execute("UPDATE schema_version SET version = 99")
            connection.close()
            let result = try await CommandResult.run(BuiltProducts.path(of: "profile-store"), arguments)
            #expect(result.status != 0)
            #expect(result.stderr.contains("database schema version 99 is newer than this store"))
        }
    }

    @Test(.enabled(if: Self.hasPostgres, "needs the test PostgreSQL server (SEGMENTS_TEST_POSTGRES)"))
    func theWriterStopsWhenItsDatabaseConnectionIsLost() async throws {
        try await TemporaryDirectory.with { directory in
            let url = try #require(try TestStoreBackend.available.last?.postgresURL(forDirectory: directory))
            let store = try await DaemonProcess.start(
                BuiltProducts.path(of: "profile-store"),
                arguments: ["--socket", directory + "/store.sock", "--postgres", url],
                socketPath: directory + "/store.sock",
                logPath: directory + "/store.log"
            )
            defer { if store.isRunning { store.kill() } }
            // The writer's session is the one holding the advisory lock: end it from the server's side.
            let connection = try PostgresSQLConnection(
                address: PostgresAddress(url: url),
                logger: Logger(label: "test")
            )
            defer { connection.close() }
            let terminate = try connection.prepare(
                """
                SELECT pg_terminate_backend(pid) FROM pg_locks
                WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                """
            )
            #expect(try terminate.step() && terminate.int64(at: 0) == 1)
            terminate.reset()
            let deadline = ContinuousClock.now + .seconds(10)
            while store.isRunning, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(!store.isRunning)
            #expect(store.log.contains("lost the connection to the database, and with it the writer role"))
        }
    }
}
