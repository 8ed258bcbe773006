import SegmentsMetrics
import SegmentsRPC

/// How a profile store runs.
public struct ProfileStoreConfiguration: Sendable {
    /// How the store's clock moves.
    public enum ClockMode: Sendable, Hashable {
        /// Real time.
        case wall
        /// Test mode: time stands still at this instant (ms since the Unix epoch) until moved with
        /// `SetClock`. After a restart the clock resumes at the later of this instant and the last
        /// persisted one, so time never goes back.
        case manual(startMs: Int64)
    }

    /// When a commit is durable, SQLite's `synchronous` setting.
    public enum Durability: String, Sendable, Hashable {
        /// `synchronous=FULL`: the WAL is fsynced at every commit; an acknowledged write survives
        /// a power loss. The default.
        case full
        /// `synchronous=NORMAL`: an acknowledged write survives a crash of the process but the
        /// last commits may be lost on power loss.
        case normal
    }

    /// The RPC socket and its limits.
    public var server: RPCServerConfiguration
    /// Directory holding `store.sqlite` and its WAL; created if missing. Not used when ``postgres`` is set.
    public var dataDirectory: String
    /// When set, the store keeps its data in this PostgreSQL database instead of SQLite: a
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE` URL (`?host=/directory` for a Unix socket).
    /// The store creates its tables and migrates them itself. ``durability``, ``writerCacheKiB`` and
    /// ``integrityCheck`` are SQLite's and do not apply.
    public var postgres: String?
    /// How clients reach this store, recorded when it becomes the writer so that standby stores on the
    /// same PostgreSQL database can name it in their refusals: a socket path or `tls://host:port`.
    /// Default: the socket path.
    public var advertisedAddress: String
    /// With ``postgres``: how long a statement may wait for PostgreSQL's answer. Past it the statement fails
    /// and the connection is closed — for the writer, that ends its role: it stops, and a standby takes over.
    /// It catches a server that stops answering without closing the connection (a frozen host, a half-open
    /// TCP connection). Default 30 s; `nil` waits as long as TCP does.
    public var postgresQueryTimeout: Duration? = .seconds(30)
    /// How often a standby store tries to take the writer role over. Default 1 s.
    public var takeoverInterval: Duration = .seconds(1)
    /// The clock.
    public var clock: ClockMode
    /// Commit durability. Default ``Durability/full``.
    public var durability: Durability
    /// Read connections (and threads) for queries, snapshots and the feed. Default 4.
    public var readerCount: Int
    /// SQLite page cache of the writer connection, in KiB. Default 256 MiB.
    public var writerCacheKiB: Int
    /// How many new per-user index entries (which log entries mention a user, which event ids it
    /// has) are kept in memory before they are written to SQLite in one sorted group. Default
    /// 400,000 (tens of MiB at most). Lower values only make bulk writes slower.
    public var userIndexFlushEntries: Int
    /// How long a change-feed subscriber (an evaluator) may go without subscribing or
    /// acknowledging before the store forgets it and stops keeping deleted users' data replayable
    /// for it. Default 24 hours.
    public var feedSubscriberExpiry: Duration = .seconds(86_400)
    /// Where to serve Prometheus metrics over HTTP (`GET /metrics`); `nil` (the default): not served, and nothing
    /// is measured. The process must have called ``SegmentsMetrics/bootstrap()``.
    public var metricsEndpoint: MetricsEndpoint?
    /// Most segments the store holds; creating one more is refused with RESOURCE_EXHAUSTED. Default 10,000.
    public var maximumSegments = 10_000
    /// Most static lists the store holds. Default 10,000.
    public var maximumLists = 10_000
    /// Most items in one write request (profile patches, events, list members added and removed); a larger request
    /// is refused whole with RESOURCE_EXHAUSTED, so that no single request holds the writer for long. Default 100,000.
    public var maximumBatchItems = 100_000
    /// How the database is checked at start; a database that fails the check is not opened.
    public var integrityCheck: IntegrityCheck = .quick

    /// SQLite's integrity checks, from cheapest to most thorough.
    public enum IntegrityCheck: String, Sendable, CaseIterable {
        /// No check.
        case off
        /// `PRAGMA quick_check`: page structure and record formats, not index contents (0.9 s for a 337 MiB
        /// database on a 2-vCPU machine).
        case quick
        /// `PRAGMA integrity_check`: also that every index matches its table (1.4 s for the same database).
        case full
    }

    /// Creates a configuration.
    /// - Parameters:
    ///   - server: the socket and its limits.
    ///   - dataDirectory: where the database lives.
    ///   - clock: real or manual time.
    ///   - durability: when commits are durable.
    ///   - readerCount: read connections.
    ///   - writerCacheKiB: the writer's page cache.
    ///   - userIndexFlushEntries: per-user index entries kept in memory before a write.
    public init(
        server: RPCServerConfiguration,
        dataDirectory: String,
        clock: ClockMode = .wall,
        durability: Durability = .full,
        readerCount: Int = 4,
        writerCacheKiB: Int = 256 * 1024,
        userIndexFlushEntries: Int = 400_000
    ) {
        self.server = server
        self.advertisedAddress = server.socketPath
        self.dataDirectory = dataDirectory
        self.clock = clock
        self.durability = durability
        self.readerCount = readerCount
        self.writerCacheKiB = writerCacheKiB
        self.userIndexFlushEntries = userIndexFlushEntries
    }
}
