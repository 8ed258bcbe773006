import CoreMetrics
import DaemonSupport
import Logging
import NIOPosix
import SegmentsSQL
import Synchronization

/// The store's only writer: runs write jobs on one dedicated thread and commits them in groups.
///
/// Jobs that arrive while a commit is in progress wait and are then committed together in one
/// transaction (group commit), so under concurrency many writes share one fsync. Each job runs
/// inside its own savepoint: a job that fails is rolled back alone and answered with its error,
/// the others are committed. A job is answered only after its transaction has committed.
final class StoreWriter: @unchecked Sendable {
    // @unchecked: `transaction` (and its SQLite connection) is touched only on `thread`, by one
    // drain at a time, as guaranteed by `queue.isDraining`.

    private struct Job: Sendable {
        /// Runs the job; returns what to do once its transaction committed.
        let execute: @Sendable (WriteTransaction) -> (@Sendable () -> Void)?
        /// Fails the job when its transaction could not commit.
        let fail: @Sendable (ProfileStoreError) -> Void
    }

    private struct Queue {
        var jobs: [Job] = []
        var isDraining = false
    }

    private let transaction: WriteTransaction
    private let thread: NIOThreadPool
    private let queue = Mutex(Queue())
    private let notifier: ProgressNotifier
    private let logger: Logger
    private let metrics: Metrics?
    /// Called once the writer's connection is lost for good (PostgreSQL): the store must stop.
    private let onLost: @Sendable (ProfileStoreError) -> Void

    /// The writer's instruments, when the store serves metrics.
    struct Metrics: Sendable {
        /// Time of each group commit's `COMMIT` statement (the write to disk, with its fsync in `full` durability).
        let commit = CoreMetrics.Timer(label: "segments_store_sqlite_commit_seconds")
        /// Writes (jobs) committed, and refused or failed.
        let writes = CoreMetrics.Counter(label: "segments_store_writes_total", dimensions: [("outcome", "committed")])
        let refused = CoreMetrics.Counter(label: "segments_store_writes_total", dimensions: [("outcome", "refused")])
        let failed = CoreMetrics.Counter(label: "segments_store_writes_total", dimensions: [("outcome", "failed")])
        /// Change-log entries written.
        let entries = CoreMetrics.Counter(label: "segments_store_log_entries_total")
    }

    init(
        transaction: WriteTransaction,
        notifier: ProgressNotifier,
        logger: Logger,
        metrics: Metrics? = nil,
        onLost: @escaping @Sendable (ProfileStoreError) -> Void
    ) {
        self.onLost = onLost
        self.transaction = transaction
        self.notifier = notifier
        self.logger = logger
        self.metrics = metrics
        self.thread = NIOThreadPool(numberOfThreads: 1)
        self.thread.start()
    }

