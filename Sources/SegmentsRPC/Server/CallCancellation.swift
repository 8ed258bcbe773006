import Synchronization

/// A one-shot signal that a streaming call should stop: the client sent a cancel frame, the
/// connection closed or the server is shutting down.
final class CallCancellation: Sendable {
    private struct State {
        var isCancelled = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    /// Fires the signal; waking the waiter if there is one. Idempotent.
    func cancel() {
        let waiter = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.isCancelled = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Returns once the signal fires or the calling task is cancelled.
    func wait() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let alreadyCancelled = self.state.withLock { state in
                    if state.isCancelled { return true }
                    state.waiter = continuation
                    return false
                }
                if alreadyCancelled {
                    continuation.resume()
                }
            }
        } onCancel: {
            self.cancel()
        }
    }
}
