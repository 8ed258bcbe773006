import DaemonSupport
import Logging

/// Watches the feed applier: when it has been waiting on the store for ``timeout`` without
/// receiving anything while the store's log is ahead of what the evaluator has applied, it logs a
/// warning naming what the applier waits on, and throws so that the applier drops its
/// connection and subscribes again.
///
/// A stall must never be silent or permanent: whatever its cause (a lost wake-up, a peer that
/// stopped reading, a store that hangs), the evaluator says so and tries again.
struct FeedWatchdog: Sendable {
    let progress: FeedProgress
    /// The store change the evaluator has applied, as readers see it.
    let applied: ProgressNotifier
    let storeHead: PublishedStoreHead
    /// How long the applier may wait on the store, with the store ahead, before it is stalled.
    let timeout: Duration
    let logger: Logger

    /// Returns only by throwing: ``SegmentEvaluatorError`` `.unavailable` once the applier is
    /// stalled, `CancellationError` when cancelled.
    func watch() async throws {
        let clock = ContinuousClock()
        let interval = min(.seconds(1), self.timeout / 4)
        var lastTicks = self.progress.snapshot.ticks
        var behindSince: ContinuousClock.Instant?
        while true {
            try await Task.sleep(for: interval)
            let (activity, ticks) = self.progress.snapshot
            guard ticks == lastTicks, activity.waitsOnStore else {
                lastTicks = ticks
                behindSince = nil
                continue
            }
            let applied = self.applied.headSeq
            // A store whose head cannot be learned is taken to be ahead: waiting on it is a stall.
            let head = await self.currentStoreHead(within: interval)
            guard head.map({ $0 > applied }) ?? true else {
                behindSince = nil
                continue
            }
            let since = behindSince ?? clock.now
            behindSince = since
            let waited = clock.now - since
            guard waited >= self.timeout else { continue }
            self.logger.warning(
                "the evaluator has received nothing from the store while the store is ahead; resubscribing",
                metadata: [
                    "waiting-on": "\(activity)",
                    "applied-seq": "\(applied)",
                    "store-head": "\(head.map { "\($0)" } ?? "unknown")",
                    "waited": "\(waited)",
                ]
            )
            throw SegmentEvaluatorError(
                .unavailable,
                "the change feed stalled at store change \(applied) while waiting for \(activity)"
            )
        }
    }

    /// The store's head from its published file, else asked of the store, or `nil` when neither
    /// answers within `limit`.
    private func currentStoreHead(within limit: Duration) async -> UInt64? {
        if let head = self.storeHead.published() {
            return head
        }
        return await withTaskGroup(of: UInt64?.self) { group in
            group.addTask { try? await self.storeHead.current() }
            group.addTask {
                try? await Task.sleep(for: limit)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }
}
