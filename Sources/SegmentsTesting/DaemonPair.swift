import Foundation
import SegmentsClient

/// A real `profile-store` and `segment-evaluator`, started as child processes in one directory
/// from the binaries built next to the tests, with `segclient` and a client library connection
/// pointed at them. Either daemon can be paused (`SIGSTOP`), stopped (`SIGTERM`), killed
/// (`kill -9`) and started again on the same data.
public final class DaemonPair: @unchecked Sendable {
    // @unchecked: a test drives one pair from one task at a time; the mutable members change
    // only in restarts.

    /// How the daemons are started.
    public struct Options: Sendable {
        /// The store's manual clock (test mode); `nil` for real time.
        public var manualClock: String?
        /// Extra arguments for every evaluator start.
        public var evaluatorArguments: [String]
        /// Extra arguments for every store start.
        public var storeArguments: [String]

        /// - Parameters:
        ///   - manualClock: the store's manual clock, RFC 3339; `nil` for real time.
        ///   - evaluatorArguments: extra evaluator arguments, e.g. `["--stall-timeout-ms", "1000"]`.
        ///   - storeArguments: extra store arguments, e.g. `["--subscriber-expiry", "1"]`.
        public init(
            manualClock: String? = "2026-11-01T00:00:00Z",
            evaluatorArguments: [String] = [],
            storeArguments: [String] = []
        ) {
            self.manualClock = manualClock
            self.evaluatorArguments = evaluatorArguments
            self.storeArguments = storeArguments
        }
    }

    /// The directory holding sockets, data and logs.
    public let directory: String
    public let options: Options
    public let storeSocket: String
    public let evaluatorSocket: String
    /// The running store.
    public private(set) var store: DaemonProcess
    /// The running evaluator.
    public private(set) var evaluator: DaemonProcess
    /// A client of both; replaced when the store restarts.
    public private(set) var client: SegmentsClient
    /// Daemon starts so far (numbers the log files).
    public private(set) var starts = 0

    /// Starts both daemons in `directory`.
    public init(directory: String, options: Options = Options()) async throws {
        self.directory = directory
        self.options = options
        self.storeSocket = directory + "/store.sock"
        self.evaluatorSocket = directory + "/eval.sock"
        self.store = try await Self.startStore(directory, options, number: 0)
        do {
            self.evaluator = try await Self.startEvaluator(directory, options, number: 1)
        } catch {
            self.store.kill()
            throw error
        }
        self.starts = 2
        self.client = Self.connect(directory)
    }

    /// Runs `body` with a pair in a fresh temporary directory; stops both daemons afterwards and,
    /// when `body` throws, records their logs' ends in the error and keeps a copy of the directory
    /// (data and every log) under `/tmp/segments-failed-*`, named in the error.
    public static func with<Result>(
        options: Options = Options(),
        _ body: (DaemonPair) async throws -> Result
    ) async throws -> Result {
        try await TemporaryDirectory.with { directory in
            let pair = try await DaemonPair(directory: directory, options: options)
            do {
                let result = try await body(pair)
                await pair.stop()
                return result
            } catch {
                let logs = pair.logs
                await pair.kill()
                let kept = "/tmp/segments-failed-" + (directory as NSString).lastPathComponent
                let copied = Self.copyFiles(of: directory, to: kept)
                throw DaemonProcessError(
                    message: "\(error)\n\(logs)" + (copied ? "\n(the directory is kept in \(kept))" : "")
                )
            }
        }
    }

    /// Copies the regular files under `source` (not its sockets) to `destination`.
    private static func copyFiles(of source: String, to destination: String) -> Bool {
        let files = FileManager.default
        guard let paths = try? files.subpathsOfDirectory(atPath: source) else { return false }
        for path in paths {
            let from = source + "/" + path
            let to = destination + "/" + path
            let type = (try? files.attributesOfItem(atPath: from)[.type]) as? FileAttributeType
            if type == .typeDirectory {
                try? files.createDirectory(atPath: to, withIntermediateDirectories: true)
            } else if type == .typeRegular {
                try? files.createDirectory(
                    atPath: (to as NSString).deletingLastPathComponent,
                    withIntermediateDirectories: true
                )
                try? files.copyItem(atPath: from, toPath: to)
            }
        }
        return true
    }

    // MARK: - segclient

