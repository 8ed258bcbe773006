#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A mutual-exclusion lock around a value, for locks held for milliseconds by one busy thread and wanted briefly by
/// others: a thread that finds it taken sleeps in the kernel until the holder releases it, and the holder may take
/// it again at once.
///
/// `Synchronization.Mutex` is built on Linux on a priority-inheritance futex: a contended lock goes through the
/// kernel's rt-mutex path, and releasing it hands it to the waiter. The evaluator's feed holds the engine lock for
/// each change-log entry it applies (milliseconds of live events) and takes it again for the next; the clock and
/// the persist thread want it briefly in between. Under live load at 100k users, 0.9–4 % of the evaluator's
/// samples were in that kernel path (`rt_mutex_slowlock_block`, futex calls); 0.1 % with this lock.
///
/// This lock is a plain `pthread_mutex_t` (glibc's default kind). Not reentrant.
public final class SleepingMutex<Value: ~Copyable>: @unchecked Sendable {
    // @unchecked: `value` is only reached under `mutex`.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    /// - Parameter value: The value the lock guards.
    public init(_ value: consuming sending Value) {
        self.value = value
        self.mutex = .allocate(capacity: 1)
        self.mutex.initialize(to: pthread_mutex_t())
        let status = pthread_mutex_init(self.mutex, nil)
        precondition(status == 0, "pthread_mutex_init failed: \(status)")
    }

    deinit {
        pthread_mutex_destroy(self.mutex)
        self.mutex.deinitialize(count: 1)
        self.mutex.deallocate()
    }

    /// Runs `body` with the value, holding the lock (waiting for it, asleep, if another thread holds it).
    public func withLock<Result, Failure: Error>(
        _ body: (inout sending Value) throws(Failure) -> sending Result
    ) throws(Failure) -> sending Result {
        pthread_mutex_lock(self.mutex)
        defer { pthread_mutex_unlock(self.mutex) }
        return try body(&self.value)
    }
}
