import SwiftProtobuf

/// A failed call: a gRPC status code and a human message, as carried on the wire.
///
/// Servers throw it from handlers to answer with that status; clients receive it when a call
/// fails. Any other error thrown by a handler is answered as ``Code/internalError`` without
/// its details.
public struct RPCError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A gRPC status code.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        /// The code as declared in `rpc.proto`.
        public let wireValue: Segments_V1_StatusCode

        /// Wraps a wire status code.
        /// - Parameter wireValue: the code from a response frame.
        public init(_ wireValue: Segments_V1_StatusCode) {
            self.wireValue = wireValue
        }

        public static let cancelled = Code(.cancelled)
        public static let unknown = Code(.unknown)
        public static let invalidArgument = Code(.invalidArgument)
        public static let deadlineExceeded = Code(.deadlineExceeded)
        public static let notFound = Code(.notFound)
        public static let alreadyExists = Code(.alreadyExists)
        public static let permissionDenied = Code(.permissionDenied)
        public static let resourceExhausted = Code(.resourceExhausted)
        public static let failedPrecondition = Code(.failedPrecondition)
        public static let aborted = Code(.aborted)
        public static let outOfRange = Code(.outOfRange)
        public static let unimplemented = Code(.unimplemented)
        public static let internalError = Code(.internal)
        public static let unavailable = Code(.unavailable)
        public static let dataLoss = Code(.dataLoss)
        public static let unauthenticated = Code(.unauthenticated)

        /// The gRPC name of the code, e.g. `NOT_FOUND`.
        public var description: String {
            switch self.wireValue {
            case .ok: "OK"
            case .cancelled: "CANCELLED"
            case .unknown: "UNKNOWN"
            case .invalidArgument: "INVALID_ARGUMENT"
            case .deadlineExceeded: "DEADLINE_EXCEEDED"
            case .notFound: "NOT_FOUND"
            case .alreadyExists: "ALREADY_EXISTS"
            case .permissionDenied: "PERMISSION_DENIED"
            case .resourceExhausted: "RESOURCE_EXHAUSTED"
            case .failedPrecondition: "FAILED_PRECONDITION"
            case .aborted: "ABORTED"
            case .outOfRange: "OUT_OF_RANGE"
            case .unimplemented: "UNIMPLEMENTED"
            case .internal: "INTERNAL"
            case .unavailable: "UNAVAILABLE"
            case .dataLoss: "DATA_LOSS"
            case .unauthenticated: "UNAUTHENTICATED"
            case .UNRECOGNIZED(let value): "CODE_\(value)"
            }
        }
    }

    /// What kind of failure this is.
    public var code: Code
    /// What went wrong, where and why, for people.
    public var message: String
    /// For a refusal by a profile store that stands by: the writer's address (empty while no store
    /// is the writer); `nil` for every other error. See ``isStandbyRefusal``.
    public var writerAddress: String?

    /// Creates an error.
    /// - Parameters:
    ///   - code: the status code.
    ///   - message: a human message.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// A standby profile store's refusal: UNAVAILABLE, naming the writer when one is known.
    /// - Parameters:
    ///   - message: a human message.
    ///   - writerAddress: where the writer is, or `""` when no store is the writer at the moment.
    public static func standby(_ message: String, writerAddress: String) -> RPCError {
        var error = RPCError(.unavailable, message)
        error.writerAddress = writerAddress
        return error
    }

    /// Whether a standby profile store refused the call (which it did not run): send it to the
    /// writer, ``writerAddress``, or to another store when that is empty.
    public var isStandbyRefusal: Bool {
        self.writerAddress != nil
    }

    /// Reads the error carried by a non-OK status.
    /// - Parameter status: a status from a response frame.
    public init(status: Segments_V1_Status) {
        self.init(Code(status.code), status.message)
        // Only a standby sets it; an empty one from a standby means "no writer yet", marked by the message.
        if status.code == .unavailable, !status.writerAddress.isEmpty || status.message.hasPrefix(Self.standbyPrefix) {
            self.writerAddress = status.writerAddress
        }
    }

    /// How a standby's refusal begins, so that one naming no writer is still known for what it is.
    public static let standbyPrefix = "this profile store is a standby"

    /// The status to put on the wire.
    public var status: Segments_V1_Status {
        .with {
            $0.code = self.code.wireValue
            $0.message = self.message
            $0.writerAddress = self.writerAddress ?? ""
        }
    }

    public var description: String {
        "\(self.code): \(self.message)"
    }
}
