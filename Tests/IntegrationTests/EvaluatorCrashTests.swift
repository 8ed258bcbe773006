import Foundation
import SegmentLanguage
import SegmentsClient
import SegmentsSQLite
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
        /// No crash: a pause until the evaluator has saved its engine state (it does once its feed
        /// has been idle for a state interval), so that a later restart resumes from that state.
        case pause
        /// `kill -9` the store right after this step is acknowledged, start it again on the same
        /// data, and reconnect the client.
        case store
        /// Once the evaluator has applied this step, stop it (`SIGSTOP`): it sees nothing of the
        /// next steps until the next `.evaluator` crash kills it and starts a new one.
        case pauseEvaluator
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
            seed: 23,
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
    /// store's log), user deletions, kills after them: replays that cross later deletions read
    /// the deleted users' data the store holds for the evaluator, so they rebuild the same engine.
    @Test func killingTheEvaluatorAfterBackfillsAndDeletionsChangesNothing() async throws {
        let steps = try WorkloadGenerator().steps(seed: 7, count: 90, startMs: ms(Self.start))
        let crashes: [Int: Crash] = [
            12: .evaluator, 27: .evaluatorCaughtUp, 41: .store, 52: .evaluator, 63: .evaluatorCaughtUp, 80: .evaluator,
        ]
        try await Self.compare(steps, crashes: crashes)
    }

    /// The smallest case with a deleted user: a restart right after the deletion replays the log
    /// from the start, across u1's deletion; the replay's transitions up to the checkpoint are
    /// the ones already recorded, and the later ones — u2's — are recorded, none taken for one of
    /// u1's.
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
        // u1's transitions keep their places under the name of its deletion (store change 3), not u1's.
        let expected: [String] = [
            "erased-3 enter 2026-11-01T00:00:00Z", "erased-3 exit 2026-11-01T00:00:00Z",
            "u2 enter 2026-11-01T00:00:00Z",
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
    /// the store's change log from the start and back-fills the segment from the log as of the
    /// put (not from the store's state now, after the enter and the exit), so its replay produces
    /// the 3 transitions the first run recorded, skips them as recorded, and records the next
    /// real ones (u3 entering, u1 leaving).
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

    /// A replay that crosses a later user deletion, from the store's log after the deletion:
    /// the evaluator is stopped before (or right after) a segment put that is back-filled with
    /// u2's purchase, u2 is deleted, the evaluator is killed and started again. Its replay must
    /// see u2's purchase as it first would have, so u2 enters the new segment and leaves it at
    /// the deletion — both runs record the same two transitions. (Before the store held deleted
    /// users' data for evaluators, the replay lost both, or recorded the enter but not the exit.)
    @Test(arguments: [3, 4])
    func aReplayAcrossALaterUserDeletionIsExact(pausedAfter: Int) async throws {
        let pro = SegmentsValue.string("pro")
        let steps: [WorkloadStep] = [
            .putSegment(name: "s0", text: "plan = \"pro\""),
            .profile(user: "u1", patch: ["plan": pro]),
            .events([SegmentsEvent(userID: "u2", name: "purchase", atMs: ms("2026-10-30T00:00:00Z"))]),
            .profile(user: "u3", patch: ["plan": pro]),
            .putSegment(name: "s1", text: "count(purchase) >= 1"),
            .deleteUser("u2"),
            .profile(user: "u4", patch: ["plan": pro]),
        ]
        let clean = try await Self.run(steps, crashes: [:])
        // u2's two transitions, under the name of its deletion (store change 6).
        #expect(clean.logs["s1"] == ["erased-6 enter 2026-11-01T00:00:00Z", "erased-6 exit 2026-11-01T00:00:00Z"])
        let crashed = try await Self.run(steps, crashes: [pausedAfter: .pauseEvaluator, 5: .evaluator])
        #expect(crashed.members == clean.members)
        #expect(crashed.global == clean.global)
    }

    /// An evaluator gone for longer than the store keeps deleted users' data for it cannot
    /// replay its log exactly any more: the store refuses its subscription, and it rebuilds from
    /// the store (saying why) instead of recording a replay that differs from its first run.
    @Test func anEvaluatorForgottenByTheStoreRebuilds() async throws {
        let options = DaemonPair.Options(storeArguments: ["--subscriber-expiry", "1"])
        try await DaemonPair.with(options: options) { pair in
            try await pair.client.putSegment("pro", expression: #"plan = "pro""#)
            for user in ["u1", "u2", "u3"] {
                try await pair.client.setProfile(user, ["plan": .string("pro")])
            }
            #expect(try await pair.client.members("pro") == ["u1", "u2", "u3"])
            try await pair.restartEvaluator(crash: false) {
                try await pair.client.deleteProfile("u2")
                let deadline = ContinuousClock.now + .seconds(20)
                while try await !pair.client.storeInfo().feedSubscribers.isEmpty, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(100))
                }
                #expect(try await pair.client.storeInfo().heldEntryCount == 0)
            }
            #expect(try await pair.client.members("pro") == ["u1", "u3"])
            #expect(pair.evaluator.log.contains("rebuilding from the store"))
            let history = try await pair.client.history(ofSegment: "pro").map(Self.line)
            #expect(history == ["u1 enter 2026-11-01T00:00:00Z", "u3 enter 2026-11-01T00:00:00Z"])
        }
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

    /// Runs the workload against real daemon processes in a fresh directory. The evaluator saves
    /// its state every quarter second (not every 2 s), so that a `.pause` waits that long for it.
    static func run(_ steps: [WorkloadStep], crashes: [Int: Crash]) async throws -> Outcome {
        let options = DaemonPair.Options(manualClock: Self.start, evaluatorArguments: ["--state-interval-ms", "250"])
        return try await DaemonPair.with(options: options) { pair in
            try await Self.drive(pair, steps, crashes: crashes)
        }
    }

    static func drive(_ pair: DaemonPair, _ steps: [WorkloadStep], crashes: [Int: Crash]) async throws -> Outcome {
        var seq: UInt64 = 0
        var paused = false
        var restoredStates: [UInt64] = []
        for (index, step) in steps.enumerated() {
            seq = max(seq, try await step.send(to: pair.client))
            let crash = crashes[index]
            if crash == .evaluatorCaughtUp || crash == .pauseEvaluator {
                try await Self.waitApplied(pair.client, seq)
            }
            if crash == .evaluator || crash == .evaluatorCaughtUp {
                // Right after the acknowledgement, the evaluator may be mid-batch.
                try await pair.restartEvaluator(crash: true)
                paused = false
                restoredStates.append(Self.restoredState(in: pair.evaluator.log))
            } else if crash == .store {
                try await pair.restartStore(crash: true)
            } else if crash == .pause {
                try await Self.waitApplied(pair.client, seq)
                try await Self.waitStateSaved(pair, seq)
            } else if crash == .pauseEvaluator {
                pair.pauseEvaluator(true)
                paused = true
            } else if crashes[index + 1] == nil, !paused {
                // Both runs apply each step before the next, so that neither depends on how the
                // feed happened to be batched.
                try await Self.waitApplied(pair.client, seq)
            }
        }
        var outcome = Outcome()
        var all: [SegmentsTransition] = []
        let names: [String] = try await pair.client.segments().map(\.name)
        for segment in names {
            outcome.members[segment] = try await pair.client.members(segment, minSeq: seq)
            let history: [SegmentsTransition] = try await pair.client.history(ofSegment: segment).sorted {
                $0.seq < $1.seq
            }
            outcome.logs[segment] = history.map(Self.line)
            all += history
        }
        all.sort { $0.seq < $1.seq }
        outcome.global = all.map { $0.segment + " " + Self.line($0) }
        outcome.restoredStates = restoredStates
        return outcome
    }

    /// The number after `restored-state-at` in an evaluator's log: the store change its saved
    /// engine state was at (0: none).
    /// Waits until the evaluator has saved its engine state at store change `seq` or later (it
    /// does when its feed has been idle for a state interval, `--state-interval-ms`).
    static func waitStateSaved(_ pair: DaemonPair, _ seq: UInt64) async throws {
        let connection = try SQLiteConnection(path: pair.directory + "/evaluator/engine-state.sqlite")
        let select = try connection.prepare("SELECT value FROM meta WHERE key = 'state_seq'")
        for _ in 0..<600 {
            defer { select.reset() }
            if try select.step(), UInt64(select.int64(at: 0)) >= seq { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("the evaluator did not save its state at store change \(seq) within 30 s")
    }

    static func restoredState(in log: String) -> UInt64 {
        guard let range = log.range(of: "restored-state-at") else { return 0 }
        let digits = log[range.upperBound...].drop { !$0.isNumber }.prefix { $0.isNumber }
        return UInt64(digits) ?? 0
    }

    static func line(_ transition: SegmentsTransition) -> String {
        transition.userID + " " + transition.kind.rawValue + " " + RFC3339.format(transition.atMs)
    }
}
