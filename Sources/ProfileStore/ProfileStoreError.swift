import SegmentsSQLite
import SegmentsWire

/// Why the profile store could not start or could not do what was asked.
///
/// Codes map one-to-one onto the gRPC status codes clients receive (``rpcError``).
public struct ProfileStoreError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The kind of failure.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: Sendable, Hashable {
            case invalidArgument, notFound, alreadyExists, failedPrecondition, outOfRange, resourceExhausted, storage,
                startup
        }

        private let value: Value

        /// The request is malformed: bad id, name, value or expression.
        public static let invalidArgument = Code(value: .invalidArgument)
        /// The user, segment or list does not exist.
        public static let notFound = Code(value: .notFound)
        /// A segment or list of that name already exists.
        public static let alreadyExists = Code(value: .alreadyExists)
        /// The request is valid but not in this state (e.g. moving a wall clock).
        public static let failedPrecondition = Code(value: .failedPrecondition)
        /// A position beyond the change log.
        public static let outOfRange = Code(value: .outOfRange)
        /// A limit of the store is reached (e.g. `--max-segments`); nothing was stored.
        public static let resourceExhausted = Code(value: .resourceExhausted)
        /// SQLite failed; nothing of the request was stored.
        public static let storage = Code(value: .storage)
        /// The store could not start (data directory, database, socket).
        public static let startup = Code(value: .startup)

        /// The status code clients see.
        public var rpcCode: RPCError.Code {
            switch self.value {
            case .invalidArgument: .invalidArgument
            case .notFound: .notFound
            case .alreadyExists: .alreadyExists
            case .failedPrecondition: .failedPrecondition
            case .outOfRange: .outOfRange
            case .resourceExhausted: .resourceExhausted
            case .storage: .unavailable
            case .startup: .unavailable
            }
        }

        public var description: String {
            "\(self.value)"
        }
    }

    /// The kind of failure.
    public var code: Code
    /// What went wrong, for people. Never holds attribute values.
    public var message: String
    /// The underlying error, if any (e.g. an SQLite error with its statement).
    public var underlying: (any Error & Sendable)?

    /// A write that SQLite could not do: RESOURCE_EXHAUSTED naming the full disk when that is the cause (the write
    /// is not stored; writes resume by themselves once space is freed), else ``Code/storage``.
    static func writeFailed(_ error: any Error & Sendable, what: String) -> ProfileStoreError {
        if let sqlite = error as? SQLiteError, sqlite.code == .full {
            return ProfileStoreError(
                .resourceExhausted,
                "the disk holding the store's data is full: \(what) was not stored; writes resume by themselves "
                    + "once space is freed (reads go on meanwhile)",
                underlying: error
            )
        }
        return ProfileStoreError(.storage, "\(what) failed: \(error)", underlying: error)
    }

    /// Creates an error.
    /// - Parameters:
    ///   - code: the kind of failure.
    ///   - message: what went wrong, for people (never attribute values).
    ///   - underlying: the error underneath, if any.
    public init(_ code: Code, _ message: String, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    /// The error as sent to clients.
    public var rpcError: RPCError {
        RPCError(self.code.rpcCode, self.message)
    }

    public var description: String {
        "\(self.code): \(self.message)"
    }

    public var debugDescription: String {
        if let underlying {
            return "\(self.description) (\(String(reflecting: underlying)))"
        }
        return self.description
    }
}
