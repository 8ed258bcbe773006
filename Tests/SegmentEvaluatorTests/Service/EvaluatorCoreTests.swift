import Foundation
import Logging
import SegmentEngine
import SegmentsSQLite
import SegmentsTesting
import SegmentsWire
import Synchronization
import Testing

@testable import SegmentEvaluator

/// The evaluator core's locking: reads of the engine never wait for a checkpoint's disk write.
@Suite struct EvaluatorCoreTests {
    /// A checkpoint stuck in SQLite (another connection holds the database's write lock, so the
    /// transaction waits out the 5 s busy timeout) must not hold up a read of the engine, which
    /// is answered on an event loop: the read completes while the checkpoint still waits.
    @Test func readsDoNotWaitForACheckpointStuckOnTheDisk() async throws {
        try await TemporaryDirectory.with { directory in
            let log = try TransitionLog(directory: directory)
            let core = EvaluatorCore(log: log, shardIndex: 0, shardCount: 1, logger: Logger(label: "test"))
            core.apply(
                Self.entry(1) {
                    $0.segmentPut.segment.name = "pro"
                    $0.segmentPut.segment.expression = #"plan = "pro""#
                }
            )
            var change = Segments_V1_ProfileChange()
            change.userID = "u1"
            var pro = Segments_V1_Value()
            pro.stringValue = "pro"
            change.set = ["plan": pro]
            core.apply(Self.entry(2) { $0.profilesUpserted.changes = [change] })

            let blocker = Blocker(try SQLiteConnection(path: directory + "/evaluator.sqlite"))
            try blocker.connection.execute("BEGIN IMMEDIATE")
            let persisted = Self.onThread { Result { try core.persist() } }
            // On a thread of its own too, and releasing the lock there: a loaded test process
            // (other suites run alongside) can delay a task past the checkpoint's 5 s busy
            // timeout.
            let observed = Self.onThread {
                // Long enough for the checkpoint to take what it writes and block in SQLite.
                Thread.sleep(forTimeInterval: 0.3)
                let member = core.read { $0.isMember(userID: "u1", segment: "pro").member }
                let checkpointFinished = persisted.isFinished
                return Result {
                    try blocker.connection.execute("COMMIT")
                    return (member: member, checkpointFinished: checkpointFinished)
                }
            }
            let (member, checkpointFinished) = try await observed.value.get()
            #expect(member)
            #expect(!checkpointFinished, "the checkpoint was still waiting for the disk")
            try await persisted.value.get()
            #expect(log.checkpointSeq == 2)
        }
    }

    private static func entry(_ seq: UInt64, _ fill: (inout Segments_V1_ChangeEntry) -> Void) -> Segments_V1_ChangeEntry
    {
        var entry = Segments_V1_ChangeEntry()
        entry.seq = seq
        entry.committedAtMs = 1_793_491_200_000
        fill(&entry)
        return entry
    }

    /// Runs blocking `work` on a thread of its own (not one of the few that run tasks).
    private static func onThread<T: Sendable>(_ work: @escaping @Sendable () -> T) -> ThreadResult<T> {
        let result = ThreadResult<T>()
        Thread { result.finish(work()) }.start()
        return result
    }
}

/// A connection holding the database's write lock, begun by the test and committed by the
/// thread that observes the checkpoint (one after the other, never at once).
private final class Blocker: @unchecked Sendable {
    let connection: SQLiteConnection
    init(_ connection: SQLiteConnection) { self.connection = connection }
}

/// The outcome of work on a thread of its own.
private final class ThreadResult<T: Sendable>: Sendable {
    private let state = Mutex<(value: T?, waiter: CheckedContinuation<T, Never>?)>((nil, nil))

    var isFinished: Bool { self.state.withLock { $0.value != nil } }

    func finish(_ value: T) {
        let waiter = self.state.withLock { state in
            state.value = value
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: value)
    }

    var value: T {
        get async {
            await withCheckedContinuation { continuation in
                let ready = self.state.withLock { state -> T? in
                    if state.value == nil { state.waiter = continuation }
                    return state.value
                }
                if let ready { continuation.resume(returning: ready) }
            }
        }
    }
}
