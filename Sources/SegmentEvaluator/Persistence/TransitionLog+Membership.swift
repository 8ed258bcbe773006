import SegmentLanguage
import SegmentsWire

/// Membership at a past instant, from the recorded transitions: a user is a member of a segment at instant `T` when
/// their latest transition for it at or before `T` (by instant, then by log position) is an enter
/// (`SEGMENT-LANGUAGE.md`, "Membership at an instant").
extension TransitionLog {
    /// Transitions read per query round.
    static let historyPage = 10_000
    /// The most instants one size series may ask for.
    static let maximumSeriesLength = 10_000

    /// Refuses an instant before the log covers memberships.
    func requireCoverage(of atMs: Int64) throws(SegmentEvaluatorError) {
        guard let from = self.coversFromMs else {
            throw SegmentEvaluatorError(
                .outOfRange,
                "this evaluator's transition log has not recorded any store change yet, so it knows no past membership"
            )
        }
        guard atMs >= from else {
            throw SegmentEvaluatorError(
                .outOfRange,
                "this evaluator's transition log records memberships from \(RFC3339.format(from)) (the store's "
                    + "first change); \(RFC3339.format(atMs)) is before that"
            )
        }
    }

    /// Every transition of `segment` or of `userID`, in log order.
    func allTransitions(
        segment: String? = nil,
        userID: String? = nil
    ) throws(SegmentEvaluatorError)
        -> [Segments_V1_Transition]
    {
        var result: [Segments_V1_Transition] = []
        var next: UInt64 = 1
        while true {
            let page = try self.read(from: next, limit: Self.historyPage, userID: userID, segment: segment)
            result += page
            guard page.count == Self.historyPage, let last = page.last else { return result }
            next = last.seq + 1
        }
    }

    /// The members of `segment` at `atMs`, sorted by user id (UTF-8 byte order).
    func members(of segment: String, atMs: Int64) throws(SegmentEvaluatorError) -> [String] {
        try self.requireCoverage(of: atMs)
        return Self.latest(of: try self.allTransitions(segment: segment), atMs: atMs, key: \.userID)
            .filter { $0.value.kind == .enter }.map(\.key)
            .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// The segments and lists `userID` was in at `atMs`, sorted by name.
    func segments(of userID: String, atMs: Int64) throws(SegmentEvaluatorError) -> [String] {
        try self.requireCoverage(of: atMs)
        return Self.latest(of: try self.allTransitions(userID: userID), atMs: atMs, key: \.segment)
            .filter { $0.value.kind == .enter }.map(\.key).sorted()
    }

    /// Whether `userID` was in `segment` at `atMs`.
    func isMember(_ userID: String, of segment: String, atMs: Int64) throws(SegmentEvaluatorError) -> Bool {
        try self.requireCoverage(of: atMs)
        let transitions = try self.allTransitions(userID: userID).filter { $0.segment == segment }
        return Self.latest(of: transitions, atMs: atMs, key: \.segment)[segment]?.kind == .enter
    }

    /// The member count of `segment` at each of `instants` (ascending), in one pass over its transitions.
    func sizes(of segment: String, at instants: [Int64]) throws(SegmentEvaluatorError) -> [UInt64] {
        guard let first = instants.first else { return [] }
        try self.requireCoverage(of: first)
        let transitions = try self.allTransitions(segment: segment).sorted {
            ($0.atMs, $0.seq) < ($1.atMs, $1.seq)
        }
        var member: Set<String> = []
        var sizes: [UInt64] = []
        sizes.reserveCapacity(instants.count)
        var next = 0
        for instant in instants {
            while next < transitions.count, transitions[next].atMs <= instant {
                if transitions[next].kind == .enter {
                    member.insert(transitions[next].userID)
                } else {
                    member.remove(transitions[next].userID)
                }
                next += 1
            }
            sizes.append(UInt64(member.count))
        }
        return sizes
    }

    /// Whether any transition of `segment` is recorded (for a segment deleted since, which the engine forgot).
    func hasTransitions(of segment: String) throws(SegmentEvaluatorError) -> Bool {
        !(try self.read(from: 1, limit: 1, segment: segment)).isEmpty
    }

    /// Whether any transition of `userID` is recorded.
    func hasTransitions(ofUser userID: String) throws(SegmentEvaluatorError) -> Bool {
        !(try self.read(from: 1, limit: 1, userID: userID)).isEmpty
    }

    /// The latest transition at or before `atMs` for each `key` (by instant, then log position).
    private static func latest(
        of transitions: [Segments_V1_Transition],
        atMs: Int64,
        key: KeyPath<Segments_V1_Transition, String>
    ) -> [String: Segments_V1_Transition] {
        var latest: [String: Segments_V1_Transition] = [:]
        for transition in transitions where transition.atMs <= atMs {
            let name = transition[keyPath: key]
            if let known = latest[name], (known.atMs, known.seq) > (transition.atMs, transition.seq) { continue }
            latest[name] = transition
        }
        return latest
    }
}
