import Synchronization

/// A value shared between the watcher tasks and the driver of a phase.
final class Shared<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) {
        self.mutex = Mutex(value)
    }

    func withLock<Result: Sendable>(_ body: (inout sending Value) -> Result) -> Result {
        self.mutex.withLock { body(&$0) }
    }

    var value: Value { self.mutex.withLock { $0 } }
}
