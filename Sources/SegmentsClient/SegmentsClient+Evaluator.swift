import SegmentsRPC
import SegmentsWire
import SwiftProtobuf

// MARK: - Routing

extension SegmentsClient {
    /// The shard owning `userID`.
    func evaluator(for userID: String) throws(SegmentsClientError) -> ConnectionSlot {
        guard !self.evaluators.isEmpty else {
            throw SegmentsClientError(.unavailable, "no evaluator socket configured")
        }
        let index = UserShard.index(of: userID, shardCount: UInt32(self.evaluators.count))
        return self.evaluators[Int(index)]
    }

    func call<Request, Response>(
        _ slot: ConnectionSlot,
        _ method: UnaryMethod<Request, Response>,
        _ request: Request
    ) async throws(SegmentsClientError) -> Response {
        let connection = try await slot.get(for: method.name)
        do {
            return try await connection.call(method, request, timeout: self.configuration.options.requestTimeout)
        } catch {
            throw SegmentsClientError(error, method: method.name)
        }
    }

    /// Asks every shard concurrently; results in shard order.
    func callAllShards<Request: Sendable, Response: Sendable>(
        _ method: UnaryMethod<Request, Response>,
        _ request: Request
    ) async throws(SegmentsClientError) -> [Response] {
        guard !self.evaluators.isEmpty else {
            throw SegmentsClientError(.unavailable, "no evaluator socket configured")
        }
        do {
            return try await withThrowingTaskGroup(of: (Int, Response).self) { group in
                for (index, slot) in self.evaluators.enumerated() {
                    group.addTask { (index, try await self.call(slot, method, request)) }
                }
                var responses: [(Int, Response)] = []
                for try await response in group { responses.append(response) }
                return responses.sorted { $0.0 < $1.0 }.map(\.1)
            }
        } catch let error as SegmentsClientError {
            throw error
        } catch {
            throw SegmentsClientError(.unavailable, "\(error)")
        }
    }
}

// MARK: - Membership queries

extension SegmentsClient {
    /// Whether `userID` is a member of `segment`.
    /// - Parameters:
    ///   - userID: the user.
    ///   - segment: a segment or static list.
    ///   - minSeq: see at least this store write (the `seq` of a write result); 0 = no wait.
    /// - Returns: membership and, for a member, since when (ms since the Unix epoch).
    public func check(
        _ userID: String,
        in segment: String,
        minSeq: UInt64 = 0
    ) async throws(SegmentsClientError) -> (member: Bool, sinceMs: Int64?) {
        var request = Segments_V1_CheckRequest()
        request.userID = userID
        request.segment = segment
        request.minSeq = minSeq
        let response = try await self.call(try self.evaluator(for: userID), EvaluatorAPI.check, request)
        return (response.member, response.member ? response.sinceMs : nil)
    }

    /// Every segment and list `userID` is a member of, sorted.
    public func segments(of userID: String, minSeq: UInt64 = 0) async throws(SegmentsClientError) -> [String] {
        var request = Segments_V1_SegmentsOfRequest()
        request.userID = userID
        request.minSeq = minSeq
        return try await self.call(try self.evaluator(for: userID), EvaluatorAPI.segmentsOf, request).segments
    }

    /// Number of members of `segment`, summed over shards.
    public func memberCount(_ segment: String, minSeq: UInt64 = 0) async throws(SegmentsClientError) -> UInt64 {
        var request = Segments_V1_CountMembersRequest()
        request.segment = segment
        request.minSeq = minSeq
        return try await self.callAllShards(EvaluatorAPI.countMembers, request).reduce(0) { $0 + $1.count }
    }

    /// The members of a segment or static list, sorted by the UTF-8 bytes of the user ids.
    public func members(_ segment: String, minSeq: UInt64 = 0) async throws(SegmentsClientError) -> [String] {
        try await self.membersWithPositions(segment, minSeq: minSeq).members
    }

