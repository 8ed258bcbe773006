import NIOCore
import Synchronization

extension EventLoopFuture where Value == Void {
    /// Waits for the future, or only until the calling task is cancelled: then it throws
    /// `CancellationError` at once, and the operation behind the future goes on by itself.
    ///
    /// A stream's handler waits so for its writes: a client that stops reading its socket must
    /// not keep a cancelled call (and what it holds) alive until the connection closes.
    func waitUnlessCancelled() async throws {
        let waiter = OnceWaiter()
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                waiter.install(continuation)
                self.whenComplete { waiter.finish($0) }
            }
        } onCancel: {
            waiter.finish(.failure(CancellationError()))
        }
    }
}

/// A continuation resumed by whichever comes first: the result, or cancellation.
private final class OnceWaiter: Sendable {
    private enum State {
        case idle
        case waiting(CheckedContinuation<Void, any Error>)
        case finished(Result<Void, any Error>)
        case resumed
    }

    private let state = Mutex(State.idle)

    func install(_ continuation: CheckedContinuation<Void, any Error>) {
        let early = self.state.withLock { state -> Result<Void, any Error>? in
            switch state {
            case .idle:
                state = .waiting(continuation)
                return nil
            case .finished(let result):
                state = .resumed
                return result
            case .waiting, .resumed:
                return nil
            }
        }
        if let early {
            continuation.resume(with: early)
        }
    }

    func finish(_ result: Result<Void, any Error>) {
        let waiting = self.state.withLock { state -> CheckedContinuation<Void, any Error>? in
            switch state {
            case .idle:
                state = .finished(result)
                return nil
            case .waiting(let continuation):
                state = .resumed
                return continuation
            case .finished, .resumed:
                return nil
            }
        }
        waiting?.resume(with: result)
    }
}
