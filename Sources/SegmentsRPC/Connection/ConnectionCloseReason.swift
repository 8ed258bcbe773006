import SegmentsWire
import Synchronization

/// Why a client connection closed, shared by its handler (which learns it) and the ``RPCConnection`` (whose later
/// calls fail before they reach the handler, with the channel's "I/O on closed channel", and should say why instead).
final class ConnectionCloseReason: Sendable {
    private let reason = Mutex<RPCError?>(nil)

    /// Records the reason; the first one recorded stays.
    func record(_ error: RPCError) {
        self.reason.withLock { reason in
            if reason == nil { reason = error }
        }
    }

    /// The error a call that failed with `error` (a channel error) reports: the connection's close reason when known.
    func failure(for error: any Error) -> RPCError {
        if let error = error as? RPCError { return error }
        return self.reason.withLock { $0 } ?? RPCError(.unavailable, "connection failed: \(error)")
    }
}
