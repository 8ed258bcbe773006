import Foundation
import SegmentLanguage
import SegmentsClient
import SegmentsTesting
import SegmentsWire
import Testing

/// `kill -9` of the real `segment-evaluator` (and separately of the real `profile-store`) during a
/// deterministic workload: after restarts, the same membership and the same transition log as an
/// uninterrupted run of the same workload — no transition lost, none repeated.
@Suite(.serialized) struct EvaluatorCrashTests {
    static let start = "2026-11-01T00:00:00Z"

    /// What a run ends with.
    struct Outcome: Equatable {
        /// Members of each segment.
        var members: [String: [String]] = [:]
        /// Each segment's transitions in seq order: "user kind at".
        var logs: [String: [String]] = [:]
        /// The whole log in seq order: "segment user kind at".
        var global: [String] = []
        /// For each evaluator restart, the store change its saved engine state was at (0: none).
        var restoredStates: [UInt64] = []
    }

    enum Crash {
        /// `kill -9` the evaluator right after this step is acknowledged, then start it again.
        case evaluator
        /// The same once the evaluator has applied the step.
        case evaluatorCaughtUp
        /// No crash: a pause long enough that the evaluator saves its engine state with the next
        /// checkpoint (every 2 s of feed), so that a later restart resumes from that state.
        case pause
        /// `kill -9` the store right after this step is acknowledged, start it again on the same
        /// data, and reconnect the client.
        case store
    }

    /// Segments put before any data (the evaluator never needs a back-fill) and no user deleted;
    /// kills of the evaluator right after writes, during its catch-up (twice in a row), once it
    /// caught up, and of the store.
    @Test func killingTheEvaluatorOrTheStoreChangesNothing() async throws {
        let steps = try WorkloadGenerator().steps(
            seed: 7,
            count: 90,
            startMs: ms(Self.start),
            midwayPuts: false,
            update: false,
            deletions: false
        )
        let crashes: [Int: Crash] = [
            9: .evaluator, 10: .evaluator, 24: .evaluatorCaughtUp, 31: .store, 38: .evaluator, 45: .store,
            46: .evaluator, 58: .evaluatorCaughtUp, 71: .evaluator, 84: .store,
        ]
        try await Self.compare(steps, crashes: crashes)
    }

    /// The same, with pauses that let the evaluator save its engine state, so that restarts
    /// resume from a saved state (and replay only the entries after it).
    @Test func restartsFromASavedEngineStateChangeNothing() async throws {
        let steps = try WorkloadGenerator().steps(
            seed: 17,
            count: 70,
            startMs: ms(Self.start),
            midwayPuts: false,
            update: false,
            deletions: false
        )
        let crashes: [Int: Crash] = [
            15: .pause, 19: .evaluator, 30: .pause, 31: .evaluatorCaughtUp, 45: .pause, 52: .evaluator, 53: .store,
            60: .evaluator,
        ]
        let crashed = try await Self.compare(steps, crashes: crashes)
        #expect(crashed.restoredStates.contains { $0 > 0 }, "restored from \(crashed.restoredStates)")
    }

    /// The same workload with user deletions (still no back-fill).
    @Test func killingTheEvaluatorAfterUserDeletionsChangesNothing() async throws {
        let steps = try WorkloadGenerator().steps(
            seed: 7,
            count: 90,
            startMs: ms(Self.start),
            midwayPuts: false,
            update: false
        )
        let crashes: [Int: Crash] = [
            9: .evaluator, 10: .evaluator, 24: .evaluatorCaughtUp, 31: .store, 38: .evaluator, 45: .store,
            46: .evaluator, 58: .evaluatorCaughtUp, 71: .evaluator, 84: .store,
        ]
        try await Self.compare(steps, crashes: crashes)
    }

