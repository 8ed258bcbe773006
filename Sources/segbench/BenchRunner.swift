import Foundation
import SegmentsBenchKit
import SegmentsClient
import SegmentsWire

/// Runs every phase of the benchmark against real daemons and collects ``BenchResults``.
///
/// Phases run one after another on an otherwise idle pair of daemons; each is described in
/// `docs/PERFORMANCE.md`. Child tasks get only socket paths and values, never the runner.
final class BenchRunner {
    let options: BenchOptions
    let generator: DataGenerator
    var results: BenchResults
    let workDirectory: String
    let storeSocket: String
    let evaluatorSocket: String
    let storeDataDirectory: String
    let evaluatorDataDirectory: String
    var store: BenchDaemon?
    var evaluator: BenchDaemon?
    /// One client for the driver's own calls.
    let client: SegmentsClient
    /// Segments saved in the store, the mix first.
    var segmentNames: [String] = []
    /// Evaluator member counts of the mix and the wall time they were read at.
    var evaluatorCounts: [String: Int] = [:]
    var countsReadAtMs: Int64 = 0
    var baseline: SQLBaseline?
    var baselineSQLPath: String
    var evaluatorRSSAfterCatchUp: UInt64 = 0
    var evaluatorRSSAtHead: UInt64 = 0
    var evaluatorIdleRSS: UInt64 = 0
    var baselineLoad: (load: Double, index: Double) = (0, 0)
    var evaluatorRSSAfterRestart: UInt64 = 0
    var evaluatorPeakBeforeRestart: UInt64 = 0
    /// The largest segments by member count (for `members`).
    var largestSegments: [String] = []

    /// Segments used by the timed phases, on top of the mix.
    static let freshSegment = ("bench_fresh", "count(fresh_ping) >= 1")
    static let lateWindow = "2s"
    static let lateSegment = ("bench_late", "count(late_ping within 2s) >= 1")
    static let burstWindowMs: Int64 = 3000
    static let burstSegment = ("bench_burst", "count(burst_ping within 3s) >= 1")
    static let backfillCondition = BenchCondition.and([
        .sum("purchase", "amount", window: "90d", op: ">", value: 100), .not(.equals("plan", "free")),
    ])

    init(options: BenchOptions) throws(SegbenchError) {
        self.options = options
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        self.generator = DataGenerator(scale: options.scale, seed: options.seed, anchorMs: now - now % 1000)
        let tag = "segbench-\(getpid())-\(UInt32.random(in: 0...UInt32.max) % 100_000)"
        self.workDirectory = options.workDirectory + "/" + tag
        do {
            try FileManager.default.createDirectory(atPath: self.workDirectory, withIntermediateDirectories: true)
        } catch {
            throw SegbenchError(.invalidArgument, "cannot create \(self.workDirectory): \(error)")
        }
        self.storeSocket = options.storeSocket ?? self.workDirectory + "/store.sock"
        self.evaluatorSocket = options.evaluatorSocket ?? self.workDirectory + "/evaluator.sock"
        guard self.storeSocket.utf8.count < 100, self.evaluatorSocket.utf8.count < 100 else {
            throw SegbenchError(
                .invalidArgument,
                "socket paths under \(options.workDirectory) are too long; pass a shorter --work-dir"
            )
        }
        self.storeDataDirectory = self.workDirectory + "/store"
        self.evaluatorDataDirectory = self.workDirectory + "/evaluator"
        self.baselineSQLPath = self.workDirectory + "/baseline.sqlite"
        self.client = SegmentsClient(
            configuration: .init(storeSocketPath: self.storeSocket, evaluatorSocketPaths: [self.evaluatorSocket])
        )
        let formatter = ISO8601DateFormatter()
        self.results = BenchResults(
            run: .init(
                date: formatter.string(from: Date()),
                commandLine: options.commandLine,
                scale: options.scale.name,
                users: options.scale.users,
                events: options.scale.events,
                seed: options.seed,
                quick: options.quick,
                segments: SegmentMix.segments.count,
                daemons: options.storeSocket == nil
                    ? options.binDirectory : "external: \(self.storeSocket), \(self.evaluatorSocket)"
            ),
            machine: MachineInfo.current()
        )
    }

    var ownsDaemons: Bool { self.options.storeSocket == nil }

    /// Prints a progress line on standard error.
    func note(_ message: String) {
        let stamp = String(format: "%8.1f", self.elapsed)
        FileHandle.standardError.write(Data("[segbench \(stamp)s] \(message)\n".utf8))
    }

    let startedAt = ContinuousClock.now
    var elapsed: Double { (ContinuousClock.now - self.startedAt).seconds }

    /// Runs all phases; daemons are stopped and temporary files removed whatever happens.
    func run() async throws(SegbenchError) -> BenchResults {
        do {
            try await self.runPhases()
        } catch {
            await self.shutDown()
            throw error
        }
        await self.shutDown()
        return self.results
    }

