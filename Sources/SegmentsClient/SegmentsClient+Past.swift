import SegmentsWire

/// Membership at past instants, answered from the evaluators' transition logs: a user is a member of a segment at
/// instant `T` when their latest recorded transition for it at or before `T` is an enter. Instants are ms since the
/// Unix epoch. A call for an instant before a log covers memberships (the store's first change) fails with
/// ``SegmentsClientError/Code/outOfRange``.
extension SegmentsClient {
    /// Whether `userID` was a member of `segment` at `atMs`.
    /// - Parameters:
    ///   - userID: the user.
    ///   - segment: a segment or static list.
    ///   - atMs: the instant, ms since the Unix epoch.
    ///   - minSeq: first let the evaluator apply this store write (its `seq`); 0 = the store's head.
    public func check(
        _ userID: String,
        in segment: String,
        at atMs: Int64,
        minSeq: UInt64 = 0
    ) async throws(SegmentsClientError) -> Bool {
        var request = Segments_V1_CheckRequest()
        request.userID = userID
        request.segment = segment
        request.at.atMs = atMs
        request.minSeq = minSeq
        return try await self.call(try self.evaluator(for: userID), EvaluatorAPI.check, request).member
    }

    /// The segments and lists `userID` was in at `atMs`, sorted.
    /// - Parameters:
    ///   - userID: the user.
    ///   - atMs: the instant, ms since the Unix epoch.
    ///   - minSeq: first let the evaluator apply this store write; 0 = the store's head.
    public func segments(
        of userID: String,
        at atMs: Int64,
        minSeq: UInt64 = 0
    ) async throws(SegmentsClientError)
        -> [String]
    {
        var request = Segments_V1_SegmentsOfRequest()
        request.userID = userID
        request.at.atMs = atMs
        request.minSeq = minSeq
        return try await self.call(try self.evaluator(for: userID), EvaluatorAPI.segmentsOf, request).segments
    }

    /// The members of `segment` at `atMs`, sorted by the UTF-8 bytes of the user ids.
    /// - Parameters:
    ///   - segment: a segment or static list.
    ///   - atMs: the instant, ms since the Unix epoch.
    ///   - minSeq: first let the evaluators apply this store write; 0 = the store's head.
    public func members(
        _ segment: String,
        at atMs: Int64,
        minSeq: UInt64 = 0
    ) async throws(SegmentsClientError)
        -> [String]
    {
        var request = Segments_V1_MembersRequest()
        request.segment = segment
        request.at.atMs = atMs
        request.minSeq = minSeq
        return try await self.membersWithPositions(request).members
    }

    /// The number of members of `segment` at `atMs`, summed over shards.
    /// - Parameters:
    ///   - segment: a segment or static list.
    ///   - atMs: the instant, ms since the Unix epoch.
    ///   - minSeq: first let the evaluators apply this store write; 0 = the store's head.
    public func memberCount(
        _ segment: String,
        at atMs: Int64,
        minSeq: UInt64 = 0
    ) async throws(SegmentsClientError)
        -> UInt64
    {
        var request = Segments_V1_CountMembersRequest()
        request.segment = segment
        request.at.atMs = atMs
        request.minSeq = minSeq
        return try await self.callAllShards(EvaluatorAPI.countMembers, request).reduce(0) { $0 + $1.count }
    }

    /// The member count of `segment` at `fromMs`, `fromMs + everyMs`, … while ≤ `toMs` (at most 10,000 instants),
    /// summed over shards.
    /// - Parameters:
    ///   - segment: a segment or static list.
    ///   - fromMs: the first instant, ms since the Unix epoch.
    ///   - toMs: the last instant asked for (the series stops at the last step not after it).
    ///   - everyMs: the step, ms (positive).
    ///   - minSeq: first let the evaluators apply this store write; 0 = the store's head.
    /// - Returns: each instant with its count, in order.
    public func sizeSeries(
        _ segment: String,
        from fromMs: Int64,
        to toMs: Int64,
        every everyMs: Int64,
        minSeq: UInt64 = 0
    ) async throws(SegmentsClientError) -> [(atMs: Int64, count: UInt64)] {
        var request = Segments_V1_SizeSeriesRequest()
        request.segment = segment
        request.fromMs = fromMs
        request.toMs = toMs
        request.stepMs = everyMs
        request.minSeq = minSeq
        let parts = try await self.callAllShards(EvaluatorAPI.sizeSeries, request)
        guard let first = parts.first else { return [] }
        return first.counts.indices.map { index in
            (
                fromMs + Int64(index) * everyMs,
                parts.reduce(0) { $0 + ($1.counts.indices.contains(index) ? $1.counts[index] : 0) }
            )
        }
    }
}