    /// Segments put and changed over existing data as the workload goes (back-fills from the
    /// store's snapshot), user deletions, kills after them.
    /// Without user deletions: a crash whose replay crosses a later deletion rebuilds the engine
    /// from a log the store has scrubbed of that user, which is a documented limit
    /// (docs/evaluation.md, "Guarantees of the daemon, and their limits") and would make the
    /// outcome depend on when the engine state was last saved. Deletions have their own test.
    @Test func killingTheEvaluatorAfterBackfillsChangesNothing() async throws {
        let steps = try WorkloadGenerator().steps(seed: 7, count: 90, startMs: ms(Self.start), deletions: false)
        let crashes: [Int: Crash] = [
            12: .evaluator, 27: .evaluatorCaughtUp, 41: .store, 52: .evaluator, 63: .evaluatorCaughtUp, 80: .evaluator,
        ]
        try await Self.compare(steps, crashes: crashes)
    }

    /// The smallest case with a deleted user: the store scrubs a deleted user from the change
    /// log, so the restarted evaluator, replaying the log from the start, no longer produces the
    /// 2 transitions it recorded for u1; it still skips the first 2 it produces as "already
    /// recorded" — u2's enter and exit — which are lost.
    @Test func aRestartAfterAUserDeletionRecordsEveryLaterTransition() async throws {
        let pro = SegmentsValue.string("pro")
        let none: SegmentsValue? = nil
        var steps: [WorkloadStep] = []
        steps.append(WorkloadStep.putSegment(name: "s0", text: "plan = \"pro\""))
        steps.append(WorkloadStep.profile(user: "u1", patch: ["plan": pro]))
        steps.append(WorkloadStep.deleteUser("u1"))
        steps.append(WorkloadStep.profile(user: "u2", patch: ["plan": pro]))
        steps.append(WorkloadStep.clock(toMs: ms("2026-11-02T00:00:00Z")))
        steps.append(WorkloadStep.profile(user: "u2", patch: ["plan": none]))
        steps.append(WorkloadStep.profile(user: "u3", patch: ["plan": pro]))
        let expected: [String] = [
            "u1 enter 2026-11-01T00:00:00Z", "u1 exit 2026-11-01T00:00:00Z", "u2 enter 2026-11-01T00:00:00Z",
            "u2 exit 2026-11-02T00:00:00Z", "u3 enter 2026-11-02T00:00:00Z",
        ]
        let clean = try await Self.run(steps, crashes: [:])
        let cleanLog: [String] = clean.logs["s0"] ?? []
        #expect(cleanLog == expected)
        let crashed = try await Self.run(steps, crashes: [2: .evaluatorCaughtUp])
        #expect(crashed.members == clean.members)
        let crashedLog: [String] = crashed.logs["s0"] ?? []
        #expect(crashedLog == expected)
    }

    /// The smallest case with a back-fill: a segment put over data the evaluator saw but did not
    /// keep, then a user entering and leaving it, then a restart. The restarted evaluator replays
    /// the store's change log from the start and back-fills the segment from the store's snapshot
    /// *now* (after the enter and the exit), so its replay produces 1 transition where the first
    /// run recorded 3; it still skips the first 3 it produces as "already recorded", and the next
    /// real transitions (u3 entering, u1 leaving) are never recorded.
    @Test func aRestartAfterABackfillRecordsEveryLaterTransition() async throws {
        let pro = SegmentsValue.string("pro")
        let free = SegmentsValue.string("free")
        let none: SegmentsValue? = nil
        var steps: [WorkloadStep] = []
        steps.append(WorkloadStep.profile(user: "u1", patch: ["plan": pro]))
        steps.append(WorkloadStep.putSegment(name: "s0", text: "plan = \"pro\""))
        steps.append(WorkloadStep.profile(user: "u2", patch: ["plan": pro]))
        steps.append(WorkloadStep.profile(user: "u2", patch: ["plan": free]))
        steps.append(WorkloadStep.profile(user: "u3", patch: ["plan": pro]))
        steps.append(WorkloadStep.clock(toMs: ms("2026-11-02T00:00:00Z")))
        steps.append(WorkloadStep.profile(user: "u1", patch: ["plan": none]))
        let expected: [String] = [
            "u1 enter 2026-11-01T00:00:00Z", "u2 enter 2026-11-01T00:00:00Z", "u2 exit 2026-11-01T00:00:00Z",
            "u3 enter 2026-11-01T00:00:00Z", "u1 exit 2026-11-02T00:00:00Z",
        ]
        let clean = try await Self.run(steps, crashes: [:])
        let cleanLog: [String] = clean.logs["s0"] ?? []
        #expect(cleanLog == expected)
        let crashed = try await Self.run(steps, crashes: [3: .evaluatorCaughtUp])
        #expect(crashed.members == clean.members)
        let crashedLog: [String] = crashed.logs["s0"] ?? []
        #expect(crashedLog == expected)
    }

