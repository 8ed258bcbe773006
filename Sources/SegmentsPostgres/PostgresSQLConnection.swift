import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PostgresNIO
import SegmentsSQL

/// A blocking connection to PostgreSQL with the ``SQLConnection`` interface, so that the store's
/// storage code runs on PostgreSQL as it runs on SQLite: on a thread of its own, one statement at a
/// time, each a round trip to the server (postgres-nio underneath, its futures waited for).
///
/// Never use it on an event loop thread: it waits.
public final class PostgresSQLConnection: SQLConnection {
    private var connection: PostgresConnection
    let logger: Logger
    /// Whether a lost connection is made again at the next statement run outside a transaction.
    private let reconnects: Bool
    private var statementCache: [String: PostgresSQLStatement] = [:]
    /// Completes the query being waited for, if any; see ``answer(to:)``.
    private let waiting = NIOLockedValueBox<(@Sendable (Result<PostgresQueryResult, any Error>) -> Void)?>(nil)
    /// Whether a transaction is open, followed from the statements run (`BEGIN`, `COMMIT`, `ROLLBACK`).
    public private(set) var isInTransaction = false
    /// Rows changed by the last INSERT, UPDATE or DELETE.
    public private(set) var changes = 0
    /// The address connected to.
    public let address: PostgresAddress
    /// How long a statement may go without an answer before the connection is given up; see ``init(address:logger:reconnects:queryTimeout:)``.
    public let queryTimeout: Duration?

    /// Connects to `address`.
    /// - Parameters:
    ///   - reconnects: make the connection again, when it was lost, at the next statement run outside a
    ///     transaction. Not for a connection whose session state matters (e.g. a lock it holds).
    ///   - queryTimeout: when set, a statement without an answer after this long fails and the connection is
    ///     closed (a server that stopped answering without closing: a half-open TCP connection, a frozen host),
    ///     instead of waiting until TCP gives up, which takes a quarter of an hour by Linux's defaults.
    /// - Throws: ``PostgresSQLError`` (`.connection`) when the server cannot be reached or refuses the login.
    public init(
        address: PostgresAddress,
        logger: Logger,
        reconnects: Bool = false,
        queryTimeout: Duration? = nil
    ) throws(PostgresSQLError) {
        self.address = address
        self.logger = logger
        self.reconnects = reconnects
        self.queryTimeout = queryTimeout
        self.connection = try Self.connect(address, logger: logger)
        Self.failWaitingOnClose(self.connection, self.waiting)
    }

    private static func connect(
        _ address: PostgresAddress,
        logger: Logger
    ) throws(PostgresSQLError)
        -> PostgresConnection
    {
        do {
            return try PostgresConnection.connect(
                on: MultiThreadedEventLoopGroup.singleton.next(),
                configuration: address.configuration,
                id: 0,
                logger: logger
            ).wait()
        } catch {
            let reason = PostgresSQLError(error, sql: nil)
            throw PostgresSQLError(
                .connection,
                "cannot connect to \(address): \(reason.message)",
                sqlState: reason.sqlState
            )
        }
    }

    deinit {
        // Without waiting: the last reference may go on an event loop thread. postgres-nio asserts that a
        // connection is closed before it goes, so the close keeps it until then.
        let connection = self.connection
        guard !connection.isClosed else { return }
        connection.close().whenComplete { _ in withExtendedLifetime(connection) {} }
    }

    /// Closes the connection (an open transaction is rolled back by the server) and waits until it is.
    public func close() {
        guard !self.connection.isClosed else { return }
        try? self.connection.close().wait()
    }

    /// Whether the connection to the server is closed (lost or closed here).
    public var isClosed: Bool {
        self.connection.isClosed
    }

    /// A query's rows all come with its first step.
    public var streamsRows: Bool { false }

    /// Closed, and not one that reconnects.
    public var isLost: Bool {
        self.connection.isClosed && !self.reconnects
    }

    /// `BEGIN`: PostgreSQL's default READ COMMITTED, under one writer.
    public var beginWriteSQL: String { "BEGIN" }
    /// A repeatable-read, read-only transaction: every read sees the snapshot of its first.
    public var beginSnapshotSQL: String { "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY" }

    public func prepare(_ sql: String) throws -> PostgresSQLStatement {
        PostgresSQLStatement(sql: sql, connection: self)
    }

    public func cachedStatement(_ sql: String) throws -> PostgresSQLStatement {
        if let statement = self.statementCache[sql] {
            statement.reset()
            return statement
        }
        let statement = PostgresSQLStatement(sql: sql, connection: self)
        self.statementCache[sql] = statement
        return statement
    }

    /// Runs `sql`, which may hold several statements separated by `;` (none inside quotes), one
    /// after the other, without parameters.
    public func execute(_ sql: String) throws {
        for statement in Self.statements(of: sql) {
            _ = try self.run(PostgresQuery(unsafeSQL: statement), sql: statement)
        }
    }

