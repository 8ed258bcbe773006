/// One change of one user's membership in one segment: an enter or an exit, at the instant it became true.
///
/// The instant is when the change happened by the contract, not when the engine noticed it: a user leaving a
/// `within 30d` window at `2026-11-01T10:00:00Z` exits at that instant even if the clock was advanced past it later.
public struct MembershipTransition: Sendable, Hashable, CustomStringConvertible {
    /// Whether the user entered or left the segment.
    public enum Kind: UInt8, Sendable, Hashable {
        /// The user became a member.
        case enter = 1
        /// The user stopped being a member.
        case exit = 2
    }

    /// The segment name.
    public var segment: String
    /// The user id.
    public var userID: String
    /// Enter or exit.
    public var kind: Kind
    /// The instant of the change, in Unix milliseconds.
    public var atMs: Int64

    /// Creates a transition.
    ///
    /// - Parameters:
    ///   - segment: The segment name.
    ///   - userID: The user id.
    ///   - kind: Enter or exit.
    ///   - atMs: The instant of the change, in Unix milliseconds.
    public init(segment: String, userID: String, kind: Kind, atMs: Int64) {
        self.segment = segment
        self.userID = userID
        self.kind = kind
        self.atMs = atMs
    }

    /// `enter vip u1 @1793527200000`.
    public var description: String {
        "\(kind == .enter ? "enter" : "exit") \(segment) \(userID) @\(atMs)"
    }
}