    /// Runs the built `segclient` with `arguments` against this pair.
    public func segclient(_ arguments: [String], input: String? = nil) async throws -> CommandResult {
        try await CommandResult.run(
            BuiltProducts.path(of: "segclient"),
            arguments,
            environment: [
                "SEGMENTS_STORE_SOCKET": self.storeSocket, "SEGMENTS_EVALUATOR_SOCKET": self.evaluatorSocket,
            ],
            input: input
        )
    }

    /// Runs `segclient` and returns its standard output, throwing when it fails.
    @discardableResult
    public func segclientOK(_ arguments: [String], input: String? = nil) async throws -> String {
        let result = try await self.segclient(arguments, input: input)
        guard result.status == 0 else {
            throw DaemonProcessError(
                message: "segclient \(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr)"
            )
        }
        return result.stdout
    }

    // MARK: - Process control

    /// Pauses (`SIGSTOP`) or resumes (`SIGCONT`) the evaluator.
    public func pauseEvaluator(_ paused: Bool) {
        Foundation.kill(self.evaluator.process.processIdentifier, paused ? SIGSTOP : SIGCONT)
    }

    /// Pauses (`SIGSTOP`) or resumes (`SIGCONT`) the store.
    public func pauseStore(_ paused: Bool) {
        Foundation.kill(self.store.process.processIdentifier, paused ? SIGSTOP : SIGCONT)
    }

    /// Stops the evaluator — `kill -9` when `crash`, else `SIGTERM` — runs `whileStopped`, and
    /// starts a new one on the same data.
    public func restartEvaluator(crash: Bool, whileStopped: () async throws -> Void = {}) async throws {
        if crash {
            self.evaluator.kill()
        } else {
            self.evaluator.terminate()
        }
        try await whileStopped()
        self.starts += 1
        self.evaluator = try await Self.startEvaluator(self.directory, self.options, number: self.starts)
    }

    /// Stops the store — `kill -9` when `crash`, else `SIGTERM` — starts a new one on the same
    /// data, and reconnects the client.
    public func restartStore(crash: Bool) async throws {
        if crash {
            self.store.kill()
        } else {
            self.store.terminate()
        }
        await self.client.close()
        self.starts += 1
        self.store = try await Self.startStore(self.directory, self.options, number: self.starts)
        self.client = Self.connect(self.directory)
    }

    /// The ends of both daemons' logs.
    public var logs: String {
        "evaluator log:\n" + String(self.evaluator.log.suffix(3_000)) + "\nstore log:\n"
            + String(self.store.log.suffix(3_000))
    }

    /// Stops both daemons with `SIGTERM`.
    public func stop() async {
        await self.client.close()
        self.pauseEvaluator(false)
        self.pauseStore(false)
        self.evaluator.terminate()
        self.store.terminate()
    }

    /// Kills both daemons.
    public func kill() async {
        await self.client.close()
        self.evaluator.kill()
        self.store.kill()
    }

    // MARK: - Starting

    private static func startStore(_ directory: String, _ options: Options, number: Int) async throws -> DaemonProcess {
        let socket = directory + "/store.sock"
        var arguments = ["--socket", socket]
        // The store's data: on the test's backend (TestStoreBackend.current).
        if let url = try TestStoreBackend.current.postgresURL(forDirectory: directory) {
            arguments += ["--postgres", url]
        } else {
            arguments += ["--data-dir", directory + "/store", "--durability", "normal"]
        }
        if let clock = options.manualClock {
            arguments += ["--manual-clock", clock]
        }
        arguments += options.storeArguments
        return try await DaemonProcess.start(
            BuiltProducts.path(of: "profile-store"),
            arguments: arguments,
            socketPath: socket,
            logPath: directory + "/store-\(number).log"
        )
    }

    private static func startEvaluator(
        _ directory: String,
        _ options: Options,
        number: Int
    ) async throws -> DaemonProcess {
        let socket = directory + "/eval.sock"
        let arguments =
            ["--store", directory + "/store.sock", "--socket", socket, "--data-dir", directory + "/evaluator"]
            + options.evaluatorArguments
        return try await DaemonProcess.start(
            BuiltProducts.path(of: "segment-evaluator"),
            arguments: arguments,
            socketPath: socket,
            logPath: directory + "/evaluator-\(number).log"
        )
    }

    private static func connect(_ directory: String) -> SegmentsClient {
        SegmentsClient(
            configuration: SegmentsClientConfiguration(
                storeSocketPath: directory + "/store.sock",
                evaluatorSocketPaths: [directory + "/eval.sock"]
            )
        )
    }
}