    /// Runs `body` in the next group commit.
    /// - Parameter body: the write; throw ``ProfileStoreError`` to refuse it (its changes are
    ///   rolled back).
    /// - Returns: what `body` returned, once committed.
    func write<Result: Sendable>(
        _ body: @escaping @Sendable (WriteTransaction) throws -> Result
    ) async throws(ProfileStoreError) -> Result {
        do {
            return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Result, any Error>) in
                let job = Job(
                    execute: { transaction in
                        do {
                            let result = try body(transaction)
                            return { continuation.resume(returning: result) }
                        } catch let error as ProfileStoreError {
                            continuation.resume(throwing: error)
                            return nil
                        } catch {
                            continuation.resume(throwing: ProfileStoreError.writeFailed(error, what: "the write"))
                            return nil
                        }
                    },
                    fail: { continuation.resume(throwing: $0) }
                )
                self.enqueue(job)
            }
        } catch let error as ProfileStoreError {
            throw error
        } catch {
            throw ProfileStoreError(.storage, "write failed: \(error)")
        }
    }

    /// Stops the writer thread after the jobs already queued, and closes its connection.
    func shutdown() async {
        // After the queued jobs, on the writer's thread: see ``StoreDatabase/close()``.
        try? await self.thread.runIfActive { self.transaction.connection.close() }
        try? await self.thread.shutdownGracefully()
    }

    private func enqueue(_ job: Job) {
        let startDrain = self.queue.withLock { queue -> Bool in
            queue.jobs.append(job)
            guard !queue.isDraining else { return false }
            queue.isDraining = true
            return true
        }
        if startDrain {
            self.thread.submit { _ in self.drain() }
        }
    }

    /// Commits groups of jobs until the queue is empty. Runs on `thread`.
    private func drain() {
        while true {
            let jobs = self.queue.withLock { queue -> [Job] in
                if queue.jobs.isEmpty {
                    queue.isDraining = false
                }
                defer { queue.jobs.removeAll(keepingCapacity: true) }
                return queue.jobs
            }
            if jobs.isEmpty {
                return
            }
            self.commit(jobs)
        }
    }

    private func commit(_ jobs: [Job]) {
        let transaction = self.transaction
        let connection = transaction.connection
        let startSeq = transaction.headSeq
        var completions: [@Sendable () -> Void] = []
        var succeeded = 0
        // Jobs that answered already (they failed alone); every other job is answered with a failed commit.
        var answered: Set<Int> = []
        do {
            try connection.cachedStatement(connection.beginWriteSQL).execute()
            for (index, job) in jobs.enumerated() {
                let seqBefore = transaction.headSeq
                let clockBefore = transaction.pendingManualNow
                try connection.cachedStatement("SAVEPOINT job").execute()
                if let completion = job.execute(transaction) {
                    try connection.cachedStatement("RELEASE job").execute()
                    completions.append(completion)
                    succeeded += 1
                } else {
                    answered.insert(index)
                    try connection.cachedStatement("ROLLBACK TO job").execute()
                    try connection.cachedStatement("RELEASE job").execute()
                    transaction.rewind(to: seqBefore)
                    transaction.pendingManualNow = clockBefore
                    transaction.userKeys.reset()
                    try transaction.userIndex.rebuild(from: connection)
                }
            }
            try transaction.userIndex.flushIfNeeded(headSeq: transaction.headSeq, in: connection)
            let commitStart = ContinuousClock.now
            try connection.cachedStatement("COMMIT").execute()
            if let metrics = self.metrics {
                metrics.commit.recordNanoseconds((ContinuousClock.now - commitStart).inNanoseconds)
                metrics.writes.increment(by: Int64(succeeded))
                metrics.refused.increment(by: Int64(jobs.count - succeeded))
                metrics.entries.increment(by: Int64(transaction.headSeq - startSeq))
            }
        } catch {
            if connection.isInTransaction {
                try? connection.cachedStatement("ROLLBACK").execute()
            }
            transaction.rewind(to: startSeq)
            transaction.pendingManualNow = nil
            transaction.userKeys.reset()
            do {
                try transaction.userIndex.rebuild(from: connection)
            } catch {
                self.logger.error(
                    "cannot rebuild the user index after a failed commit",
                    metadata: ["error": "\(error)"]
                )
            }
            self.logger.error("commit failed", metadata: ["error": "\(error)"])
            self.metrics?.failed.increment(by: Int64(jobs.count - answered.count))
            let failure = ProfileStoreError.writeFailed(error, what: "the commit")
            for (index, job) in jobs.enumerated() where !answered.contains(index) {
                job.fail(failure)
            }
            if connection.isLost {
                self.onLost(
                    ProfileStoreError(
                        .storage,
                        "lost the connection to the database, and with it the writer role: stopping "
                            + "(a standby store takes over; restarted, this one stands by or becomes the writer again)",
                        underlying: error
                    )
                )
            }
            return
        }
        if let manual = transaction.pendingManualNow {
            transaction.clock.setManual(manual)
            transaction.pendingManualNow = nil
        }
        if transaction.headSeq != startSeq {
            self.notifier.publish(headSeq: transaction.headSeq)
        }
        for completion in completions {
            completion()
        }
    }
}
