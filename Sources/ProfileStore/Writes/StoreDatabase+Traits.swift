import DaemonSupport
import SegmentLanguage
import SegmentsSQL
import SegmentsWire

// Computed traits (segment language version 2): named values per user. A segment reads one as `trait("name")`,
// which stands for the trait's expression: the store keeps each segment's expression with its traits expanded
// (`segments.evaluated_expression`) and sends that to the evaluator, so the evaluator needs no notion of traits.
// A trait change re-saves, in the same write, every segment whose expansion it changes.

extension StoreDatabase {
    /// Creates or replaces a trait after checking its expression (unknown traits, cycles) and its name (segments,
    /// lists and traits share one namespace); re-saves the segments whose expansion changes.
    func putTrait(
        _ request: Segments_V1_PutTraitRequest
    ) async throws(ProfileStoreError) -> Segments_V1_PutTraitResponse {
        try InputValidation.checkSegmentName(request.name, kind: "trait")
        let definition: TraitDefinition
        do {
            definition = try TraitDefinition.parse(request.expression)
        } catch {
            throw ProfileStoreError(.invalidArgument, "invalid expression: \(error.description)")
        }
        let limit = self.maximumSegments
        return try await self.writer.write { transaction in
            let connection = transaction.connection
            try Self.checkNameFree(request.name, for: .trait, in: connection)
            var traits = try Self.traitDefinitions(in: connection)
            let exists = traits[request.name] != nil
            try Self.checkPutMode(request.mode, exists: exists, kind: "trait", name: request.name)
            if !exists, traits.count >= limit {
                throw ProfileStoreError(
                    .resourceExhausted,
                    "the store holds \(traits.count) traits, its limit (--max-segments); delete one first"
                )
            }
            do throws(SegmentLanguageError) {
                try SegmentCatalog.checkTrait(
                    name: request.name,
                    definition: definition,
                    existing: traits.mapValues { Set($0.referencedTraitNames) }
                )
            } catch {
                throw ProfileStoreError(.invalidArgument, "invalid expression: \(error.description)")
            }
            traits[request.name] = definition
            let now = transaction.now
            let upsert = try connection.cachedStatement(
                """
                INSERT INTO traits(name, expression, created_seq, updated_seq, created_at_ms, updated_at_ms)
                VALUES (?1, ?2, ?3, ?3, ?4, ?4)
                ON CONFLICT(name) DO UPDATE SET expression = ?2, updated_seq = ?3, updated_at_ms = ?4
                """
            )
            try upsert.bind(request.name, at: 1)
            try upsert.bind(definition.canonicalText, at: 2)
            try upsert.bind(Int64(transaction.nextSeq), at: 3)
            try upsert.bind(now, at: 4)
            try upsert.execute()
            guard let trait = try Self.trait(named: request.name, in: connection) else {
                throw ProfileStoreError(.storage, "trait '\(request.name)' vanished while being saved")
            }
            var entry = Segments_V1_ChangeEntry()
            entry.traitPut.name = trait.name
            entry.traitPut.expression = trait.expression
            var response = Segments_V1_PutTraitResponse()
            response.seq = try transaction.appendLog(&entry)
            response.trait = trait
            // The segments this trait reads into, with their new expansion, in the same write.
            if let last = try Self.resaveSegments(with: traits, in: transaction) { response.seq = last }
            return response
        }
    }

    /// Reads one trait.
    func getTrait(_ name: String) async throws(ProfileStoreError) -> Segments_V1_Trait {
        let trait = try await self.readers.read { connection in try Self.trait(named: name, in: connection) }
        guard let trait else { throw ProfileStoreError(.notFound, "no trait '\(name)'") }
        return trait
    }

    /// All traits, sorted by name.
    func listTraits() async throws(ProfileStoreError) -> [Segments_V1_Trait] {
        try await self.readers.read { connection in try Self.allTraits(in: connection) }
    }

    /// Deletes a trait; refused while a segment or another trait reads it.
    func deleteTrait(_ name: String) async throws(ProfileStoreError) -> Segments_V1_WriteResponse {
        try await self.writer.write { transaction in
            let connection = transaction.connection
            let traits = try Self.traitDefinitions(in: connection)
            guard traits[name] != nil else { throw ProfileStoreError(.notFound, "no trait '\(name)'") }
            var users = traits.filter { $0.key != name && $0.value.referencedTraitNames.contains(name) }.keys.sorted()
            for segment in try Self.allSegments(in: connection) {
                let reads = (try? SegmentExpression.parse(segment.expression))?.referencedTraitNames ?? []
                if reads.contains(name) { users.append(segment.name) }
            }
            guard users.isEmpty else {
                throw ProfileStoreError(
                    .failedPrecondition,
                    "trait '\(name)' is used by \(users.sorted().map { "'\($0)'" }.joined(separator: ", "))"
                )
            }
            let delete = try connection.cachedStatement("DELETE FROM traits WHERE name = ?")
            try delete.bind(name, at: 1)
            try delete.execute()
            var entry = Segments_V1_ChangeEntry()
            entry.traitDeleted.name = name
            var response = Segments_V1_WriteResponse()
            response.seq = try transaction.appendLog(&entry)
            response.accepted = 1
            return response
        }
    }

