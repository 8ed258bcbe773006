import DaemonSupport
import Synchronization

/// How far behind the store's log the evaluator is, in time: for each store head observed (sampled every 100 ms
/// from the head the store publishes, and taken from every batch the feed receives), when it was first seen. The
/// lag is the age of the first observation beyond the applied position — how long the oldest store change not yet
/// applied has been waiting — and 0 when the evaluator has applied everything observed.
///
/// Observations are kept in increasing order of head; at most ``capacity`` of them, after which the newest is moved
/// forward instead of a new one added (the oldest, which the lag is read from, stay exact).
final class FeedLag: Sendable {
    /// Most observations kept: 100 s of samples every 100 ms.
    static let capacity = 1024

    private struct Observation {
        var headSeq: UInt64
        var seenAtMs: Int64
    }

    private struct State {
        var observations: [Observation] = []
        /// Index of the oldest observation still beyond the applied position.
        var start = 0
        var latestHead: UInt64 = 0
    }

    private let state = Mutex(State())

    /// Notes that the store's head is `headSeq` at `nowMs` (an older or equal head is ignored).
    func observe(headSeq: UInt64, nowMs: Int64 = WallClock.nowMs()) {
        self.state.withLock { state in
            guard headSeq > state.latestHead else { return }
            state.latestHead = headSeq
            if state.observations.count - state.start >= Self.capacity {
                state.observations[state.observations.count - 1].headSeq = headSeq
            } else {
                state.observations.append(Observation(headSeq: headSeq, seenAtMs: nowMs))
            }
        }
    }

    /// The store's head as last observed.
    var latestHead: UInt64 {
        self.state.withLock { $0.latestHead }
    }

    /// The lag in ms when the evaluator has applied up to `appliedSeq`.
    func lagMs(appliedSeq: UInt64, nowMs: Int64 = WallClock.nowMs()) -> Int64 {
        self.state.withLock { state in
            while state.start < state.observations.count, state.observations[state.start].headSeq <= appliedSeq {
                state.start += 1
            }
            if state.start == state.observations.count {
                state.observations.removeAll(keepingCapacity: true)
                state.start = 0
                return 0
            }
            if state.start >= Self.capacity {
                state.observations.removeFirst(state.start)
                state.start = 0
            }
            return max(0, nowMs - state.observations[state.start].seenAtMs)
        }
    }

    /// Forgets everything observed (the evaluator starts over from an empty engine).
    func reset() {
        self.state.withLock { $0 = State() }
    }
}
