/// What a caller may do on a daemon's socket. Each role includes the ones below it.
///
/// - ``reader``: checks, members, segments of a user, explain, preview, watch, history, overlap, status, and reading
///   profiles, events, segment definitions, lists and webhooks (never their secrets).
/// - ``writer``: also writes profiles and events (imports included), creates lists and changes their members, and
///   acknowledges a change-feed position (what a separately run evaluator needs).
/// - ``admin``: everything: segment definitions, deleting users and lists, webhooks and the manual clock.
public enum RPCRole: Int, Sendable, Hashable, Comparable, CaseIterable, CustomStringConvertible {
    case reader = 1
    case writer = 2
    case admin = 3

    /// Parses `reader`, `writer` or `admin`.
    public init?(name: String) {
        guard let role = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = role
    }

    public static func < (lhs: RPCRole, rhs: RPCRole) -> Bool {
        lhs.rawValue < rhs.rawValue
    }

    public var description: String {
        switch self {
        case .reader: "reader"
        case .writer: "writer"
        case .admin: "admin"
        }
    }
}
