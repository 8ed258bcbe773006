import Synchronization

/// Publishes the committed head of the change log and wakes the readers waiting for it.
final class ChangeNotifier: Sendable {
    private struct State {
        var headSeq: UInt64
        var waiters: [UInt64: CheckedContinuation<UInt64, Never>] = [:]
        var nextWaiterID: UInt64 = 0
    }

    private let state: Mutex<State>

    init(headSeq: UInt64) {
        self.state = Mutex(State(headSeq: headSeq))
    }

    /// The last committed change-log number.
    var headSeq: UInt64 {
        self.state.withLock { $0.headSeq }
    }

    /// Records a commit up to `headSeq` and wakes every waiter.
    func publish(headSeq: UInt64) {
        let waiters = self.state.withLock { state -> [CheckedContinuation<UInt64, Never>] in
            state.headSeq = max(state.headSeq, headSeq)
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters {
            waiter.resume(returning: headSeq)
        }
    }

    /// Returns the head once it is beyond `seq`.
    /// - Throws: `CancellationError` when the task is cancelled first.
    func waitForHead(after seq: UInt64) async throws -> UInt64 {
        let id = self.state.withLock { state -> UInt64 in
            defer { state.nextWaiterID += 1 }
            return state.nextWaiterID
        }
        let head = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<UInt64, Never>) in
                let ready: UInt64? = self.state.withLock { state in
                    if state.headSeq > seq || Task.isCancelled {
                        return state.headSeq
                    }
                    state.waiters[id] = continuation
                    return nil
                }
                if let ready {
                    continuation.resume(returning: ready)
                }
            }
        } onCancel: {
            let waiter = self.state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume(returning: seq)
        }
        try Task.checkCancellation()
        return head
    }
}
