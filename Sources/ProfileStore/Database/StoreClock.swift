import DaemonSupport
import Synchronization

/// The store's notion of now: real time, or in test mode a manual instant that moves only when
/// told (through the change log, so everything downstream sees time in log order).
final class StoreClock: Sendable {
    private let manualNow: Mutex<Int64?>

    /// - Parameter manualStartMs: the manual instant, or `nil` for real time.
    init(manualStartMs: Int64?) {
        self.manualNow = Mutex(manualStartMs)
    }

    /// Whether time is manual (test mode).
    var isManual: Bool {
        self.manualNow.withLock { $0 != nil }
    }

    /// Now, in ms since the Unix epoch.
    func now() -> Int64 {
        if let manual = self.manualNow.withLock({ $0 }) {
            return manual
        }
        return WallClock.nowMs()
    }

    /// Moves the manual clock (after the move was committed).
    func setManual(_ ms: Int64) {
        self.manualNow.withLock { $0 = ms }
    }
}
