import Synchronization

/// A monotonically increasing position (a log head, an applied sequence number) that tasks can
/// wait on: publishers move it forward, waiters resume once it passes the number they need.
public final class ProgressNotifier: Sendable {
    private struct State {
        var headSeq: UInt64
        var mirror: SharedSequence?
        var waiters: [UInt64: CheckedContinuation<UInt64, Never>] = [:]
        var nextWaiterID: UInt64 = 0
    }

    private let state: Mutex<State>

    /// - Parameter headSeq: the starting position.
    public init(headSeq: UInt64) {
        self.state = Mutex(State(headSeq: headSeq))
    }

    /// The current position.
    public var headSeq: UInt64 {
        self.state.withLock { $0.headSeq }
    }

    /// Moves the position forward to `headSeq` (never back) and wakes every waiter.
    public func publish(headSeq: UInt64) {
        let waiters = self.state.withLock { state -> [CheckedContinuation<UInt64, Never>] in
            state.headSeq = max(state.headSeq, headSeq)
            state.mirror?.publish(state.headSeq)
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        let current = self.headSeq
        for waiter in waiters {
            waiter.resume(returning: current)
        }
    }

    /// Also publishes the position (now, and on every move) to `shared`, for other processes.
    public func mirror(to shared: SharedSequence) {
        self.state.withLock { state in
            shared.publish(state.headSeq)
            state.mirror = shared
        }
    }

    /// Returns the position once it is beyond `seq`.
    /// - Throws: `CancellationError` when the task is cancelled first.
    public func waitForHead(after seq: UInt64) async throws -> UInt64 {
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

extension ProgressNotifier {
    /// Waits until the position reaches `seq`, at most `timeout`.
    /// - Returns: whether it was reached.
    public func wait(untilReaching seq: UInt64, timeout: Duration) async -> Bool {
        if self.headSeq >= seq {
            return true
        }
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                while self.headSeq < seq {
                    guard (try? await self.waitForHead(after: self.headSeq)) != nil else { return false }
                }
                return true
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let reached = await group.next() ?? false
            group.cancelAll()
            return reached || self.headSeq >= seq
        }
    }
}
