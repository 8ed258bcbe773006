/// A property a fuzz check found broken: what was expected and what happened instead. The fuzz
/// targets turn it into a crash (so libFuzzer saves the input); the regression tests report it.
public struct FuzzFinding: Error, Sendable, CustomStringConvertible {
    /// What is wrong, with the values involved.
    public var message: String

    /// Creates a finding.
    /// - Parameter message: what is wrong.
    public init(_ message: String) {
        self.message = message
    }

    public var description: String { self.message }
}
