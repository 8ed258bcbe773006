/// An error of the benchmark: bad arguments, a daemon that did not start, a failed phase.
public struct SegbenchError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case invalidArgument = "invalid argument"
            case daemon = "daemon"
            case phase = "phase failed"
            case baseline = "baseline"
            case output = "output"
        }

        private let base: Base

        /// A flag or value given on the command line is wrong.
        public static let invalidArgument = Code(base: .invalidArgument)
        /// A daemon could not be found, started or reached.
        public static let daemon = Code(base: .daemon)
        /// A measuring phase failed (an RPC error or a timeout).
        public static let phase = Code(base: .phase)
        /// The SQL baseline failed.
        public static let baseline = Code(base: .baseline)
        /// Results could not be written.
        public static let output = Code(base: .output)

        public var description: String { self.base.rawValue }
    }

    /// The kind of failure.
    public var code: Code
    /// A human message.
    public var message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(self.code): \(self.message)" }
}