    @discardableResult
    static func compare(_ steps: [WorkloadStep], crashes: [Int: Crash]) async throws -> Outcome {
        #expect(crashes.keys.allSatisfy { steps.indices.contains($0) })
        let clean = try await Self.run(steps, crashes: [:])
        let crashed = try await Self.run(steps, crashes: crashes)
        #expect(clean.global.count >= 20, "the workload should produce transitions (\(clean.global.count))")
        for name in clean.members.keys.sorted() {
            #expect(crashed.members[name] == clean.members[name], "members of \(name)")
            let a = clean.logs[name] ?? []
            let b = crashed.logs[name] ?? []
            if a != b {
                let common = zip(a, b).prefix { $0 == $1 }.count
                Issue.record(
                    """
                    transition log of \(name) differs after \(common) equal entries
                    uninterrupted: \(a.dropFirst(common).prefix(6))
                    with crashes:  \(b.dropFirst(common).prefix(6))
                    """
                )
            }
        }
        #expect(crashed.global == clean.global, "the whole transition log in seq order")
        Self.expectAlternating(crashed.global)
        return crashed
    }

    /// Enters and exits alternate per (segment, user), starting with an enter.
    static func expectAlternating(_ log: [String]) {
        var members: Set<String> = []
        for line in log {
            let parts = line.split(separator: " ")
            let key = "\(parts[0]) \(parts[1])"
            if parts[2] == "enter" {
                #expect(members.insert(key).inserted, "repeated enter: \(line)")
            } else {
                #expect(members.remove(key) != nil, "exit without enter: \(line)")
            }
        }
    }

    /// Waits until the evaluator has applied store change `seq`.
    static func waitApplied(_ client: SegmentsClient, _ seq: UInt64) async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            let applied = try? await client.evaluatorStatus().first?.appliedSeq
            if let applied, applied >= seq { return }
            try await Task.sleep(for: .milliseconds(2))
        }
        throw SegmentsClientError(.deadlineExceeded, "the evaluator did not apply store change \(seq) in 20 s")
    }

    /// Runs the workload against real daemon processes in a fresh directory.
    static func run(_ steps: [WorkloadStep], crashes: [Int: Crash]) async throws -> Outcome {
        try await TemporaryDirectory.with { directory in
            let rig = try await CrashRig(directory: directory)
            do {
                let outcome = try await Self.drive(rig, steps, crashes: crashes)
                await rig.stop()
                return outcome
            } catch {
                Issue.record("\(error)\n\(rig.logs)")
                await rig.abort()
                throw error
            }
        }
    }

    static func drive(_ rig: CrashRig, _ steps: [WorkloadStep], crashes: [Int: Crash]) async throws -> Outcome {
        var seq: UInt64 = 0
        for (index, step) in steps.enumerated() {
            seq = max(seq, try await step.send(to: rig.client))
            let crash = crashes[index]
            if crash == .evaluatorCaughtUp {
                try await Self.waitApplied(rig.client, seq)
            }
            if crash == .evaluator || crash == .evaluatorCaughtUp {
                // Right after the acknowledgement, the evaluator may be mid-batch.
                try await rig.restartEvaluator()
            } else if crash == .store {
                try await rig.restartStore()
            } else if crash == .pause {
                try await Self.waitApplied(rig.client, seq)
                try await Task.sleep(for: .milliseconds(2_300))
            } else if crashes[index + 1] == nil {
                // Both runs apply each step before the next, so that neither depends on how the
                // feed happened to be batched.
                try await Self.waitApplied(rig.client, seq)
            }
        }
        var outcome = Outcome()
        var all: [SegmentsTransition] = []
        let names: [String] = try await rig.client.segments().map(\.name)
        for segment in names {
            outcome.members[segment] = try await rig.client.members(segment, minSeq: seq)
            let history: [SegmentsTransition] = try await rig.client.history(ofSegment: segment).sorted { $0.seq < $1.seq }
            outcome.logs[segment] = history.map(Self.line)
            all += history
        }
        all.sort { $0.seq < $1.seq }
        outcome.global = all.map { $0.segment + " " + Self.line($0) }
        outcome.restoredStates = rig.restoredStates
        return outcome
    }

    static func line(_ transition: SegmentsTransition) -> String {
        transition.userID + " " + transition.kind.rawValue + " " + RFC3339.format(transition.atMs)
    }
}