    /// The first `limit` members of a segment or static list in the same order as ``members(_:minSeq:)``: a sample
    /// that costs `limit` ids per shard to send, however large the segment.
    public func members(_ segment: String, limit: Int, minSeq: UInt64 = 0) async throws(SegmentsClientError) -> [String]
    {
        Array(try await self.membersWithPositions(segment, minSeq: minSeq, limit: max(1, limit)).members.prefix(limit))
    }

    /// The members of a segment or static list, sorted by the UTF-8 bytes of the user ids, with the
    /// change-log position each shard listed its part at (in shard order): each part is exactly that
    /// shard's membership after applying the log up to its position.
    public func membersWithPositions(
        _ segment: String,
        minSeq: UInt64 = 0
    ) async throws(SegmentsClientError) -> (members: [String], positions: [UInt64]) {
        try await self.membersWithPositions(segment, minSeq: minSeq, limit: 0)
    }

    /// With `limit` > 0, each shard sends only its first `limit` members.
    private func membersWithPositions(
        _ segment: String,
        minSeq: UInt64,
        limit: Int
    ) async throws(SegmentsClientError) -> (members: [String], positions: [UInt64]) {
        var request = Segments_V1_MembersRequest()
        request.segment = segment
        request.minSeq = minSeq
        request.limit = UInt32(clamping: limit)
        return try await self.membersWithPositions(request)
    }

    /// Every shard's part of a `Members` call, merged in UTF-8 byte order, with each shard's position.
    func membersWithPositions(
        _ request: Segments_V1_MembersRequest
    ) async throws(SegmentsClientError) -> (members: [String], positions: [UInt64]) {
        guard !self.evaluators.isEmpty else {
            throw SegmentsClientError(.unavailable, "no evaluator socket configured")
        }
        var lists: [[String]] = []
        var positions: [UInt64] = []
        for slot in self.evaluators {
            let connection = try await slot.get(for: EvaluatorAPI.members.name)
            var members: [String] = []
            var position: UInt64 = 0
            do {
                for try await chunk in connection.stream(EvaluatorAPI.members, request) {
                    members += chunk.userIds
                    position = chunk.seq
                }
            } catch let error as RPCError {
                throw SegmentsClientError(error, method: EvaluatorAPI.members.name)
            } catch {
                throw SegmentsClientError(
                    .unavailable,
                    "\(error)",
                    method: EvaluatorAPI.members.name,
                    underlying: error
                )
            }
            lists.append(members)
            positions.append(position)
        }
        let members = lists.count == 1 ? lists[0] : lists.joined().sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        return (members, positions)
    }

    /// Evaluates an unsaved expression over all users: count and the smallest user ids.
    public func preview(
        _ expression: String,
        sampleSize: Int = 10,
        minSeq: UInt64 = 0
    ) async throws(SegmentsClientError) -> (count: UInt64, sample: [String]) {
        var request = Segments_V1_PreviewRequest()
        request.expression = expression
        request.sampleSize = UInt32(max(0, sampleSize))
        request.minSeq = minSeq
        let responses = try await self.callAllShards(EvaluatorAPI.preview, request)
        let sample = responses.flatMap(\.sample).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        return (responses.reduce(0) { $0 + $1.count }, Array(sample.prefix(sampleSize)))
    }

    /// Why `userID` is in or out of `segment`.
    public func explain(
        _ userID: String,
        in segment: String,
        minSeq: UInt64 = 0
    ) async throws(SegmentsClientError) -> SegmentsExplanation {
        var request = Segments_V1_ExplainRequest()
        request.userID = userID
        request.segment = segment
        request.minSeq = minSeq
        return SegmentsExplanation(try await self.call(try self.evaluator(for: userID), EvaluatorAPI.explain, request))
    }

    /// Recorded transitions of one user (from its shard).
    public func history(ofUser userID: String, limit: Int = 0) async throws(SegmentsClientError) -> [SegmentsTransition]
    {
        var request = Segments_V1_HistoryRequest()
        request.userID = userID
        request.limit = UInt32(max(0, limit))
        let slot = try self.evaluator(for: userID)
        let shard = self.evaluators.firstIndex { $0 === slot } ?? 0
        return try await self.collectHistory(slot, shard: shard, request)
    }

