import Logging
import SegmentsPostgres
import SegmentsRPC
import SegmentsSQL
import SegmentsWire
import ServiceLifecycle
import Synchronization

/// Several profile stores on one PostgreSQL database, exactly one of them the writer: the one whose
/// connection holds the database's writer lock, a PostgreSQL session-level advisory lock. The
/// others stand by: they answer every call with a ``RPCError/standby(_:writerAddress:)`` refusal
/// naming the writer's advertised address, and try to take the lock every `interval`.
///
/// PostgreSQL releases the lock when the writer's session ends: the process died (its socket
/// closed), or the server dropped the connection (a lost host is noticed by TCP keepalives). A
/// writer that loses its connection can no longer know that it holds the lock, so it stops (see
/// ``StoreDatabase/failures``), and a standby takes over; restarted, it stands by in turn.
struct WriterElection {
    /// The advisory lock's key: "Segments" in ASCII. Advisory locks belong to one database, so stores of
    /// different databases on one server do not meet.
    static let lockKey: Int64 = 0x5365_676D_656E_7473

    let address: PostgresAddress
    /// How this store is reached, recorded for the standbys to hand out.
    let advertisedAddress: String
    let interval: Duration
    /// See ``PostgresSQLConnection/queryTimeout``.
    let queryTimeout: Duration?
    let logger: Logger

    /// Returns a connection that holds the writer lock; until it does, serves standby refusals on
    /// `server`'s socket.
    /// - Throws: ``ProfileStoreError`` `.startup` when the database cannot be reached;
    ///   `CancellationError` on graceful shutdown while standing by.
    func becomeWriter(server: RPCServerConfiguration) async throws -> PostgresSQLConnection {
        let connection = try self.connect()
        if try self.tryLock(connection) {
            return connection
        }
        let writer = WriterName(self.writerAddress(connection))
        self.logger.notice(
            "another profile store is the writer; standing by",
            metadata: ["writer": "\(writer.withLock { $0 })", "database": "\(self.address)"]
        )
        let advertised = self.advertisedAddress
        let standby = RPCServer(
            configuration: server,
            router: .refusingEveryCall {
                let address = writer.withLock { $0 }
                let whom =
                    address.isEmpty
                    ? "no store is the writer at this moment (a takeover is under way)"
                    : "the writer is at \(address)"
                return .standby(
                    "\(RPCError.standbyPrefix) (\(advertised)): \(whom); the call was not run, send it to the writer",
                    writerAddress: address
                )
            },
            logger: self.logger
        )
        let candidate = Candidate(connection)
        try await cancelWhenGracefulShutdown {
            try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask {
                    try await standby.run()
                    return false
                }
                group.addTask {
                    try await self.waitForLock(candidate, writer: writer)
                    return true
                }
                // Taking the lock ends the standby server (the socket is free again for the writer's); the standby
                // server failing (e.g. its socket taken) ends the wait.
                defer { group.cancelAll() }
                while let tookLock = try await group.next() {
                    if tookLock { return }
                }
            }
        }
        self.logger.notice("took the writer role over", metadata: ["database": "\(self.address)"])
        return candidate.connection
    }

    /// Tries the lock every `interval` until it is taken, keeping `writer` up to date meanwhile. A standby whose
    /// connection is lost (the server restarted, a failover of PostgreSQL itself, the session ended) goes on
    /// standing by and connects again at the next try: it holds nothing that the lost session took with it.
    private func waitForLock(_ candidate: Candidate, writer: WriterName) async throws {
        var disconnected = false
        while true {
            try await Task.sleep(for: self.interval)
            do {
                if candidate.connection.isClosed {
                    if !disconnected {
                        self.logger.notice(
                            "lost the database connection; connecting again",
                            metadata: ["database": "\(self.address)"]
                        )
                    }
                    candidate.connection = try self.connect()
                }
                if try self.tryLock(candidate.connection) { return }
                if disconnected {
                    disconnected = false
                    self.logger.notice(
                        "connected to the database again; standing by",
                        metadata: ["database": "\(self.address)"]
                    )
                }
            } catch {
                if !disconnected {
                    disconnected = true
                    self.logger.warning(
                        "standing by without a database connection; trying again every \(self.interval)",
                        metadata: ["database": "\(self.address)", "error": "\(error)"]
                    )
                }
                continue
            }
            let current = self.writerAddress(candidate.connection)
            writer.withLock { $0 = current }
        }
    }

    /// The writer's address as last read, shared by the standby server's refusals and the election's loop.
    private final class WriterName: Sendable {
        private let address: Mutex<String>

        init(_ address: String) {
            self.address = Mutex(address)
        }

        func withLock<Result>(_ body: (inout String) -> Result) -> Result {
            self.address.withLock { body(&$0) }
        }
    }

    /// The connection that waits for the lock (made again when lost), used by one task at a time: the election's
    /// loop, then the writer.
    private final class Candidate: @unchecked Sendable {
        var connection: PostgresSQLConnection

        init(_ connection: PostgresSQLConnection) {
            self.connection = connection
        }
    }

    /// Records this store as the writer, for the standbys; runs on the locked writer connection.
    static func record(_ advertisedAddress: String, nowMs: Int64, in connection: any SQLConnection) throws {
        let upsert = try connection.prepare(
            """
            INSERT INTO store_writer(id, address, since_ms) VALUES (1, ?1, ?2)
            ON CONFLICT(id) DO UPDATE SET address = ?1, since_ms = ?2
            """
        )
        try upsert.bind(advertisedAddress, at: 1)
        try upsert.bind(nowMs, at: 2)
        try upsert.execute()
    }

    private func connect() throws(ProfileStoreError) -> PostgresSQLConnection {
        do {
            return try PostgresSQLConnection(
                address: self.address,
                logger: self.logger,
                queryTimeout: self.queryTimeout
            )
        } catch {
            throw ProfileStoreError(.startup, error.message, underlying: error)
        }
    }

    private func tryLock(_ connection: PostgresSQLConnection) throws -> Bool {
        let lock = try connection.prepare("SELECT pg_try_advisory_lock(?)")
        try lock.bind(Self.lockKey, at: 1)
        defer { lock.reset() }
        return try lock.step() && lock.int64(at: 0) != 0
    }

    /// The writer's advertised address, or `""` when none is recorded (or it cannot be read now).
    private func writerAddress(_ connection: PostgresSQLConnection) -> String {
        do {
            let exists = try connection.prepare("SELECT to_regclass('store_writer') IS NOT NULL")
            let present = try exists.step() && exists.int64(at: 0) != 0
            exists.reset()
            guard present else { return "" }
            let select = try connection.prepare("SELECT address FROM store_writer WHERE id = 1")
            defer { select.reset() }
            return try select.step() ? select.string(at: 0) : ""
        } catch {
            self.logger.warning("cannot read who the writer is", metadata: ["error": "\(error)"])
            return ""
        }
    }
}
