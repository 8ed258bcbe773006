import SegmentLanguage
import SegmentsSQL
import SegmentsWire

extension StoreDatabase {
    /// Creates or replaces a segment after parsing and checking its expression against the
    /// saved segments (unknown `in_segment` names and cycles are refused).
    func putSegment(
        _ request: Segments_V1_PutSegmentRequest
    ) async throws(ProfileStoreError)
        -> Segments_V1_PutSegmentResponse
    {
        try InputValidation.checkSegmentName(request.name)
        let expression: SegmentExpression
        do {
            expression = try SegmentExpression.parse(request.expression)
        } catch {
            throw ProfileStoreError(.invalidArgument, "invalid expression: \(error.description)")
        }
        let limit = self.maximumSegments
        return try await self.writer.write { transaction in
            let connection = transaction.connection
            try Self.checkNameFree(request.name, for: .segment, in: connection)
            // Traits are read (and parsed) only for an expression that reads some.
            let traits = expression.referencedTraits.isEmpty ? [:] : try Self.traitDefinitions(in: connection)
            var catalog = try Self.catalog(connection)
            let exists = catalog[request.name] != nil
            if !exists, catalog.count >= limit {
                throw ProfileStoreError(
                    .resourceExhausted,
                    "the store holds \(catalog.count) segments, its limit (--max-segments); delete one first"
                )
            }
            // Lists can be named by `in_segment` too; they refer to nothing.
            for list in try Self.allLists(in: connection) {
                catalog[list.name] = []
            }
            try Self.checkPutMode(request.mode, exists: exists, kind: "segment", name: request.name)
            do throws(SegmentLanguageError) {
                try SegmentCatalog.check(name: request.name, expression: expression, existing: catalog)
                try SegmentCatalog.checkTraits(of: expression, traits: Set(traits.keys))
            } catch {
                throw ProfileStoreError(.invalidArgument, "invalid expression: \(error.description)")
            }
            let evaluated = try Self.evaluatedExpression(of: expression, traits: traits, segment: request.name)
            let seq = transaction.nextSeq
            let now = transaction.now
            let upsert = try connection.cachedStatement(
                """
                INSERT INTO segments(
                    name, expression, created_seq, updated_seq, created_at_ms, updated_at_ms, evaluated_expression
                )
                VALUES (?1, ?2, ?3, ?3, ?4, ?4, ?5)
                ON CONFLICT(name) DO UPDATE SET
                    expression = ?2, updated_seq = ?3, updated_at_ms = ?4, evaluated_expression = ?5
                """
            )
            try upsert.bind(request.name, at: 1)
            try upsert.bind(expression.canonicalText, at: 2)
            try upsert.bind(Int64(seq), at: 3)
            try upsert.bind(now, at: 4)
            try upsert.bind(evaluated, at: 5)
            try upsert.execute()
            guard let segment = try Self.segment(named: request.name, in: connection) else {
                throw ProfileStoreError(.storage, "segment '\(request.name)' vanished while being saved")
            }
            var entry = Segments_V1_ChangeEntry()
            entry.segmentPut.segment = segment
            var response = Segments_V1_PutSegmentResponse()
            response.seq = try transaction.appendLog(&entry)
            response.segment = segment
            return response
        }
    }

    /// Refuses a create of an existing definition and an update of a missing one.
    static func checkPutMode(
        _ mode: Segments_V1_PutMode,
        exists: Bool,
        kind: String,
        name: String
    ) throws(ProfileStoreError) {
        switch mode {
        case .create where exists: throw ProfileStoreError(.alreadyExists, "\(kind) '\(name)' already exists")
        case .update where !exists: throw ProfileStoreError(.notFound, "no \(kind) '\(name)'")
        default: break
        }
    }

    /// Reads one segment.
    func getSegment(_ name: String) async throws(ProfileStoreError) -> Segments_V1_Segment {
        let segment = try await self.readers.read { connection in
            try Self.segment(named: name, in: connection)
        }
        guard let segment else {
            throw ProfileStoreError(.notFound, "no segment '\(name)'")
        }
        return segment
    }

    /// All segments, sorted by name.
    func listSegments() async throws(ProfileStoreError) -> [Segments_V1_Segment] {
        try await self.readers.read { connection in
            try Self.allSegments(in: connection)
        }
    }

