import SegmentsRPC
import SegmentsWire

// MARK: - Profiles and events

extension SegmentsClient {
    /// Merges attributes into a user's profile, creating the user if needed. `nil` removes an
    /// attribute.
    /// - Returns: the write's change-log number and counts.
    @discardableResult
    public func setProfile(
        _ userID: String,
        _ attributes: [String: SegmentsValue?]
    ) async throws(SegmentsClientError) -> SegmentsWriteResult {
        let result = try await self.upsertProfiles([(userID, attributes)])
        if let rejection = result.rejected.first {
            throw rejection.error
        }
        return result
    }

    /// Merges attributes into several profiles in one write. Refused items are reported in the
    /// result; the others are stored.
    @discardableResult
    public func upsertProfiles(
        _ patches: [(userID: String, attributes: [String: SegmentsValue?])]
    ) async throws(SegmentsClientError) -> SegmentsWriteResult {
        var request = Segments_V1_UpsertProfilesRequest()
        request.patches = patches.map { patch in
            var wire = Segments_V1_ProfilePatch()
            wire.userID = patch.userID
            wire.attributes = patch.attributes.mapValues { $0?.wireValue ?? Segments_V1_Value() }
            return wire
        }
        return SegmentsWriteResult(try await self.callStore(ProfileStoreAPI.upsertProfiles, request))
    }

    /// Reads a profile.
    /// - Throws: ``SegmentsClientError`` `notFound` when the user does not exist.
    public func profile(_ userID: String) async throws(SegmentsClientError) -> SegmentsProfile {
        var request = Segments_V1_GetProfileRequest()
        request.userID = userID
        let response = try await self.callStore(ProfileStoreAPI.getProfile, request)
        return SegmentsProfile(
            userID: response.profile.userID,
            attributes: response.profile.attributes.compactMapValues(SegmentsValue.init(wire:)),
            createdSeq: response.profile.createdSeq,
            updatedSeq: response.profile.updatedSeq
        )
    }

    /// A user's most recently stored events, newest first (in the order the store accepted them), each with the
    /// instant it happened.
    /// - Parameters:
    ///   - userID: the user.
    ///   - limit: most events returned, 1 to 1000.
    /// - Throws: ``SegmentsClientError`` `notFound` when the user does not exist.
    public func recentEvents(of userID: String, limit: Int = 50) async throws(SegmentsClientError) -> [SegmentsEvent] {
        var request = Segments_V1_ListUserEventsRequest()
        request.userID = userID
        request.limit = UInt32(min(max(limit, 1), 1000))
        return try await self.callStore(ProfileStoreAPI.listUserEvents, request).events.map(SegmentsEvent.init(wire:))
    }

    /// Forgets a user: attributes, events and memberships.
    @discardableResult
    public func deleteProfile(_ userID: String) async throws(SegmentsClientError) -> SegmentsWriteResult {
        var request = Segments_V1_DeleteProfileRequest()
        request.userID = userID
        return SegmentsWriteResult(try await self.callStore(ProfileStoreAPI.deleteProfile, request))
    }

    /// Records events in one write. Refused items are reported in the result; the others are
    /// stored.
    @discardableResult
    public func track(_ events: [SegmentsEvent]) async throws(SegmentsClientError) -> SegmentsWriteResult {
        // Serialized by hand (see SegmentsEvent.appendWireBytes): building the generated messages
        // and serializing them was a quarter of `segclient import`'s CPU.
        var request: [UInt8] = []
        request.reserveCapacity(events.count * 96)
        for event in events {
            event.appendWireBytes(to: &request)
        }
        let timeout = self.configuration.options.requestTimeout
        let response = try await self.onStore(ProfileStoreAPI.trackEvents.name) { connection throws(RPCError) in
            try await connection.call(ProfileStoreAPI.trackEvents, serializedRequest: request, timeout: timeout)
        }
        return SegmentsWriteResult(response)
    }
}

// MARK: - Segments

extension SegmentsClient {
    /// How ``putSegment(_:expression:mode:)`` treats an existing or missing segment.
    public enum PutMode: Sendable {
        /// Create, or replace.
        case upsert
        /// Create only; `alreadyExists` when the name is taken.
        case create
        /// Replace only; `notFound` when there is no such segment.
        case update
    }

