/// Why an ``RPCServer`` could not start listening.
public struct RPCServerError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: Sendable, Hashable {
            case socketInUse
            case socketUnavailable
            case tlsUnavailable
        }

        private let value: Value

        /// Another live process already owns the socket path.
        public static let socketInUse = Code(value: .socketInUse)
        /// The socket (or its lock file) could not be created, bound or given its mode.
        public static let socketUnavailable = Code(value: .socketUnavailable)
        /// The TLS listener's certificate, key or CA could not be used, or its address could not be bound.
        public static let tlsUnavailable = Code(value: .tlsUnavailable)

        public var description: String {
            switch self.value {
            case .socketInUse: "socket in use"
            case .socketUnavailable: "socket unavailable"
            case .tlsUnavailable: "TLS listener unavailable"
            }
        }
    }

    /// The kind of failure.
    public var code: Code
    /// What happened, for people.
    public var message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String {
        "\(self.code): \(self.message)"
    }
}