    /// Every trait's value for one user at the store's clock, computed from the user's attributes and events.
    ///
    /// Runs as a job of the writer, which alone holds the newest part of the per-user index (see
    /// ``DeferredUserIndex``); it writes nothing.
    func traitValues(ofUser userID: String) async throws(ProfileStoreError) -> Segments_V1_GetTraitValuesResponse {
        try InputValidation.checkUserID(userID)
        return try await self.writer.write { transaction in
            let connection = transaction.connection
            guard let key = try transaction.userKeys.key(for: userID, in: connection) else {
                throw ProfileStoreError(.notFound, "no user '\(userID)'")
            }
            let select = try connection.cachedStatement("SELECT attributes FROM users WHERE user_key = ?")
            try select.bind(key, at: 1)
            let attributes = try select.step() ? try Self.decodeAttributes(select.blob(at: 0)) : [:]
            select.reset()
            var events: [EventRecord] = []
            try Self.forEachEventEntry(ofUser: userID, key: key, in: transaction, newestFirst: false) { _, stored in
                events += stored.map(EventRecord.init(wire:))
                return true
            }
            let traits = try Self.traitDefinitions(in: connection)
            let now = transaction.now
            var response = Segments_V1_GetTraitValuesResponse()
            response.nowMs = now
            response.seq = transaction.headSeq
            let values = attributes.compactMapValues(AttributeValue.init(wire:))
            for name in traits.keys.sorted() {
                var item = Segments_V1_TraitValue()
                item.name = name
                do throws(SegmentLanguageError) {
                    let value = try traits[name]!.value(
                        attributes: values,
                        events: events,
                        nowMs: now,
                        traits: traits
                    )
                    if let value { item.value = value.wire }
                } catch {
                    throw ProfileStoreError(.storage, "trait '\(name)' cannot be evaluated: \(error.message)")
                }
                response.values.append(item)
            }
            return response
        }
    }

    /// A segment's expression with its traits expanded, for the evaluator; `nil` when it reads no trait.
    static func evaluatedExpression(
        of expression: SegmentExpression,
        traits: [String: TraitDefinition],
        segment: String
    ) throws(ProfileStoreError) -> String? {
        guard !expression.referencedTraits.isEmpty else { return nil }
        do {
            return try expression.expandingTraits(traits).canonicalText
        } catch {
            throw ProfileStoreError(
                .invalidArgument,
                "segment '\(segment)' with its traits written out: \(error.reason)"
            )
        }
    }

    /// Re-saves every segment whose expansion differs under `traits`, each with a `SegmentPut` entry.
    /// - Returns: The last entry's number, or `nil` when none changed.
    private static func resaveSegments(
        with traits: [String: TraitDefinition],
        in transaction: WriteTransaction
    ) throws -> UInt64? {
        let connection = transaction.connection
        let update = try connection.cachedStatement(
            "UPDATE segments SET evaluated_expression = ?1, updated_seq = ?2, updated_at_ms = ?3 WHERE name = ?4"
        )
        var last: UInt64?
        for segment in try Self.allSegments(in: connection) {
            guard let expression = try? SegmentExpression.parse(segment.expression),
                let evaluated = try Self.evaluatedExpression(of: expression, traits: traits, segment: segment.name),
                evaluated != segment.evaluatedExpression
            else { continue }
            try update.bind(evaluated, at: 1)
            try update.bind(Int64(transaction.nextSeq), at: 2)
            try update.bind(transaction.now, at: 3)
            try update.bind(segment.name, at: 4)
            try update.execute()
            update.reset()
            guard let saved = try Self.segment(named: segment.name, in: connection) else { continue }
            var entry = Segments_V1_ChangeEntry()
            entry.segmentPut.segment = saved
            last = try transaction.appendLog(&entry)
        }
        return last
    }

    /// The saved traits by name, parsed (a saved expression that no longer parses is left out).
    static func traitDefinitions(in connection: any SQLConnection) throws -> [String: TraitDefinition] {
        var out: [String: TraitDefinition] = [:]
        for trait in try Self.allTraits(in: connection) {
            if let definition = try? TraitDefinition.parse(trait.expression) { out[trait.name] = definition }
        }
        return out
    }

    static func allTraits(in connection: any SQLConnection) throws -> [Segments_V1_Trait] {
        let select = try connection.cachedStatement(
            "SELECT name, expression, created_seq, updated_seq, created_at_ms, updated_at_ms FROM traits ORDER BY name"
        )
        defer { select.reset() }
        var traits: [Segments_V1_Trait] = []
        while try select.step() { traits.append(Self.trait(from: select)) }
        return traits
    }

    static func trait(named name: String, in connection: any SQLConnection) throws -> Segments_V1_Trait? {
        let select = try connection.cachedStatement(
            """
            SELECT name, expression, created_seq, updated_seq, created_at_ms, updated_at_ms FROM traits WHERE name = ?
            """
        )
        defer { select.reset() }
        try select.bind(name, at: 1)
        return try select.step() ? Self.trait(from: select) : nil
    }

    private static func trait(from row: any SQLStatement) -> Segments_V1_Trait {
        var trait = Segments_V1_Trait()
        trait.name = row.string(at: 0)
        trait.expression = row.string(at: 1)
        trait.createdSeq = UInt64(row.int64(at: 2))
        trait.updatedSeq = UInt64(row.int64(at: 3))
        trait.createdAtMs = row.int64(at: 4)
        trait.updatedAtMs = row.int64(at: 5)
        return trait
    }
}