    /// The statements of a script: split at each `;` outside quoted text, blank ones left out.
    static func statements(of script: String) -> [String] {
        var statements: [String] = []
        var current = ""
        var quote: Character?
        for character in script {
            if let open = quote {
                if character == open { quote = nil }
            } else if character == "'" || character == "\"" {
                quote = character
            } else if character == ";" {
                statements.append(current)
                current = ""
                continue
            }
            current.append(character)
        }
        statements.append(current)
        return statements.filter { !$0.allSatisfy(\.isWhitespace) }
    }

    /// Schema version: the one row of `schema_version`, or 0 when the table does not exist.
    public func userVersion() throws -> Int {
        let exists = try self.prepare("SELECT to_regclass('schema_version') IS NOT NULL")
        let present = try exists.step() && exists.int64(at: 0) != 0
        exists.reset()
        guard present else { return 0 }
        let select = try self.prepare("SELECT version FROM schema_version")
        return try select.step() ? select.int(at: 0) : 0
    }

    public func setUserVersion(_ version: Int) throws {
        try self.execute(
            "CREATE TABLE IF NOT EXISTS schema_version(version BIGINT NOT NULL); DELETE FROM schema_version; "
                + "INSERT INTO schema_version VALUES (\(version))"
        )
    }

    /// Runs one query and collects its rows; follows transaction state from the statement's text.
    func run(_ query: PostgresQuery, sql: String) throws -> [PostgresRow] {
        if self.reconnects, self.connection.isClosed, !self.isInTransaction {
            self.connection = try Self.connect(self.address, logger: self.logger)
            Self.failWaitingOnClose(self.connection, self.waiting)
        }
        let rows: [PostgresRow]
        do {
            defer { self.waiting.withLockedValue { $0 = nil } }
            let result = try self.answer(to: query).wait()
            rows = result.rows
            self.changes = result.changedRows
            // PostgreSQL answers COMMIT of a transaction a failed statement aborted with ROLLBACK, not an error.
            if result.metadata.command == "ROLLBACK", sql.uppercased().hasPrefix("COMMIT") {
                self.isInTransaction = false
                throw PostgresSQLError(
                    .server,
                    "the transaction was rolled back, not committed (a statement in it failed)"
                )
            }
        } catch {
            if self.connection.isClosed {
                self.isInTransaction = false
            }
            throw PostgresSQLError(error, sql: sql)
        }
        self.followTransaction(sql)
        return rows
    }

    /// The query's result, or a failure once the connection closes: postgres-nio drops a query written to a
    /// connection that has just closed without ever answering it, which would leave the caller waiting for good.
    /// The connection's one close callback fails the query waiting at the time (there is at most one).
    private func answer(to query: PostgresQuery) -> EventLoopFuture<PostgresQueryResult> {
        let promise = self.connection.eventLoop.makePromise(of: PostgresQueryResult.self)
        let settled = NIOLockedValueBox(false)
        let settle: @Sendable (Result<PostgresQueryResult, any Error>) -> Void = { result in
            let first = settled.withLockedValue { done in
                defer { done = true }
                return !done
            }
            guard first else { return }
            promise.completeWith(result)
        }
        self.waiting.withLockedValue { $0 = settle }
        let future: EventLoopFuture<PostgresQueryResult> = self.connection.query(query, logger: self.logger)
        future.whenComplete(settle)
        if self.connection.isClosed {
            settle(.failure(Self.closed))
        }
        if let timeout = self.queryTimeout {
            let connection = self.connection
            let expiry = connection.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
                settle(
                    .failure(
                        PostgresSQLError(
                            .connection,
                            "no answer from the server within \(timeout); the connection is closed"
                        )
                    )
                )
                // What the server does with the statement is unknown: the connection cannot be used again.
                connection.close().whenComplete { _ in withExtendedLifetime(connection) {} }
            }
            promise.futureResult.whenComplete { _ in expiry.cancel() }
        }
        return promise.futureResult
    }

    private static let closed = PostgresSQLError(.connection, "the connection to the server closed")

    /// Fails the query waiting on `connection` when it closes.
    private static func failWaitingOnClose(
        _ connection: PostgresConnection,
        _ waiting: NIOLockedValueBox<(@Sendable (Result<PostgresQueryResult, any Error>) -> Void)?>
    ) {
        connection.closeFuture.whenComplete { _ in
            waiting.withLockedValue { $0 }?(.failure(Self.closed))
        }
    }

    private func followTransaction(_ sql: String) {
        let head = sql.prefix(12).uppercased()
        if head.hasPrefix("BEGIN") || head.hasPrefix("START") {
            self.isInTransaction = true
        } else if head.hasPrefix("COMMIT") || head.hasPrefix("END") || head == "ROLLBACK" {
            self.isInTransaction = false
        } else if head.hasPrefix("ROLLBACK") && !head.hasPrefix("ROLLBACK TO") {
            self.isInTransaction = false
        }
    }
}

extension PostgresQueryResult {
    /// Rows inserted, updated or deleted (0 for other statements).
    fileprivate var changedRows: Int {
        switch self.metadata.command {
        case "INSERT", "UPDATE", "DELETE", "MERGE": self.metadata.rows ?? 0
        default: 0
        }
    }
}
