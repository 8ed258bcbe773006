import ArgumentParser
import DaemonSupport
import Foundation
import Logging
import ProfileStore
import SegmentLanguage
import SegmentsMetrics
import SegmentsRPC
import SegmentsWire

/// `profile-store`: the Segments system of record.
@main
struct ProfileStoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile-store",
        abstract: "The Segments profile store: profiles, events, segment definitions and the ordered change log.",
        discussion: """
            Every flag may also be given as an environment variable: PROFILE_STORE_SOCKET, \
            PROFILE_STORE_DATA_DIR, PROFILE_STORE_POSTGRES, PROFILE_STORE_ADVERTISE, PROFILE_STORE_MANUAL_CLOCK, PROFILE_STORE_DURABILITY, \
            PROFILE_STORE_LOG_LEVEL, PROFILE_STORE_MAX_FRAME_BYTES, PROFILE_STORE_IDLE_TIMEOUT, \
            PROFILE_STORE_SUBSCRIBER_EXPIRY, PROFILE_STORE_METRICS, PROFILE_STORE_INTEGRITY_CHECK, \
            PROFILE_STORE_MAX_CONNECTIONS, PROFILE_STORE_MAX_SEGMENTS, PROFILE_STORE_MAX_LISTS, \
            PROFILE_STORE_ACCESS, PROFILE_STORE_MAX_BATCH, PROFILE_STORE_MAX_CALLS_PER_CONNECTION. \
            A flag wins over its variable.
            """,
        version: ProfileStoreService.version
    )

    @Option(help: "Unix socket to listen on. Default: $XDG_RUNTIME_DIR/segments/store.sock (or /tmp/segments/…).")
    var socket: String?

    @Option(name: .customLong("data-dir"), help: "Directory for the SQLite database. Default: ./data/store")
    var dataDir: String?

    @Option(
        help: """
            Keep the data in this PostgreSQL database instead of SQLite: \
            postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE (?host=/socket/directory for a Unix socket). \
            The store creates and migrates its tables itself.
            """
    )
    var postgres: String?

    @Option(
        help: """
            With --postgres: how clients reach this store (a socket path or tls://HOST:PORT), handed out by \
            standby stores of the same database while this one is the writer. Default: the socket path.
            """
    )
    var advertise: String?

    @Option(
        name: .customLong("postgres-query-timeout"),
        help: """
            With --postgres: seconds a statement may wait for the database's answer before the connection is \
            given up (and, on the writer, the writer role: it stops and a standby takes over). Catches a database \
            that stops answering without closing the connection. Default 30.
            """
    )
    var postgresQueryTimeout: Int?

    @Option(
        name: .customLong("manual-clock"),
        help: "Test mode: freeze time at this RFC 3339 instant until moved with `segclient clock`."
    )
    var manualClock: String?

    @Option(help: "full (fsync every commit, survives power loss) or normal (survives process crashes).")
    var durability: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String?

    @Option(name: .customLong("max-frame-bytes"), help: "Largest frame accepted, in bytes. Default 16777216.")
    var maxFrameBytes: Int?

    @Option(name: .customLong("idle-timeout"), help: "Seconds before an idle connection is closed. Default 300.")
    var idleTimeout: Int?

    @Option(
        name: .customLong("max-connections"),
        help: "Most client connections at once; more are refused with RESOURCE_EXHAUSTED. Default 1024."
    )
    var maxConnections: Int?

    @Option(
        help: """
            Access file mapping users and groups to roles (admin, writer, reader, none); see docs/operations.md. \
            Default: the store's own user is admin, everyone else who can open the socket is reader.
            """
    )
    var access: String?

    @OptionGroup var tls: TLSListenerOptions

    @Option(
        name: .customLong("max-calls-per-connection"),
        help: "Most calls in flight on one connection; more are refused with RESOURCE_EXHAUSTED. Default 4096."
    )
    var maxCallsPerConnection: Int?

    @Option(name: .customLong("max-segments"), help: "Most segments the store holds. Default 10000.")
    var maxSegments: Int?

    @Option(name: .customLong("max-lists"), help: "Most static lists the store holds. Default 10000.")
    var maxLists: Int?

    @Option(
        name: .customLong("max-batch"),
        help: "Most items (profile patches, events, list member changes) in one write request. Default 100000."
    )
    var maxBatch: Int?

    @Option(
        name: .customLong("subscriber-expiry"),
        help: """
            Seconds an evaluator may go unseen before the store forgets it and stops keeping deleted users' \
            data replayable for it. Default 86400.
            """
    )
    var subscriberExpiry: Int?

    @Option(
        help: """
            Serve Prometheus metrics over HTTP at http://HOST:PORT/metrics, e.g. 127.0.0.1:9464 (no authentication: \
            keep it on loopback). Default: off, and nothing is measured.
            """
    )
    var metrics: String?

    @Option(
        name: .customLong("integrity-check"),
        help: """
            Check the database at start and refuse to open one that fails: quick (default), full (also every \
            index; slow on a large store) or off.
            """
    )
    var integrityCheck: String?

    mutating func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        func setting(_ flag: String?, _ variable: String) -> String? {
            flag ?? environment[variable].flatMap { $0.isEmpty ? nil : $0 }
        }
        let levelText = setting(self.logLevel, "PROFILE_STORE_LOG_LEVEL") ?? "info"
        guard let level = Logger.Level(rawValue: levelText) else {
            throw ValidationError("unknown log level '\(levelText)'")
        }
        let logger = DaemonLogging.bootstrap(label: "profile-store", level: level)

        let socketPath =
            setting(self.socket, "PROFILE_STORE_SOCKET")
            ?? DefaultSocketPaths.localDirectory(environment: environment) + "/" + DefaultSocketPaths.storeSocketName
        let dataDirectory = setting(self.dataDir, "PROFILE_STORE_DATA_DIR") ?? "data/store"

        var clock = ProfileStoreConfiguration.ClockMode.wall
        if let text = setting(self.manualClock, "PROFILE_STORE_MANUAL_CLOCK") {
            guard let ms = RFC3339.parse(text) else {
                throw ValidationError(
                    "--manual-clock '\(text)' is not an RFC 3339 date-time (e.g. 2026-01-01T00:00:00Z)"
                )
            }
            clock = .manual(startMs: ms)
        }
        let durabilityText = setting(self.durability, "PROFILE_STORE_DURABILITY") ?? "full"
        guard let durability = ProfileStoreConfiguration.Durability(rawValue: durabilityText) else {
            throw ValidationError("--durability must be 'full' or 'normal', not '\(durabilityText)'")
        }
        let maxFrame = try Self.integer(
            self.maxFrameBytes,
            environment["PROFILE_STORE_MAX_FRAME_BYTES"],
            "--max-frame-bytes"
        )
        let idle = try Self.integer(self.idleTimeout, environment["PROFILE_STORE_IDLE_TIMEOUT"], "--idle-timeout")
        let queryTimeout = try Self.integer(
            self.postgresQueryTimeout,
            environment["PROFILE_STORE_POSTGRES_QUERY_TIMEOUT"],
            "--postgres-query-timeout"
        )
        let expiry = try Self.integer(
            self.subscriberExpiry,
            environment["PROFILE_STORE_SUBSCRIBER_EXPIRY"],
            "--subscriber-expiry"
        )

        try Self.createParentDirectory(of: socketPath)
        var server = RPCServerConfiguration(socketPath: socketPath)
        if let maxFrame { server.maximumFrameLength = maxFrame }
        if let idle { server.idleTimeout = .seconds(idle) }
        if let connections = try Self.integer(
            self.maxConnections,
            environment["PROFILE_STORE_MAX_CONNECTIONS"],
            "--max-connections"
        ) {
            server.maximumConnections = connections
        }
        server.tlsListener = try self.tls.listener(prefix: "PROFILE_STORE", environment: environment)
        let accessPath = setting(self.access, "PROFILE_STORE_ACCESS")
        do {
            server.access = try RPCAccessControl(file: accessPath)
        } catch {
            throw ValidationError(error.message)
        }
        if let calls = try Self.integer(
            self.maxCallsPerConnection,
            environment["PROFILE_STORE_MAX_CALLS_PER_CONNECTION"],
            "--max-calls-per-connection"
        ) {
            server.maximumCallsInFlight = calls
        }
        let maxSegments = try Self.integer(
            self.maxSegments,
            environment["PROFILE_STORE_MAX_SEGMENTS"],
            "--max-segments"
        )
        let maxLists = try Self.integer(self.maxLists, environment["PROFILE_STORE_MAX_LISTS"], "--max-lists")
        let maxBatch = try Self.integer(self.maxBatch, environment["PROFILE_STORE_MAX_BATCH"], "--max-batch")
        var configuration = ProfileStoreConfiguration(
            server: server,
            dataDirectory: dataDirectory,
            clock: clock,
            durability: durability
        )
        if let postgres = setting(self.postgres, "PROFILE_STORE_POSTGRES") {
            guard self.dataDir == nil else {
                throw ValidationError("--postgres and --data-dir exclude each other: the data lives in one of them")
            }
            configuration.postgres = postgres
        }
        if let advertise = setting(self.advertise, "PROFILE_STORE_ADVERTISE") {
            configuration.advertisedAddress = advertise
        }
        if let queryTimeout { configuration.postgresQueryTimeout = .seconds(queryTimeout) }
        if let expiry { configuration.feedSubscriberExpiry = .seconds(expiry) }
        if let maxSegments { configuration.maximumSegments = maxSegments }
        if let maxLists { configuration.maximumLists = maxLists }
        if let maxBatch { configuration.maximumBatchItems = maxBatch }
        if let text = setting(self.integrityCheck, "PROFILE_STORE_INTEGRITY_CHECK") {
            guard let mode = ProfileStoreConfiguration.IntegrityCheck(rawValue: text) else {
                throw ValidationError("--integrity-check must be quick, full or off, not '\(text)'")
            }
            configuration.integrityCheck = mode
        }
        if let text = setting(self.metrics, "PROFILE_STORE_METRICS") {
            configuration.metricsEndpoint = try SegmentsMetrics.enable(at: text)
        }

        let notifier = SystemdNotifier(environment: environment)
        let access = server.access
        let reload = access.hangUpHandler(file: accessPath, logger: logger)
        let service = ProfileStoreService(configuration: configuration, logger: logger) {
            logger.info("profile store ready", metadata: ["socket": "\(socketPath)", "access": "\(access.policy)"])
            notifier.ready(status: "serving on \(socketPath)")
        }
        guard await DaemonRunner.run(service, notifier: notifier, logger: logger, reload: reload) else {
            throw ExitCode(1)
        }
    }

    private static func integer(_ flag: Int?, _ variable: String?, _ name: String) throws -> Int? {
        if let flag {
            guard flag > 0 else { throw ValidationError("\(name) must be positive") }
            return flag
        }
        guard let variable, !variable.isEmpty else { return nil }
        guard let value = Int(variable), value > 0 else {
            throw ValidationError("\(name) (from the environment) must be a positive integer, not '\(variable)'")
        }
        return value
    }

    private static func createParentDirectory(of path: String) throws {
        let parent = (path as NSString).deletingLastPathComponent
        guard !parent.isEmpty else { return }
        do {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        } catch {
            throw ValidationError("cannot create socket directory \(parent): \(error.localizedDescription)")
        }
    }
}
