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
        try await Self.withWriterStore { store, backendPID, connection in
            let terminate = try connection.prepare("SELECT pg_terminate_backend(CAST(? AS integer))")
            try terminate.bind(backendPID, at: 1)
            #expect(try terminate.step() && terminate.int64(at: 0) == 1)
            terminate.reset()
            #expect(await Self.exits(store, within: .seconds(10)))
            #expect(store.log.contains("lost the connection to the database, and with it the writer role"))
        }
    }

    /// A database that stops answering without closing the connection (a frozen host, a half-open TCP connection):
    /// the writer's once-a-second write gets no answer, and after `--postgres-query-timeout` the store gives the
    /// connection up, and with it the writer role. The writer's server process is frozen with SIGSTOP.
    @Test(.enabled(if: Self.hasPostgres, "needs the test PostgreSQL server (SEGMENTS_TEST_POSTGRES)"))
    func aDatabaseThatStopsAnsweringEndsTheWriterRoleAfterTheQueryTimeout() async throws {
        try await Self.withWriterStore(arguments: ["--postgres-query-timeout", "2"]) { store, backendPID, _ in
            #expect(kill(pid_t(backendPID), SIGSTOP) == 0)
            defer { kill(pid_t(backendPID), SIGCONT) }
            let stopped = ContinuousClock.now
            #expect(await Self.exits(store, within: .seconds(15)))
            #expect(ContinuousClock.now - stopped >= .seconds(2))
            #expect(store.log.contains("no answer from the server within 2.0 seconds"))
            #expect(store.log.contains("lost the connection to the database, and with it the writer role"))
        }
    }

    /// Runs `body` with a store that is the writer of a fresh database, the process id of the PostgreSQL backend
    /// serving its writer connection (the session holding the advisory lock), and a connection of the test's own.
    private static func withWriterStore(
        arguments: [String] = [],
        _ body: (DaemonProcess, Int64, PostgresSQLConnection) async throws -> Void
    ) async throws {
        try await TemporaryDirectory.with { directory in
            let url = try #require(try TestStoreBackend.available.last?.postgresURL(forDirectory: directory))
            let store = try await DaemonProcess.start(
                BuiltProducts.path(of: "profile-store"),
                arguments: ["--socket", directory + "/store.sock", "--postgres", url] + arguments,
                socketPath: directory + "/store.sock",
                logPath: directory + "/store.log"
            )
            defer { if store.isRunning { store.kill() } }
            let connection = try PostgresSQLConnection(
                address: PostgresAddress(url: url),
                logger: Logger(label: "test")
            )
            defer { connection.close() }
            let writer = try connection.prepare(
                """
                SELECT pid FROM pg_locks
                WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                """
            )
            #expect(try writer.step())
            let backendPID = writer.int64(at: 0)
            writer.reset()
            try await body(store, backendPID, connection)
        }
    }

    /// Whether `process` exits within `limit`.
    private static func exits(_ process: DaemonProcess, within limit: Duration) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while process.isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        return !process.isRunning
    }
}
