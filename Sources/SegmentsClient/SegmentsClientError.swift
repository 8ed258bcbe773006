import SegmentsWire

/// A failed client call: a code (gRPC's status codes) and a message saying what, where and why; the call's method
/// and the error underneath when there is one.
///
/// Two errors are equal when their code, message and method are (the underlying error is not compared).
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
        /// The caller's role does not allow the call; the message names the role needed.
        public static let permissionDenied = Code(rpcCode: .permissionDenied)
        /// A bug or corrupt data on the daemon's side.
        public static let internalError = Code(rpcCode: .internalError)

        /// The gRPC name, e.g. `NOT_FOUND`.
        public var description: String { self.rpcCode.description }
    }

    /// The kind of failure.
    public var code: Code
    /// What went wrong, for people.
    public var message: String
    /// The RPC method of the call that failed, e.g. `segments.v1.ProfileStore/TrackEvents`; `nil` when the failure
    /// belongs to no single call (a stream's iteration, an argument checked before sending).
    public var method: String?
    /// The error this one was made from: the protocol's error for a failure the daemon reported or the connection
    /// saw, the system's for a socket that could not be reached; `nil` when the client itself decided.
    public var underlying: (any Error)?

    /// Creates an error.
    /// - Parameters:
    ///   - code: The kind of failure.
    ///   - message: What went wrong, for people.
    ///   - method: The RPC method of the call, if any.
    ///   - underlying: The error this one was made from, if any.
    public init(_ code: Code, _ message: String, method: String? = nil, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.method = method
        self.underlying = underlying
    }

    init(_ error: RPCError, method: String? = nil) {
        self.init(Code(rpcCode: error.code), error.message, method: method, underlying: error)
    }

    public var description: String { self.message }

    public static func == (lhs: SegmentsClientError, rhs: SegmentsClientError) -> Bool {
        lhs.code == rhs.code && lhs.message == rhs.message && lhs.method == rhs.method
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.code)
        hasher.combine(self.message)
        hasher.combine(self.method)
    }
}
