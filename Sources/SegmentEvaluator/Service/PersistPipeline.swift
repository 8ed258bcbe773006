import Dispatch
import Synchronization

/// Runs the feed's ``EvaluatorCore/persist(includingState:)`` calls on a thread of their own, so that the feed
/// applies the next batch while the last one's transitions are written (a third of the feed's time in a
/// catch-up went to writing them; the second core was mostly idle).
///
/// Requests coalesce: a persist takes every transition pending when it starts, so requests made while one runs
/// become one more persist after it. The feed gets at most one persist ahead: a request made while one persist
/// runs and another waits blocks until the waiting one starts, which bounds the unwritten transitions to about
/// two batches. What is written, and in which order, is what the synchronous calls wrote; only the thread changes
/// (readers and watchers learn of a batch when it is written, as before).
///
/// Used by the feed alone (one caller of ``request(includingState:)`` at a time); other persists (the clock, the
/// idle save, shutdown) call the core directly, ordered with these by the core's persist lock.
///
/// A failed persist leaves its transitions pending (see ``EvaluatorCore/persist(includingState:)``); the error is
/// thrown by the next ``request(includingState:)`` or ``drain()``, and the feed resubscribes.
final class PersistPipeline: Sendable {
    private struct State {
        /// A persist is queued and has not started.
        var scheduled = false
        /// The queued persist saves the engine's state too.
        var includingState = false
        /// The first failure not yet reported to the feed.
        var failure: SegmentEvaluatorError?
        /// Signalled when the queued persist starts (the feed waits on it when it is a batch ahead).
        var started: DispatchSemaphore?
    }

    private let core: EvaluatorCore
    private let queue = DispatchQueue(label: "segment-evaluator.persist")
    private let state = Mutex(State())

    init(core: EvaluatorCore) {
        self.core = core
    }

    /// Asks for a persist of everything applied so far (with the engine's state when `includingState`).
    /// Waits only when a persist runs and another is already queued.
    ///
    /// - Throws: The error of an earlier persist that failed.
    func request(includingState: Bool) throws(SegmentEvaluatorError) {
        let wait: DispatchSemaphore? = try self.state.withLock { state throws(SegmentEvaluatorError) in
            if let failure = state.failure {
                state.failure = nil
                throw failure
            }
            state.includingState = state.includingState || includingState
            if !state.scheduled {
                state.scheduled = true
                self.queue.async { self.run() }
                return nil
            }
            // One is queued behind the one running: this request joins it; wait until it starts.
            let semaphore = state.started ?? DispatchSemaphore(value: 0)
            state.started = semaphore
            return semaphore
        }
        wait?.wait()
    }

    /// Waits until every requested persist has run.
    ///
    /// - Throws: The error of a persist that failed.
    func drain() throws(SegmentEvaluatorError) {
        self.queue.sync {}
        let failure = self.state.withLock { state in
            defer { state.failure = nil }
            return state.failure
        }
        if let failure { throw failure }
    }

    private func run() {
        let includingState = self.state.withLock { state in
            state.scheduled = false
            defer { state.includingState = false }
            if let started = state.started {
                state.started = nil
                started.signal()
            }
            return state.includingState
        }
        do {
            try self.core.persist(includingState: includingState)
        } catch {
            self.state.withLock { state in
                if state.failure == nil { state.failure = error }
            }
        }
    }
}
