import SegmentsWire

/// A failed client call: a code (gRPC's status codes) and a message saying what, where and why.
public struct SegmentsClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure; one-to-one with gRPC status codes.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        let rpcCode: RPCError.Code

        /// The request was malformed (bad id, value, expression, …).
        public static let invalidArgument = Code(rpcCode: .invalidArgument)
        /// No such user, segment or list.
        public static let notFound = Code(rpcCode: .notFound)
        /// A segment or list of that name already exists.
        public static let alreadyExists = Code(rpcCode: .alreadyExists)
        /// Not possible in the current state (e.g. moving a real-time clock).
        public static let failedPrecondition = Code(rpcCode: .failedPrecondition)
        /// A position beyond the log.
        public static let outOfRange = Code(rpcCode: .outOfRange)
        /// The daemon is not reachable or is shutting down.
        public static let unavailable = Code(rpcCode: .unavailable)
        /// A read could not catch up with the requested write in time.
        public static let deadlineExceeded = Code(rpcCode: .deadlineExceeded)
        /// The call was cancelled.
        public static let cancelled = Code(rpcCode: .cancelled)
        /// The daemon does not know the method.
        public static let unimplemented = Code(rpcCode: .unimplemented)
        /// Too much at once (frames, calls in flight).
        public static let resourceExhausted = Code(rpcCode: .resourceExhausted)
        /// A bug or corrupt data on the daemon's side.
        public static let internalError = Code(rpcCode: .internalError)

        /// The gRPC name, e.g. `NOT_FOUND`.
        public var description: String { self.rpcCode.description }
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

    init(_ error: RPCError) {
        self.init(Code(rpcCode: error.code), error.message)
    }

    public var description: String { self.message }
}
