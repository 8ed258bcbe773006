/// How much data a run generates.
public struct BenchScale: Sendable, Hashable, CustomStringConvertible {
    /// The scale's name, as given on the command line.
    public var name: String
    /// Number of users.
    public var users: Int
    /// Number of events, spread over the users with a long tail.
    public var events: Int

    /// Creates a scale.
    public init(name: String, users: Int, events: Int) {
        self.name = name
        self.users = users
        self.events = events
    }

    /// 10k users / 200k events: the CI smoke run.
    public static let small = BenchScale(name: "small", users: 10_000, events: 200_000)
    /// 100k users / 2M events: the size issue 4's closing figures ask for.
    public static let medium = BenchScale(name: "medium", users: 100_000, events: 2_000_000)
    /// 1M users / 20M events.
    public static let large = BenchScale(name: "large", users: 1_000_000, events: 20_000_000)

    /// The named scales.
    public static let all: [BenchScale] = [.small, .medium, .large]

    /// Finds a scale by name.
    /// - Throws: ``SegbenchError`` `invalidArgument` for an unknown name.
    public static func named(_ name: String) throws(SegbenchError) -> BenchScale {
        guard let scale = Self.all.first(where: { $0.name == name }) else {
            throw SegbenchError(.invalidArgument, "unknown scale '\(name)'; use small, medium or large")
        }
        return scale
    }

    public var description: String { "\(self.name) (\(self.users) users, \(self.events) events)" }
}