    private func runPhases() async throws(SegbenchError) {
        try SegmentMix.validate()
        self.note("\(SegmentMix.segments.count) segments parse; data: \(self.options.scale), seed \(self.options.seed)")
        if self.ownsDaemons {
            self.store = try await self.startStore()
            try await self.measureIdleEvaluator()
        }
        try await self.saveSegments()
        try await self.bulkImport()
        if self.ownsDaemons {
            try await self.catchUp()
        } else {
            try await self.waitForEvaluator(seq: try await self.storeHead(), timeout: .seconds(3600))
        }
        try self.loadBaseline()
        if let evaluator = self.evaluator { self.evaluatorRSSAfterCatchUp = evaluator.rssBytes }
        try await self.compareCounts()
        try await self.queryLatency()
        try await self.membersThroughput()
        try await self.freshness()
        try await self.timeDriven()
        try await self.liveIngest()
        try await self.backfill()
        if self.ownsDaemons {
            try await self.restart()
            self.footprint()
        }
        try self.baselinePerUser()
        self.computeGoals()
    }

    // MARK: - Daemons

    func startStore() async throws(SegbenchError) -> BenchDaemon {
        let executable = try self.executable("profile-store")
        self.note("starting \(executable)")
        return try await BenchDaemon.start(
            name: "profile-store",
            executable: executable,
            arguments: ["--socket", self.storeSocket, "--log-level", "warning"]
                + (self.options.postgres.map { ["--postgres", $0] }
                    ?? ["--data-dir", self.storeDataDirectory, "--durability", self.options.durability]),
            socketPath: self.storeSocket,
            logPath: self.workDirectory + "/store.log"
        )
    }

    /// Starts the evaluator on its socket, over `dataDirectory` (default: the run's evaluator directory).
    func startEvaluator(dataDirectory: String? = nil) async throws(SegbenchError) -> BenchDaemon {
        try await BenchDaemon.start(
            name: "segment-evaluator",
            executable: try self.executable("segment-evaluator"),
            arguments: [
                "--store", self.storeSocket, "--socket", self.evaluatorSocket,
                "--data-dir", dataDirectory ?? self.evaluatorDataDirectory, "--log-level", "warning",
            ],
            socketPath: self.evaluatorSocket,
            logPath: self.workDirectory + "/evaluator.log"
        )
    }

    func executable(_ name: String) throws(SegbenchError) -> String {
        let path = self.options.binDirectory + "/" + name
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw SegbenchError(
                .daemon,
                "no \(name) in \(self.options.binDirectory); build it (swift build -c release --product \(name)) or pass --bin-dir"
            )
        }
        return path
    }

    func shutDown() async {
        await self.client.close()
        self.baseline?.close()
        if let evaluator = self.evaluator { evaluator.terminate() }
        if let store = self.store { store.terminate() }
        self.evaluator = nil
        self.store = nil
        if !self.options.keep {
            try? FileManager.default.removeItem(atPath: self.workDirectory)
        } else {
            self.note("kept \(self.workDirectory)")
        }
    }

    // MARK: - Helpers

    func storeHead() async throws(SegbenchError) -> UInt64 {
        do {
            return try await self.client.storeInfo().headSeq
        } catch {
            throw SegbenchError(.phase, "store info failed: \(error)")
        }
    }

    func appliedSeq() async throws(SegbenchError) -> UInt64 {
        do {
            return try await self.client.evaluatorStatus().first?.appliedSeq ?? 0
        } catch {
            throw SegbenchError(.phase, "evaluator status failed: \(error)")
        }
    }

    /// Polls until the evaluator has applied `seq`; returns when it did.
    @discardableResult
    func waitForEvaluator(
        seq: UInt64,
        timeout: Duration,
        poll: Duration = .milliseconds(2)
    ) async throws(SegbenchError)
        -> ContinuousClock.Instant
    {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let status = try? await self.client.evaluatorStatus().first, status.appliedSeq >= seq {
                return ContinuousClock.now
            }
            if let evaluator = self.evaluator, !evaluator.process.isRunning {
                throw SegbenchError(.daemon, "the evaluator exited; log: \(evaluator.logTail)")
            }
            try? await Task.sleep(for: poll)
        }
        throw SegbenchError(.phase, "the evaluator did not reach seq \(seq) within \(timeout)")
    }

    /// Wall-clock time in ms since the Unix epoch, with sub-ms precision.
    static func wallMs() -> Double { Date().timeIntervalSince1970 * 1000 }

    func newClient() -> SegmentsClient {
        SegmentsClient(
            configuration: .init(storeSocketPath: self.storeSocket, evaluatorSocketPaths: [self.evaluatorSocket])
        )
    }

    static func fail(_ what: String, _ error: any Error) -> SegbenchError {
        if let error = error as? SegbenchError { return error }
        return SegbenchError(.phase, "\(what): \(error)")
    }
}