    /// Deletes a segment; refused while another segment refers to it.
    func deleteSegment(_ name: String) async throws(ProfileStoreError) -> Segments_V1_WriteResponse {
        try await self.writer.write { transaction in
            let connection = transaction.connection
            let catalog = try Self.catalog(connection)
            guard catalog[name] != nil else {
                throw ProfileStoreError(.notFound, "no segment '\(name)'")
            }
            let dependents = try Self.segments(referring: name, in: connection)
            guard dependents.isEmpty else {
                throw ProfileStoreError(
                    .failedPrecondition,
                    "segment '\(name)' is used by \(dependents.map { "'\($0)'" }.joined(separator: ", "))"
                )
            }
            let delete = try connection.cachedStatement("DELETE FROM segments WHERE name = ?")
            try delete.bind(name, at: 1)
            try delete.execute()
            var entry = Segments_V1_ChangeEntry()
            entry.segmentDeleted.name = name
            var response = Segments_V1_WriteResponse()
            response.seq = try transaction.appendLog(&entry)
            response.accepted = 1
            return response
        }
    }

    /// What can own a name: segments, traits and static lists share one namespace.
    enum NameOwner {
        case segment, trait, list
    }

    /// Refuses `name` for a definition of kind `kind` when a definition of another kind has it.
    static func checkNameFree(_ name: String, for kind: NameOwner, in connection: any SQLConnection) throws {
        if kind != .list, try Self.listKey(named: name, in: connection) != nil {
            throw ProfileStoreError(.alreadyExists, "'\(name)' is already the name of a static list")
        }
        if kind != .segment, try Self.segment(named: name, in: connection) != nil {
            throw ProfileStoreError(.alreadyExists, "'\(name)' is already the name of a segment")
        }
        if kind != .trait, try Self.trait(named: name, in: connection) != nil {
            throw ProfileStoreError(.alreadyExists, "'\(name)' is already the name of a trait")
        }
    }

    /// The segments whose expressions name `name` with `in_segment`, sorted.
    static func segments(referring name: String, in connection: any SQLConnection) throws -> [String] {
        try Self.catalog(connection).filter { $0.key != name && $0.value.contains(name) }.keys.sorted()
    }

    /// Every saved segment mapped to the names it references with `in_segment`.
    private static func catalog(_ connection: any SQLConnection) throws -> [String: Set<String>] {
        var catalog: [String: Set<String>] = [:]
        for segment in try Self.allSegments(in: connection) {
            // Saved expressions were checked when saved; one that no longer parses references nothing.
            let references = (try? SegmentExpression.parse(segment.expression))?.referencedSegmentNames ?? []
            catalog[segment.name] = Set(references)
        }
        return catalog
    }

    static func allSegments(in connection: any SQLConnection) throws -> [Segments_V1_Segment] {
        let select = try connection.cachedStatement(
            """
            SELECT name, expression, created_seq, updated_seq, created_at_ms, updated_at_ms, evaluated_expression
            FROM segments ORDER BY name
            """
        )
        defer { select.reset() }
        var segments: [Segments_V1_Segment] = []
        while try select.step() {
            segments.append(Self.segment(from: select))
        }
        return segments
    }

    static func segment(named name: String, in connection: any SQLConnection) throws -> Segments_V1_Segment? {
        let select = try connection.cachedStatement(
            """
            SELECT name, expression, created_seq, updated_seq, created_at_ms, updated_at_ms, evaluated_expression
            FROM segments WHERE name = ?
            """
        )
        defer { select.reset() }
        try select.bind(name, at: 1)
        return try select.step() ? Self.segment(from: select) : nil
    }

    private static func segment(from row: any SQLStatement) -> Segments_V1_Segment {
        var segment = Segments_V1_Segment()
        segment.name = row.string(at: 0)
        segment.expression = row.string(at: 1)
        segment.createdSeq = UInt64(row.int64(at: 2))
        segment.updatedSeq = UInt64(row.int64(at: 3))
        segment.createdAtMs = row.int64(at: 4)
        segment.updatedAtMs = row.int64(at: 5)
        segment.evaluatedExpression = row.string(at: 6)  // NULL (no trait read) is ""
        return segment
    }
}