    /// Saves a segment after the store parsed and checked its expression.
    /// - Returns: the saved definition (expression in canonical form).
    /// - Throws: `invalidArgument` with the position and reason for a bad expression.
    @discardableResult
    public func putSegment(
        _ name: String,
        expression: String,
        mode: PutMode = .upsert
    ) async throws(SegmentsClientError) -> SegmentsDefinition {
        var request = Segments_V1_PutSegmentRequest()
        request.name = name
        request.expression = expression
        request.mode =
            switch mode {
            case .upsert: .upsert
            case .create: .create
            case .update: .update
            }
        return SegmentsDefinition(try await self.callStore(ProfileStoreAPI.putSegment, request).segment)
    }

    /// Reads one segment definition.
    public func segment(_ name: String) async throws(SegmentsClientError) -> SegmentsDefinition {
        var request = Segments_V1_GetSegmentRequest()
        request.name = name
        return SegmentsDefinition(try await self.callStore(ProfileStoreAPI.getSegment, request))
    }

    /// All segment definitions, sorted by name.
    public func segments() async throws(SegmentsClientError) -> [SegmentsDefinition] {
        try await self.callStore(ProfileStoreAPI.listSegments, .init()).segments.map(SegmentsDefinition.init)
    }

    /// Deletes a segment.
    @discardableResult
    public func deleteSegment(_ name: String) async throws(SegmentsClientError) -> SegmentsWriteResult {
        var request = Segments_V1_DeleteSegmentRequest()
        request.name = name
        return SegmentsWriteResult(try await self.callStore(ProfileStoreAPI.deleteSegment, request))
    }
}

// MARK: - Clock, info, feed

extension SegmentsClient {
    /// Sets the manual clock (test mode) to `ms` since the Unix epoch.
    @discardableResult
    public func setClock(toMs ms: Int64) async throws(SegmentsClientError) -> SegmentsClockReading {
        var request = Segments_V1_SetClockRequest()
        request.setMs = ms
        return SegmentsClockReading(try await self.callStore(ProfileStoreAPI.setClock, request))
    }

    /// Advances the manual clock (test mode) by `ms` milliseconds.
    @discardableResult
    public func advanceClock(byMs ms: Int64) async throws(SegmentsClientError) -> SegmentsClockReading {
        var request = Segments_V1_SetClockRequest()
        request.advanceMs = ms
        return SegmentsClockReading(try await self.callStore(ProfileStoreAPI.setClock, request))
    }

    /// The store's head, clock and sizes.
    public func storeInfo() async throws(SegmentsClientError) -> SegmentsStoreInfo {
        SegmentsStoreInfo(try await self.callStore(ProfileStoreAPI.getInfo, .init()))
    }

    /// The change log from `fromSeq` on, then live: the feed the evaluators follow, in wire messages (not part of
    /// the stable API).
    @_spi(SegmentsInternal)
    public func changes(
        fromSeq: UInt64,
        maxBatch: UInt32 = 0
    ) async throws(SegmentsClientError)
        -> SegmentsStream<Segments_V1_ChangeBatch>
    {
        var request = Segments_V1_SubscribeRequest()
        request.fromSeq = fromSeq
        request.maxBatch = maxBatch
        return try await self.streamStore(ProfileStoreAPI.subscribe, request)
    }

    /// A consistent snapshot of the store, in chunks: what a new evaluator shard starts from, in wire messages
    /// (not part of the stable API).
    @_spi(SegmentsInternal)
    public func snapshot(
        shardIndex: UInt32 = 0,
        shardCount: UInt32 = 1,
        includeEvents: Bool = true
    ) async throws(SegmentsClientError) -> SegmentsStream<Segments_V1_SnapshotChunk> {
        var request = Segments_V1_ReadSnapshotRequest()
        request.shardIndex = shardIndex
        request.shardCount = shardCount
        request.includeEvents = includeEvents
        return try await self.streamStore(ProfileStoreAPI.readSnapshot, request)
    }
}

extension SegmentsEvent {
    /// An event as the store returns it.
    init(wire event: Segments_V1_Event) {
        self.init(
            userID: event.userID,
            name: event.name,
            atMs: event.atMs,
            properties: event.properties.compactMapValues(SegmentsValue.init(wire:)),
            id: event.eventID.isEmpty ? nil : event.eventID
        )
    }
}
