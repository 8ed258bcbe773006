import Synchronization

/// What the feed applier is doing, and a counter that moves whenever it makes progress: read by
/// the ``FeedWatchdog`` to tell a slow evaluator from a stalled one, and named in its warning.
final class FeedProgress: Sendable {
    /// The applier's current step.
    enum Activity: Sendable, Equatable, CustomStringConvertible {
        /// Connecting to the store and asking where its log is.
        case connecting
        /// Waiting for the change feed's next batch after this store change.
        case awaitingFeed(after: UInt64)
        /// Applying entries and saving them (work of its own, not waiting on the store).
        case applying(through: UInt64)
        /// Reading the store's log for a new segment's back-fill as of `upTo`; `readThrough` is
        /// the last entry received.
        case loadingBackfill(upTo: UInt64, readThrough: UInt64)

        /// Whether the applier is waiting for the store (and so can be stalled by it).
        var waitsOnStore: Bool {
            switch self {
            case .connecting, .awaitingFeed, .loadingBackfill: true
            case .applying: false
            }
        }

        var description: String {
            switch self {
            case .connecting:
                "connecting to the store"
            case .awaitingFeed(let seq):
                "the change feed's next batch after store change \(seq)"
            case .applying(let seq):
                "applying store changes through \(seq)"
            case .loadingBackfill(let upTo, let readThrough):
                "a back-fill read of the store's log up to change \(upTo) (received through \(readThrough))"
            }
        }
    }

    private struct State {
        var activity = Activity.connecting
        var ticks: UInt64 = 0
    }

    private let state = Mutex(State())

    /// Moves to `activity`, counting it as progress.
    func enter(_ activity: Activity) {
        self.state.withLock { state in
            state.activity = activity
            state.ticks &+= 1
        }
    }

    /// The current activity, and the progress counter.
    var snapshot: (activity: Activity, ticks: UInt64) {
        self.state.withLock { ($0.activity, $0.ticks) }
    }
}
