/// What the engine keeps per user: the profile attributes and the events (with the properties) that the segments
/// read. Everything else in a profile or an event is dropped on arrival.
public struct RetentionNeeds: Sendable, Hashable, CustomStringConvertible {
    /// Profile attribute names some segment reads.
    public var attributes: Set<String>
    /// Event names some aggregate reads, each with the event properties its filters and `sum`/`avg`/`min`/`max`
    /// read (possibly none: `count(purchase)` needs only the instant).
    public var events: [String: Set<String>]

    /// Creates a set of needs.
    ///
    /// - Parameters:
    ///   - attributes: Profile attribute names.
    ///   - events: Event names with the property names they need.
    public init(attributes: Set<String> = [], events: [String: Set<String>] = [:]) {
        self.attributes = attributes
        self.events = events
    }

    /// Whether nothing is needed.
    public var isEmpty: Bool { attributes.isEmpty && events.isEmpty }

    /// Whether the needs include this event name.
    ///
    /// - Parameter eventName: An event name.
    /// - Returns: Whether some aggregate reads events of that name.
    public func needsEvent(_ eventName: String) -> Bool { events[eventName] != nil }

    /// Adds the needs of `other`.
    ///
    /// - Parameter other: More needs.
    public mutating func formUnion(_ other: RetentionNeeds) {
        attributes.formUnion(other.attributes)
        for (name, properties) in other.events { events[name, default: []].formUnion(properties) }
    }

    /// `attributes: a, b; events: purchase(amount), page_view()`, sorted.
    public var description: String {
        let a = attributes.sorted().joined(separator: ", ")
        let e = events.keys.sorted().map { "\($0)(\(events[$0]!.sorted().joined(separator: ", ")))" }
        return "attributes: \(a); events: \(e.joined(separator: ", "))"
    }
}

/// What ``MembershipEngine/putSegment(name:expression:seq:)`` did.
public struct PutSegmentOutcome: Sendable, Hashable {
    /// The enters and exits the change caused now (none while the segment waits for a back-fill).
    public var transitions: [MembershipTransition]
    /// Data the engine did not keep before and that the new expression reads. When not empty, the segment is
    /// *awaiting back-fill*: it is not evaluated (a new segment has no members, a replaced one keeps its previous
    /// members) until ``MembershipEngine/finishBackfill(_:)`` installs a snapshot of the store. See
    /// docs/evaluation.md.
    public var newNeeds: RetentionNeeds

    /// Whether the segment waits for a back-fill.
    public var awaitsBackfill: Bool { !newNeeds.isEmpty }

    /// Creates an outcome.
    ///
    /// - Parameters:
    ///   - transitions: The transitions caused now.
    ///   - newNeeds: The data to back-fill.
    public init(transitions: [MembershipTransition], newNeeds: RetentionNeeds) {
        self.transitions = transitions
        self.newNeeds = newNeeds
    }
}

/// Work counters of a ``MembershipEngine``, for metrics and benchmarks.
public struct MembershipEngineStatistics: Sendable, Hashable {
    /// Users re-evaluated because their due instant came.
    public var dueWakeups = 0
    /// Segment evaluations (one segment for one user at one instant).
    public var segmentEvaluations = 0
    /// Calls of a plan's next-change computation (comparisons with `now`/`D ago`).
    public var nextChangeQueries = 0
    /// Clock moves done in bulk (many users due at once; see `MembershipEngine.advance(to:)`).
    public var bulkAdvances = 0

    /// Creates zeroed counters.
    public init() {}
}
