import SegmentsWire

// MARK: - Static lists

extension SegmentsClient {
    /// Creates an empty static list. Lists share the namespace of segments and can be named in
    /// expressions with `in_segment("name")`.
    /// - Throws: `alreadyExists` when a list or segment has the name; `invalidArgument` for a bad name.
    @discardableResult
    public func createList(_ name: String) async throws(SegmentsClientError) -> SegmentsWriteResult {
        var request = Segments_V1_CreateListRequest()
        request.name = name
        return SegmentsWriteResult(try await self.callStore(ProfileStoreAPI.createList, request))
    }

    /// Adds and removes members in one write. Unknown users being added are created; invalid ids
    /// and unknown users being removed are reported in ``SegmentsWriteResult/rejected`` (indexes count
    /// `add` first, then `remove`) and the other items are applied.
    /// - Throws: `notFound` when there is no such list.
    @discardableResult
    public func changeListMembers(
        _ name: String,
        add: [String] = [],
        remove: [String] = []
    ) async throws(SegmentsClientError) -> SegmentsWriteResult {
        var request = Segments_V1_ChangeListMembersRequest()
        request.name = name
        request.add = add
        request.remove = remove
        return SegmentsWriteResult(try await self.callStore(ProfileStoreAPI.changeListMembers, request))
    }

    /// The members of a static list as the store holds them, sorted by the UTF-8 bytes of the ids.
    public func listMembers(_ name: String) async throws(SegmentsClientError) -> [String] {
        var request = Segments_V1_ListMembersRequest()
        request.name = name
        let stream = try await self.streamStore(ProfileStoreAPI.listMembers, request)
        var members: [String] = []
        do {
            for try await chunk in stream {
                members += chunk.userIds
            }
        } catch let error as SegmentsClientError {
            throw error
        } catch {
            throw SegmentsClientError(.unavailable, "\(error)")
        }
        return members
    }

    /// Every static list with its size, sorted by name.
    public func lists() async throws(SegmentsClientError) -> [SegmentsList] {
        try await self.callStore(ProfileStoreAPI.listLists, .init()).lists.map(SegmentsList.init)
    }

    /// Deletes a static list.
    /// - Throws: `failedPrecondition` while a segment refers to it; `notFound` when there is none.
    @discardableResult
    public func deleteList(_ name: String) async throws(SegmentsClientError) -> SegmentsWriteResult {
        var request = Segments_V1_DeleteListRequest()
        request.name = name
        return SegmentsWriteResult(try await self.callStore(ProfileStoreAPI.deleteList, request))
    }

    /// Freezes the current members of a segment (or list) into a new static list.
    ///
    /// The members are read once, at or after the store's head when the call starts, so every write
    /// acknowledged before the call is reflected; each shard's part is exactly its membership at the
    /// position reported in ``SegmentsListSnapshot/positions`` (with one shard: one log position). The
    /// list is then created and filled in batches; if filling fails the half-filled list is deleted.
    ///
    /// - Parameters:
    ///   - segment: The segment or list to freeze.
    ///   - name: The new list's name (must be free).
    ///   - batchSize: Members per write.
    ///   - progress: Called after each batch with the members written so far.
    public func snapshotList(
        of segment: String,
        into name: String,
        batchSize: Int = 10_000,
        progress: (Int) -> Void = { _ in }
    ) async throws(SegmentsClientError) -> SegmentsListSnapshot {
        let head = try await self.storeInfo().headSeq
        let (members, positions) = try await self.membersWithPositions(segment, minSeq: head)
        try await self.createList(name)
        var lastSeq: UInt64 = 0
        do throws(SegmentsClientError) {
            var start = 0
            while start < members.count {
                let end = min(start + max(1, batchSize), members.count)
                let result = try await self.changeListMembers(name, add: Array(members[start..<end]))
                if let rejection = result.rejected.first {
                    throw rejection.error
                }
                lastSeq = max(lastSeq, result.seq)
                start = end
                progress(start)
            }
        } catch {
            _ = try? await self.deleteList(name)
            throw error
        }
        return SegmentsListSnapshot(members: members.count, positions: positions, seq: lastSeq)
    }
}

/// The outcome of ``SegmentsClient/snapshotList(of:into:batchSize:progress:)``.
public struct SegmentsListSnapshot: Sendable, Hashable {
    /// Members frozen into the list.
    public var members: Int
    /// The change-log position each evaluator shard listed its members at, in shard order.
    public var positions: [UInt64]
    /// Change-log number of the last write that filled the list (0 for an empty list).
    public var seq: UInt64
}

// MARK: - Overlap

extension SegmentsClient {
    /// Sizes, pairwise intersections and Jaccard indexes of 2–20 segments or lists, exact, from the
    /// current membership (summed over shards).
    public func overlap(_ names: [String], minSeq: UInt64 = 0) async throws(SegmentsClientError) -> SegmentsOverlap {
        var request = Segments_V1_OverlapRequest()
        request.segments = names
        request.minSeq = minSeq
        let responses = try await self.callAllShards(EvaluatorAPI.overlap, request)
        var sizes = Array(repeating: 0, count: names.count)
        var intersections: [[Int]] = Array(repeating: Array(repeating: 0, count: names.count), count: names.count)
        for response in responses {
            for (index, size) in response.sizes.enumerated() where index < names.count {
                sizes[index] += Int(size)
            }
            for pair in response.pairs where pair.first < pair.second && Int(pair.second) < names.count {
                intersections[Int(pair.first)][Int(pair.second)] += Int(pair.intersection)
            }
        }
        var pairs: [SegmentsOverlap.Pair] = []
        for i in names.indices {
            for j in names.indices where j > i {
                pairs.append(.init(first: i, second: j, intersection: intersections[i][j], sizes: (sizes[i], sizes[j])))
            }
        }
        return SegmentsOverlap(names: names, sizes: sizes, pairs: pairs)
    }
}

/// How segments or lists overlap: each one's size and every pair's intersection.
public struct SegmentsOverlap: Sendable, Hashable {
    /// One pair of the requested names (`first < second`, indexes into ``names``).
    public struct Pair: Sendable, Hashable {
        public var first: Int
        public var second: Int
        /// Users in both.
        public var intersection: Int
        /// |A ∩ B| / |A ∪ B|; 0 when both are empty.
        public var jaccard: Double

        init(first: Int, second: Int, intersection: Int, sizes: (Int, Int)) {
            self.first = first
            self.second = second
            self.intersection = intersection
            let union = sizes.0 + sizes.1 - intersection
            self.jaccard = union == 0 ? 0 : Double(intersection) / Double(union)
        }
    }

    /// The requested names, in request order.
    public var names: [String]
    /// Members of each name.
    public var sizes: [Int]
    /// Every pair, in request order.
    public var pairs: [Pair]
}