/// A real store and evaluator as child processes, in one directory.
final class CrashRig {
    let directory: String
    let storeSocket: String
    let evaluatorSocket: String
    var starts = 0
    var store: DaemonProcess
    var evaluator: DaemonProcess
    var client: SegmentsClient

    init(directory: String) async throws {
        self.directory = directory
        self.storeSocket = directory + "/store.sock"
        self.evaluatorSocket = directory + "/eval.sock"
        self.store = try await CrashRig.startStore(directory, 0)
        self.evaluator = try await CrashRig.startEvaluator(directory, 1)
        self.starts = 2
        self.client = CrashRig.connect(directory)
    }

    static func startStore(_ directory: String, _ number: Int) async throws -> DaemonProcess {
        let socket = directory + "/store.sock"
        let arguments = [
            "--socket", socket, "--data-dir", directory + "/store", "--manual-clock", EvaluatorCrashTests.start,
            "--durability", "normal",
        ]
        return try await DaemonProcess.start(
            BuiltProducts.path(of: "profile-store"),
            arguments: arguments,
            socketPath: socket,
            logPath: directory + "/store-\(number).log"
        )
    }

    static func startEvaluator(_ directory: String, _ number: Int) async throws -> DaemonProcess {
        let socket = directory + "/eval.sock"
        let arguments = [
            "--store", directory + "/store.sock", "--socket", socket, "--data-dir", directory + "/evaluator",
        ]
        return try await DaemonProcess.start(
            BuiltProducts.path(of: "segment-evaluator"),
            arguments: arguments,
            socketPath: socket,
            logPath: directory + "/evaluator-\(number).log"
        )
    }

    static func connect(_ directory: String) -> SegmentsClient {
        let configuration = SegmentsClientConfiguration(
            storeSocketPath: directory + "/store.sock",
            evaluatorSocketPaths: [directory + "/eval.sock"]
        )
        return SegmentsClient(configuration: configuration)
    }

    /// For each evaluator restart, the store change its saved engine state was at (0: none), as
    /// it logs on start.
    var restoredStates: [UInt64] = []

    /// `kill -9` of the evaluator, then a new one on the same data directory.
    func restartEvaluator() async throws {
        self.evaluator.kill()
        self.starts += 1
        self.evaluator = try await CrashRig.startEvaluator(self.directory, self.starts)
        self.restoredStates.append(CrashRig.restoredState(in: self.evaluator.log))
    }

    /// The number after `restored-state-at` in an evaluator's log.
    static func restoredState(in log: String) -> UInt64 {
        guard let range = log.range(of: "restored-state-at") else { return 0 }
        let digits = log[range.upperBound...].drop { !$0.isNumber }.prefix { $0.isNumber }
        return UInt64(digits) ?? 0
    }

    /// `kill -9` of the store, a new one on the same data, and a new client connection.
    func restartStore() async throws {
        self.store.kill()
        await self.client.close()
        self.starts += 1
        self.store = try await CrashRig.startStore(self.directory, self.starts)
        self.client = CrashRig.connect(self.directory)
    }

    var logs: String {
        "evaluator log:\n" + String(self.evaluator.log.suffix(2_000)) + "\nstore log:\n" + String(self.store.log.suffix(2_000))
    }

    func stop() async {
        await self.client.close()
        self.evaluator.terminate()
        self.store.terminate()
    }

    func abort() async {
        await self.client.close()
        self.evaluator.kill()
        self.store.kill()
    }
}
