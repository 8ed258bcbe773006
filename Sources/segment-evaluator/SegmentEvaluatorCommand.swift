import ArgumentParser
import DaemonSupport
import Foundation
import Logging
import SegmentEvaluator
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
            SEGMENT_EVALUATOR_LOG_LEVEL. A flag wins over its variable.
            """,
        version: "0.1.0"
    )

    @Option(help: "The profile store's socket. Default: as segclient finds it.")
    var store: String?

    @Option(help: "Unix socket to listen on. Default: $XDG_RUNTIME_DIR/segments/evaluator-I.sock (or /tmp/…).")
    var socket: String?

    @Option(name: .customLong("data-dir"), help: "Directory for the transition log. Default: ./data/evaluator-I")
    var dataDir: String?

    @Option(help: "This evaluator's shard as I/N (it owns users whose id hashes to I modulo N). Default 0/1.")
    var shard: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String?

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

        let configuration = SegmentEvaluatorConfiguration(
            storeSocketPath: storeSocket,
            server: RPCServerConfiguration(socketPath: socketPath),
            dataDirectory: dataDirectory,
            shardIndex: index,
            shardCount: count
        )
        let notifier = SystemdNotifier(environment: environment)
        let service = SegmentEvaluatorService(configuration: configuration, logger: logger) {
            logger.info("segment evaluator ready", metadata: ["socket": "\(socketPath)", "store": "\(storeSocket)"])
            notifier.ready(status: "serving shard \(index)/\(count) on \(socketPath)")
        }
        guard await DaemonRunner.run(service, notifier: notifier, logger: logger) else {
            throw ExitCode(1)
        }
    }
}
