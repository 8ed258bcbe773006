import ArgumentParser
import DaemonSupport
import Foundation
import Logging
import SegmentEvaluator
import SegmentsMetrics
import SegmentsRPC
import SegmentsWire

/// `segment-evaluator`: keeps segment membership exact in real time.
@main
struct SegmentEvaluatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "segment-evaluator",
        abstract: "The Segments evaluator: follows the store's change log and answers who is in which segment.",
        discussion: """
            Every flag may also be given as an environment variable: SEGMENT_EVALUATOR_STORE, \
            SEGMENT_EVALUATOR_SOCKET, SEGMENT_EVALUATOR_DATA_DIR, SEGMENT_EVALUATOR_SHARD, \
            SEGMENT_EVALUATOR_LOG_LEVEL, SEGMENT_EVALUATOR_STALL_TIMEOUT_MS, SEGMENT_EVALUATOR_WEBHOOK_RETRY_BASE_MS, \
            SEGMENT_EVALUATOR_WEBHOOK_RETRY_CAP_MS, SEGMENT_EVALUATOR_WEBHOOK_TIMEOUT_MS, \
            SEGMENT_EVALUATOR_WEBHOOK_BATCH, SEGMENT_EVALUATOR_METRICS, SEGMENT_EVALUATOR_MAX_CONNECTIONS, SEGMENT_EVALUATOR_MAX_WATCHERS, SEGMENT_EVALUATOR_ACCESS, \
            SEGMENT_EVALUATOR_MAX_CALLS_PER_CONNECTION, SEGMENT_EVALUATOR_IDLE_TIMEOUT, \
            SEGMENT_EVALUATOR_WATCH_STALL_TIMEOUT. A flag wins over its \
            variable.
            """,
        version: "0.1.0"
    )

    @Option(
        help: """
            The profile store's socket, or tls://HOST:PORT; several stores of one PostgreSQL database \
            comma-separated (the writer is followed). Default: as segclient finds it.
            """
    )
    var store: String?

    @Option(
        name: .customLong("store-tls-cert"),
        help: "The evaluator's client certificate (PEM) for a tls:// store."
    )
    var storeTLSCertificate: String?

    @Option(name: .customLong("store-tls-key"), help: "That certificate's private key (PEM).")
    var storeTLSKey: String?

    @Option(name: .customLong("store-tls-ca"), help: "The CA (PEM) that signs the store's certificate.")
    var storeTLSCA: String?

    @Option(help: "Unix socket to listen on. Default: $XDG_RUNTIME_DIR/segments/evaluator-I.sock (or /tmp/…).")
    var socket: String?

    @Option(name: .customLong("data-dir"), help: "Directory for the transition log. Default: ./data/evaluator-I")
    var dataDir: String?

    @Option(help: "This evaluator's shard as I/N (it owns users whose id hashes to I modulo N). Default 0/1.")
    var shard: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String?

    @Option(
        name: .customLong("stall-timeout-ms"),
        help: """
            How long the evaluator may receive nothing from the store while the store's log is ahead, \
            before it logs a warning and subscribes again, ms. Default 15000.
            """
    )
    var stallTimeoutMs: Int?

    @Option(
        name: .customLong("state-interval-ms"),
        help: """
            How often, at least, the engine's state is saved while the feed is busy, and how long the feed must \
            be idle before recent changes are saved, ms: a restart replays the store's log from the last save. \
            Default 2000.
            """
    )
    var stateIntervalMs: Int?

    @Option(
        name: .customLong("webhook-retry-base-ms"),
        help: "Webhook back-off after the first failure, ms (doubles per failure). Default 1000."
    )
    var webhookRetryBaseMs: Int?

    @Option(name: .customLong("webhook-retry-cap-ms"), help: "Longest webhook back-off, ms. Default 300000.")
    var webhookRetryCapMs: Int?

    @Option(name: .customLong("webhook-timeout-ms"), help: "Webhook request timeout, ms. Default 10000.")
    var webhookTimeoutMs: Int?

    @Option(name: .customLong("webhook-batch"), help: "Most transitions per webhook request. Default 100.")
    var webhookBatch: Int?

    @Option(
        help: """
            Serve Prometheus metrics over HTTP at http://HOST:PORT/metrics, e.g. 127.0.0.1:9464 (no authentication: \
            keep it on loopback). Default: off, and nothing is measured.
            """
    )
    var metrics: String?

    @Option(
        name: .customLong("max-connections"),
        help: "Most client connections at once; more are refused with RESOURCE_EXHAUSTED. Default 1024."
    )
    var maxConnections: Int?

    @Option(
        help: """
            Access file mapping users and groups to roles (admin, writer, reader, none); see docs/operations.md. \
            Default: the evaluator's own user is admin, everyone else who can open the socket is reader.
            """
    )
    var access: String?

    @OptionGroup var tls: TLSListenerOptions

    @Option(
        name: .customLong("max-calls-per-connection"),
        help: "Most calls in flight on one connection; more are refused with RESOURCE_EXHAUSTED. Default 4096."
    )
    var maxCallsPerConnection: Int?

    @Option(name: .customLong("idle-timeout"), help: "Seconds before an idle connection is closed. Default 300.")
    var idleTimeout: Int?

    @Option(
        name: .customLong("watch-stall-timeout"),
        help: "Seconds a watch may take nothing while transitions wait, then it is closed saying so. Default 300."
    )
    var watchStallTimeout: Int?

    @Option(name: .customLong("max-watchers"), help: "Most watch streams served at once. Default 256.")
    var maxWatchers: Int?

    mutating func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        func setting(_ flag: String?, _ variable: String) -> String? {
            flag ?? environment[variable].flatMap { $0.isEmpty ? nil : $0 }
        }
        let levelText = setting(self.logLevel, "SEGMENT_EVALUATOR_LOG_LEVEL") ?? "info"
        guard let level = Logger.Level(rawValue: levelText) else {
            throw ValidationError("unknown log level '\(levelText)'")
        }
        let shardText = setting(self.shard, "SEGMENT_EVALUATOR_SHARD") ?? "0/1"
        let parts = shardText.split(separator: "/")
        guard parts.count == 2, let index = UInt32(parts[0]), let count = UInt32(parts[1]), count >= 1, index < count
        else {
            throw ValidationError("--shard '\(shardText)' must be I/N with 0 ≤ I < N, e.g. 0/1 or 2/4")
        }
        let logger = DaemonLogging.bootstrap(label: "segment-evaluator", level: level)
        let local = DefaultSocketPaths.localDirectory(environment: environment)
        let storeSocket =
            setting(self.store, "SEGMENT_EVALUATOR_STORE")
            ?? environment["SEGMENTS_STORE_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (FileManager.default.fileExists(atPath: DefaultSocketPaths.systemDirectory + "/store.sock")
                ? DefaultSocketPaths.systemDirectory : local) + "/" + DefaultSocketPaths.storeSocketName
        let socketPath =
            setting(self.socket, "SEGMENT_EVALUATOR_SOCKET")
            ?? local + "/" + DefaultSocketPaths.evaluatorSocketName(shard: Int(index))
        let dataDirectory = setting(self.dataDir, "SEGMENT_EVALUATOR_DATA_DIR") ?? "data/evaluator-\(index)"
        let parent = (socketPath as NSString).deletingLastPathComponent
        if !parent.isEmpty {
            try? FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        }

        var configuration = SegmentEvaluatorConfiguration(
            storeSocketPath: storeSocket,
            server: RPCServerConfiguration(socketPath: socketPath),
            dataDirectory: dataDirectory,
            shardIndex: index,
            shardCount: count
        )
        configuration.webhooks = try self.webhookConfiguration(setting)
        func number(_ flag: Int?, _ variable: String, _ name: String, minimum: Int) throws -> Int? {
            try Self.number(flag, "SEGMENT_EVALUATOR_" + variable, name, minimum: minimum, setting)
        }
        if let ms = try number(self.stallTimeoutMs, "STALL_TIMEOUT_MS", "stall-timeout-ms", minimum: 100) {
            configuration.stallTimeout = .milliseconds(ms)
        }
        if let ms = try number(self.stateIntervalMs, "STATE_INTERVAL_MS", "state-interval-ms", minimum: 100) {
            configuration.stateSaveInterval = .milliseconds(ms)
        }
        if let count = try number(self.maxConnections, "MAX_CONNECTIONS", "max-connections", minimum: 1) {
            configuration.server.maximumConnections = count
        }
        if let count = try number(
            self.maxCallsPerConnection,
            "MAX_CALLS_PER_CONNECTION",
            "max-calls-per-connection",
            minimum: 1
        ) {
            configuration.server.maximumCallsInFlight = count
        }
        if let seconds = try number(self.idleTimeout, "IDLE_TIMEOUT", "idle-timeout", minimum: 1) {
            configuration.server.idleTimeout = .seconds(seconds)
        }
        if let seconds = try number(self.watchStallTimeout, "WATCH_STALL_TIMEOUT", "watch-stall-timeout", minimum: 1) {
            configuration.watchStallTimeout = .seconds(seconds)
        }
        if let count = try number(self.maxWatchers, "MAX_WATCHERS", "max-watchers", minimum: 1) {
            configuration.maximumWatchers = count
        }
        configuration.server.tlsListener = try self.tls.listener(prefix: "SEGMENT_EVALUATOR", environment: environment)
        do throws(RPCError) {
            configuration.storeTLS = try RPCTLSFiles.optional(
                certificate: setting(self.storeTLSCertificate, "SEGMENT_EVALUATOR_STORE_TLS_CERT"),
                key: setting(self.storeTLSKey, "SEGMENT_EVALUATOR_STORE_TLS_KEY"),
                trustedCA: setting(self.storeTLSCA, "SEGMENT_EVALUATOR_STORE_TLS_CA"),
                names: ("--store-tls-cert", "--store-tls-key", "--store-tls-ca")
            )
            let address = try RPCAddress(storeSocket)
            if address.isTLS, configuration.storeTLS == nil {
                throw RPCError(
                    .invalidArgument,
                    "--store \(storeSocket) is a TLS address: give --store-tls-cert, --store-tls-key and --store-tls-ca"
                )
            }
        } catch {
            throw ValidationError(error.message)
        }
        let accessPath = setting(self.access, "SEGMENT_EVALUATOR_ACCESS")
        do {
            configuration.server.access = try RPCAccessControl(file: accessPath)
        } catch {
            throw ValidationError(error.message)
        }
        if let text = setting(self.metrics, "SEGMENT_EVALUATOR_METRICS") {
            configuration.metricsEndpoint = try SegmentsMetrics.enable(at: text)
        }
        let notifier = SystemdNotifier(environment: environment)
        let access = configuration.server.access
        let reload = access.hangUpHandler(file: accessPath, logger: logger)
        let service = SegmentEvaluatorService(configuration: configuration, logger: logger) {
            logger.info(
                "segment evaluator ready",
                metadata: [
                    "socket": "\(socketPath)", "store": "\(storeSocket)", "access": "\(access.policy)",
                ]
            )
            notifier.ready(status: "serving shard \(index)/\(count) on \(socketPath)")
        }
        guard await DaemonRunner.run(service, notifier: notifier, logger: logger, reload: reload) else {
            throw ExitCode(1)
        }
    }

    /// A whole-number setting from its flag or environment variable, at least `minimum`; `nil` when neither is set.
    private static func number(
        _ flag: Int?,
        _ variable: String,
        _ name: String,
        minimum: Int,
        _ setting: (String?, String) -> String?
    ) throws -> Int? {
        guard let text = setting(flag.map(String.init), variable) else { return nil }
        guard let value = Int(text), value >= minimum else {
            throw ValidationError("--\(name) '\(text)' must be a whole number ≥ \(minimum)")
        }
        return value
    }

    /// Webhook delivery settings from flags and environment.
    private func webhookConfiguration(
        _ setting: (String?, String) -> String?
    ) throws -> WebhookDeliveryConfiguration {
        func number(_ flag: Int?, _ variable: String, _ name: String, minimum: Int) throws -> Int? {
            try Self.number(flag, variable, name, minimum: minimum, setting)
        }
        var webhooks = WebhookDeliveryConfiguration()
        let prefix = "SEGMENT_EVALUATOR_WEBHOOK_"
        if let ms = try number(self.webhookRetryBaseMs, prefix + "RETRY_BASE_MS", "webhook-retry-base-ms", minimum: 1) {
            webhooks.retryBase = .milliseconds(ms)
        }
        if let ms = try number(self.webhookRetryCapMs, prefix + "RETRY_CAP_MS", "webhook-retry-cap-ms", minimum: 1) {
            webhooks.retryCap = .milliseconds(ms)
        }
        if let ms = try number(self.webhookTimeoutMs, prefix + "TIMEOUT_MS", "webhook-timeout-ms", minimum: 1) {
            webhooks.requestTimeout = .milliseconds(ms)
            webhooks.connectTimeout = min(webhooks.connectTimeout, .milliseconds(ms))
        }
        if let count = try number(self.webhookBatch, prefix + "BATCH", "webhook-batch", minimum: 1) {
            webhooks.maximumBatchSize = count
        }
        return webhooks
    }
}
