import SegmentsWire

/// One computed trait's value for a user (see ``SegmentsClient/traitValues(of:)``).
public struct SegmentsTraitValue: Sendable, Hashable {
    /// The trait's name.
    public var name: String
    /// Its value; `nil` when missing (an absent attribute, an average of no events, a division by zero).
    public var value: SegmentsValue?

    public init(name: String, value: SegmentsValue?) {
        self.name = name
        self.value = value
    }
}

/// Every computed trait's value for one user, at one instant of the store's clock.
public struct SegmentsTraitValues: Sendable, Hashable {
    /// One per saved trait, sorted by name.
    public var values: [SegmentsTraitValue]
    /// The instant they are for, ms since the Unix epoch (store clock).
    public var nowMs: Int64
    /// The change-log head they reflect.
    public var seq: UInt64

    public init(values: [SegmentsTraitValue], nowMs: Int64, seq: UInt64) {
        self.values = values
        self.nowMs = nowMs
        self.seq = seq
    }

    /// The value of the trait `name`; `nil` when missing or not a trait.
    public subscript(name: String) -> SegmentsValue? {
        values.first { $0.name == name }?.value
    }
}

/// What saving a trait did (``SegmentsClient/putTrait(_:expression:mode:)``).
public struct SegmentsTraitWrite: Sendable, Hashable {
    /// The saved definition (expression in canonical form).
    public var trait: SegmentsDefinition
    /// The write's change-log number: the last of the segments re-saved with the trait, or the trait's own entry.
    /// Reads with `minSeq` at it see the segments that read the trait follow the change.
    public var seq: UInt64

    public init(trait: SegmentsDefinition, seq: UInt64) {
        self.trait = trait
        self.seq = seq
    }
}

extension SegmentsClient {
    /// Saves a computed trait (a named value per user, read by segments as `trait("name")`) after the store parsed
    /// and checked its expression; segments reading it are re-evaluated with the new expression.
    /// - Returns: the saved definition and the write's change-log number.
    /// - Throws: `invalidArgument` with the position and reason for a bad expression, a cycle or an unknown trait;
    ///   `alreadyExists` when a segment or list has the name.
    @discardableResult
    public func putTrait(
        _ name: String,
        expression: String,
        mode: PutMode = .upsert
    ) async throws(SegmentsClientError) -> SegmentsTraitWrite {
        var request = Segments_V1_PutTraitRequest()
        request.name = name
        request.expression = expression
        request.mode =
            switch mode {
            case .upsert: .upsert
            case .create: .create
            case .update: .update
            }
        let response = try await self.callStore(ProfileStoreAPI.putTrait, request)
        return SegmentsTraitWrite(trait: SegmentsDefinition(response.trait), seq: response.seq)
    }

    /// Reads one trait definition.
    public func trait(_ name: String) async throws(SegmentsClientError) -> SegmentsDefinition {
        var request = Segments_V1_GetTraitRequest()
        request.name = name
        return SegmentsDefinition(try await self.callStore(ProfileStoreAPI.getTrait, request))
    }

    /// All trait definitions, sorted by name.
    public func traits() async throws(SegmentsClientError) -> [SegmentsDefinition] {
        try await self.callStore(ProfileStoreAPI.listTraits, .init()).traits.map(SegmentsDefinition.init)
    }

    /// Deletes a trait; `failedPrecondition` while a segment or another trait reads it.
    @discardableResult
    public func deleteTrait(_ name: String) async throws(SegmentsClientError) -> SegmentsWriteResult {
        var request = Segments_V1_DeleteTraitRequest()
        request.name = name
        return SegmentsWriteResult(try await self.callStore(ProfileStoreAPI.deleteTrait, request))
    }

    /// Every trait's value for a user now (the store's clock), computed from the user's attributes and events.
    /// - Throws: `notFound` when the user does not exist.
    public func traitValues(of userID: String) async throws(SegmentsClientError) -> SegmentsTraitValues {
        var request = Segments_V1_GetTraitValuesRequest()
        request.userID = userID
        let response = try await self.callStore(ProfileStoreAPI.getTraitValues, request)
        return SegmentsTraitValues(
            values: response.values.map {
                SegmentsTraitValue(name: $0.name, value: $0.hasValue ? SegmentsValue(wire: $0.value) : nil)
            },
            nowMs: response.nowMs,
            seq: response.seq
        )
    }
}