    /// Recorded transitions of one segment, merged over shards by time.
    public func history(
        ofSegment segment: String,
        limit: Int = 0
    ) async throws(SegmentsClientError)
        -> [SegmentsTransition]
    {
        var request = Segments_V1_HistoryRequest()
        request.segment = segment
        request.limit = UInt32(max(0, limit))
        var all: [SegmentsTransition] = []
        for (shard, slot) in self.evaluators.enumerated() {
            all += try await self.collectHistory(slot, shard: shard, request)
        }
        all.sort { ($0.atMs, $0.shard, $0.seq) < ($1.atMs, $1.shard, $1.seq) }
        return limit > 0 ? Array(all.suffix(limit)) : all
    }

    private func collectHistory(
        _ slot: ConnectionSlot,
        shard: Int,
        _ request: Segments_V1_HistoryRequest
    ) async throws(SegmentsClientError) -> [SegmentsTransition] {
        let connection = try await slot.get(for: EvaluatorAPI.history.name)
        var transitions: [SegmentsTransition] = []
        do {
            for try await batch in connection.stream(EvaluatorAPI.history, request) {
                transitions += batch.transitions.map { SegmentsTransition($0, shard: shard) }
            }
        } catch let error as RPCError {
            throw SegmentsClientError(error, method: EvaluatorAPI.history.name)
        } catch {
            throw SegmentsClientError(.unavailable, "\(error)", method: EvaluatorAPI.history.name, underlying: error)
        }
        return transitions
    }

    /// Live transitions from one shard's transition log, from `fromSeq` (0 = only new ones).
    ///
    /// Each watch has a connection of its own, closed when the stream is dropped: while its consumer
    /// does not read, only that connection stops (flow control), never the client's other calls.
    /// - Parameters:
    ///   - segments: only these segments; empty = all.
    ///   - fromSeq: replay the shard's log from this transition number (the `seq` after the last one
    ///     handled); 0 = only new ones.
    ///   - shard: which evaluator shard to watch.
    public func watch(
        segments: [String] = [],
        fromSeq: UInt64 = 0,
        shard: Int = 0
    ) async throws(SegmentsClientError) -> SegmentsTransitionStream {
        guard self.evaluators.indices.contains(shard) else {
            throw SegmentsClientError(.invalidArgument, "no evaluator shard \(shard)")
        }
        var request = Segments_V1_WatchRequest()
        request.segments = segments
        request.fromSeq = fromSeq
        // Its own connection: a watcher that stops reading must not stall this client's other calls.
        let connection = try await self.evaluators[shard].dedicated(for: EvaluatorAPI.watch.name)
        return SegmentsTransitionStream(
            batches: SegmentsStream(responses: connection.stream(EvaluatorAPI.watch, request), owner: connection),
            shard: shard
        )
    }

    /// Progress of each evaluator shard.
    /// - Throws: ``SegmentsClientError`` when any shard cannot answer.
    public func evaluatorStatus() async throws(SegmentsClientError) -> [SegmentsEvaluatorStatus] {
        try await self.callAllShards(EvaluatorAPI.getStatus, .init()).map(SegmentsEvaluatorStatus.init)
    }

    /// Progress of each evaluator shard, in the order of ``SegmentsClientConfiguration/evaluatorSocketPaths``, with
    /// the error of each shard that cannot answer instead of failing as a whole (for health checks).
    public func evaluatorStatusPerShard() async -> [Result<SegmentsEvaluatorStatus, SegmentsClientError>] {
        await withTaskGroup(of: (Int, Result<SegmentsEvaluatorStatus, SegmentsClientError>).self) { group in
            for (index, slot) in self.evaluators.enumerated() {
                group.addTask {
                    do throws(SegmentsClientError) {
                        let wire = try await self.call(slot, EvaluatorAPI.getStatus, .init())
                        return (index, .success(SegmentsEvaluatorStatus(wire)))
                    } catch {
                        return (index, .failure(error))
                    }
                }
            }
            var results: [(Int, Result<SegmentsEvaluatorStatus, SegmentsClientError>)] = []
            for await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }
}
