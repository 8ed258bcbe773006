/// Sizes and pairwise intersections of up to 64 segments or lists, counted in one pass over the users.
public struct MembershipOverlap: Sendable, Equatable {
    /// Members of each requested segment or list, in request order.
    public var sizes: [Int]
    /// `intersections[i][j]` (for `i < j`): users in both `i` and `j`. Entries with `i >= j` are 0.
    public var intersections: [[Int]]
}

extension MembershipEngine {
    /// The most segments or lists one ``overlap(of:)`` call takes (one bit each in a user's mask).
    public static let maximumOverlapNames = 64

    /// Counts the members of each named segment or list and of every pair's intersection, exactly,
    /// from the current membership.
    ///
    /// Each user is reduced to a bit mask of the names it belongs to, and users are grouped by mask,
    /// so the pairs are counted once per distinct mask rather than once per user.
    ///
    /// - Parameter names: Distinct segment or list names, at most ``maximumOverlapNames``; unknown
    ///   names count as empty.
    /// - Returns: The sizes and intersections, indexed like `names`.
    public func overlap(of names: [String]) -> MembershipOverlap {
        precondition(names.count <= Self.maximumOverlapNames, "overlap of more than 64 names")
        // Each name resolves to a segment slot or a list slot (or nothing).
        let targets: [(segment: Int32?, list: Int32?)] = names.map { (segIndex[$0], listIndex[$0]) }
        var masks: [UInt64: Int] = [:]
        for user in users where user.alive {
            var mask: UInt64 = 0
            for (bit, target) in targets.enumerated() {
                let member: Bool
                if let s = target.segment {
                    member = user.memberPosition(s).found
                } else if let l = target.list {
                    member = user.listPosition(l).found
                } else {
                    member = false
                }
                if member { mask |= 1 << UInt64(bit) }
            }
            if mask != 0 { masks[mask, default: 0] += 1 }
        }
        var result = MembershipOverlap(
            sizes: Array(repeating: 0, count: names.count),
            intersections: Array(repeating: Array(repeating: 0, count: names.count), count: names.count)
        )
        for (mask, count) in masks {
            let bits = (0..<names.count).filter { mask & (1 << UInt64($0)) != 0 }
            for (position, i) in bits.enumerated() {
                result.sizes[i] += count
                for j in bits[(position + 1)...] {
                    result.intersections[i][j] += count
                }
            }
        }
        return result
    }
}
