import SegmentsWire

/// Why the evaluator could not start or answer.
public struct SegmentEvaluatorError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: Sendable, Hashable {
            case startup, unusableData, storage, diskFull, notFound, invalidArgument, deadlineExceeded, outOfRange
            case unavailable
        }

        private let value: Value

        /// The data directory or database could not be opened.
        public static let startup = Code(value: .startup)
        /// The data directory holds something this evaluator must not use: a damaged database, or one written by
        /// a newer version. The evaluator moves it aside and rebuilds from the store.
        public static let unusableData = Code(value: .unusableData)
        /// The evaluator's SQLite failed.
        public static let storage = Code(value: .storage)
        /// The disk holding the evaluator's data is full: transitions wait in memory, unrecorded, until space
        /// returns.
        public static let diskFull = Code(value: .diskFull)
        /// Unknown segment or user.
        public static let notFound = Code(value: .notFound)
        /// A malformed request (e.g. an invalid preview expression).
        public static let invalidArgument = Code(value: .invalidArgument)
        /// A read could not catch up with `min_seq` in time.
        public static let deadlineExceeded = Code(value: .deadlineExceeded)
        /// A position beyond the transition log.
        public static let outOfRange = Code(value: .outOfRange)
        /// The store is not reachable.
        public static let unavailable = Code(value: .unavailable)

        /// The status code clients see.
        public var rpcCode: RPCError.Code {
            switch self.value {
            case .startup, .unusableData, .storage, .unavailable: .unavailable
            case .diskFull: .resourceExhausted
            case .notFound: .notFound
            case .invalidArgument: .invalidArgument
            case .deadlineExceeded: .deadlineExceeded
            case .outOfRange: .outOfRange
            }
        }

        public var description: String { "\(self.value)" }
    }

    /// The kind of failure.
    public var code: Code
    /// What went wrong, for people.
    public var message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The error as sent to clients.
    public var rpcError: RPCError { RPCError(self.code.rpcCode, self.message) }

    public var description: String { "\(self.code): \(self.message)" }
}
