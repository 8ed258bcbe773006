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
    }

    enum Crash {
        /// `kill -9` the evaluator right after this step is acknowledged, then start it again.
        case evaluator
        /// `kill -9` the store right after this step is acknowledged, start it again on the same
        /// data, and reconnect the client.
        case store
    }

    /// Segments put before any data: the evaluator never needs a back-fill.
    @Test func killingTheEvaluatorOrTheStoreChangesNothing() async throws {
        let steps = try WorkloadGenerator().steps(seed: 7, count: 70, startMs: ms(Self.start), midwayPuts: false)
        let crashes: [Int: Crash] = [
            9: .evaluator, 10: .evaluator,  // the second lands while it replays
            24: .evaluator, 31: .store, 38: .evaluator, 45: .store, 46: .evaluator, 58: .evaluator,
        ]
        try await Self.compare(steps, crashes: crashes)
    }

    /// Segments put over existing data as the workload goes (back-fills from the store's snapshot).
    @Test func killingTheEvaluatorAfterBackfillsChangesNothing() async throws {
        let steps = try WorkloadGenerator().steps(seed: 8, count: 70, startMs: ms(Self.start), midwayPuts: true)
        let crashes: [Int: Crash] = [12: .evaluator, 27: .evaluator, 41: .store, 52: .evaluator, 63: .evaluator]
        try await Self.compare(steps, crashes: crashes)
    }

    static func compare(_ steps: [WorkloadStep], crashes: [Int: Crash]) async throws {
        let clean = try await Self.run(steps, crashes: [:])
        let crashed = try await Self.run(steps, crashes: crashes)
        #expect(clean.global.count > 30, "the workload should produce transitions")
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

    /// Runs the workload against real daemon processes in a fresh directory.
    static func run(_ steps: [WorkloadStep], crashes: [Int: Crash]) async throws -> Outcome {
        try await TemporaryDirectory.with { directory in
            let storeSocket = directory + "/store.sock"
            let evaluatorSocket = directory + "/eval.sock"
            var starts = 0
            func startStore() async throws -> DaemonProcess {
                starts += 1
                return try await DaemonProcess.start(
                    BuiltProducts.path(of: "profile-store"),
                    arguments: [
                        "--socket", storeSocket, "--data-dir", directory + "/store",
                        "--manual-clock", Self.start, "--durability", "normal",
                    ],
                    socketPath: storeSocket,
                    logPath: directory + "/store-\(starts).log"
                )
            }
            func startEvaluator() async throws -> DaemonProcess {
                starts += 1
                return try await DaemonProcess.start(
                    BuiltProducts.path(of: "segment-evaluator"),
                    arguments: ["--store", storeSocket, "--socket", evaluatorSocket, "--data-dir", directory + "/evaluator"],
                    socketPath: evaluatorSocket,
                    logPath: directory + "/evaluator-\(starts).log"
                )
            }
            func connect() -> SegmentsClient {
                SegmentsClient(configuration: .init(storeSocketPath: storeSocket, evaluatorSocketPaths: [evaluatorSocket]))
            }
            var store = try await startStore()
            var evaluator = try await startEvaluator()
            var client = connect()
            do {
                var seq: UInt64 = 0
                for (index, step) in steps.enumerated() {
                    seq = max(seq, try await step.send(to: client))
                    switch crashes[index] {
                    case .evaluator?:
                        // Right after the acknowledgement: the evaluator may be mid-batch.
                        evaluator.kill()
                        evaluator = try await startEvaluator()
                    case .store?:
                        store.kill()
                        await client.close()
                        store = try await startStore()
                        client = connect()
                    case nil:
                        // Both runs apply each step before the next, so that neither depends on
                        // how the feed happened to be batched.
                        if crashes[index + 1] == nil {
                            _ = try await client.memberCount("s0", minSeq: seq)
                        }
                    }
                }
                var outcome = Outcome()
                var all: [SegmentsTransition] = []
                for segment in try await client.segments().map(\.name) {
                    outcome.members[segment] = try await client.members(segment, minSeq: seq)
                    let history = try await client.history(ofSegment: segment).sorted { $0.seq < $1.seq }
                    outcome.logs[segment] = history.map { "\($0.userID) \($0.kind) \(RFC3339.format($0.atMs))" }
                    all += history
                }
                outcome.global = all.sorted { $0.seq < $1.seq }.map {
                    "\($0.segment) \($0.userID) \($0.kind) \(RFC3339.format($0.atMs))"
                }
                await client.close()
                evaluator.terminate()
                store.terminate()
                return outcome
            } catch {
                await client.close()
                let logs = "evaluator log:\n\(evaluator.log.suffix(2_000))\nstore log:\n\(store.log.suffix(2_000))"
                evaluator.kill()
                store.kill()
                Issue.record("\(error)\n\(logs)")
                throw error
            }
        }
    }
}
