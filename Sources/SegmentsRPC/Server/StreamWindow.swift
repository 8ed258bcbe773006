import Synchronization

/// The server's side of one stream's flow control: how many more response frames the client
/// has granted. The stream's handler takes one before each frame and waits while there is none;
/// the connection's handler adds the client's grants.
///
/// A stream whose consumer stops reading so stops its own handler, not the connection: the
/// client keeps reading the socket, so the other calls on it go on (see `rpc.proto`).
final class StreamWindow: Sendable {
    private struct State {
        var available: Int
        var waiter: CheckedContinuation<Void, any Error>?
        var isClosed = false
    }

    /// Grants beyond this are clipped: a client cannot make the server hold a huge number.
    static let maximumAvailable = Int(Int32.max)

    private let state: Mutex<State>

    /// - Parameter initial: the frames the client granted when it started the call (≥ 1).
    init(initial: UInt32) {
        self.state = Mutex(State(available: Int(initial)))
    }

    /// Adds `frames` to the window, waking the handler if it waits for one.
    func grant(_ frames: UInt32) {
        let waiter = self.state.withLock { state -> CheckedContinuation<Void, any Error>? in
            state.available = min(state.available + Int(frames), Self.maximumAvailable)
            guard let waiter = state.waiter, state.available > 0 else { return nil }
            state.waiter = nil
            state.available -= 1
            return waiter
        }
        waiter?.resume()
    }

    /// Ends the window: a waiting or later ``take()`` throws (the call was cancelled or its
    /// connection closed).
    func close() {
        let waiter = self.state.withLock { state -> CheckedContinuation<Void, any Error>? in
            state.isClosed = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(throwing: CancellationError())
    }

    /// Takes one frame from the window, waiting until the client grants one.
    /// - Throws: `CancellationError` when the task is cancelled or the window closed first.
    func take() async throws {
        enum Outcome { case taken, wait, closed }
        let fast = self.state.withLock { state -> Outcome in
            if state.isClosed { return .closed }
            guard state.available > 0 else { return .wait }
            state.available -= 1
            return .taken
        }
        switch fast {
        case .taken: return
        case .closed: throw CancellationError()
        case .wait: break
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let outcome = self.state.withLock { state -> Outcome in
                    if state.isClosed || Task.isCancelled { return .closed }
                    if state.available > 0 {
                        state.available -= 1
                        return .taken
                    }
                    state.waiter = continuation
                    return .wait
                }
                switch outcome {
                case .taken: continuation.resume()
                case .closed: continuation.resume(throwing: CancellationError())
                case .wait: break
                }
            }
        } onCancel: {
            self.close()
        }
    }
}
