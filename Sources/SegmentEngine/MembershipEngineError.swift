/// An error of the membership engine: a back-fill that does not fit the engine's position in the change log, or
/// checkpoint bytes that cannot be restored.
public struct MembershipEngineError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of error. A struct around a private enum, so that codes can be added without breaking clients.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: Sendable, Hashable {
            case snapshotSeqMismatch
            case foreignBackfill
            case corruptState
            case unsupportedFormat
            case stateMismatch
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The back-fill snapshot is not as of the engine's applied change-log number (gRPC `FAILED_PRECONDITION`):
        /// take a new snapshot.
        public static let snapshotSeqMismatch = Code(.snapshotSeqMismatch)
        /// The back-fill session was begun on another engine (gRPC `FAILED_PRECONDITION`).
        public static let foreignBackfill = Code(.foreignBackfill)
        /// Checkpoint bytes are truncated or inconsistent (gRPC `DATA_LOSS`).
        public static let corruptState = Code(.corruptState)
        /// Checkpoint bytes of an unknown format version (gRPC `FAILED_PRECONDITION`).
        public static let unsupportedFormat = Code(.unsupportedFormat)
        /// A user record refers to segments, aggregates or lists the restored catalog does not have (gRPC
        /// `DATA_LOSS`).
        public static let stateMismatch = Code(.stateMismatch)

        /// The code's name.
        public var description: String {
            switch base {
            case .snapshotSeqMismatch: return "snapshotSeqMismatch"
            case .foreignBackfill: return "foreignBackfill"
            case .corruptState: return "corruptState"
            case .unsupportedFormat: return "unsupportedFormat"
            case .stateMismatch: return "stateMismatch"
            }
        }
    }

    /// The kind of error.
    public var code: Code
    /// What went wrong, for people. Holds no user data.
    public var message: String

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - code: The kind of error.
    ///   - message: What went wrong.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// `code: message`.
    public var description: String { "\(code): \(message)" }
}
