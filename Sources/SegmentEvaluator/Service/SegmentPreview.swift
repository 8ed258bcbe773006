import DaemonSupport
import SegmentEngine
import SegmentLanguage
import SegmentsRPC
import SegmentsWire

/// Evaluates an unsaved expression over every user of this shard, exactly, as of a fresh
/// snapshot of the store: a temporary engine gets the saved segments (for `in_segment`), the
/// expression, and the snapshot's profiles and events at the snapshot's clock. Nothing is kept.
enum SegmentPreview {
    /// The name the previewed expression is evaluated under (not a valid segment name, so it can
    /// never clash with a saved one).
    static let name = "_preview"

    static func run(
        _ request: Segments_V1_PreviewRequest,
        storeSocketPath: String,
        storeTLS: RPCTLSFiles?,
        shardIndex: UInt32,
        shardCount: UInt32
    ) async throws -> Segments_V1_PreviewResponse {
        let expression: SegmentExpression
        do {
            expression = try SegmentExpression.parse(request.expression)
        } catch {
            throw RPCError(.invalidArgument, "invalid expression: \(error.description)")
        }
        let connection = try await RPCConnection.connect(to: storeSocketPath, tls: storeTLS)
        var snapshotRequest = Segments_V1_ReadSnapshotRequest()
        snapshotRequest.shardIndex = shardIndex
        snapshotRequest.shardCount = shardCount
        snapshotRequest.includeEvents = true
        var first: Segments_V1_SnapshotChunk?
        var profiles: [Segments_V1_Profile] = []
        var events: [(userID: String, event: EventRecord)] = []
        var lists: [String: [String]] = [:]
        do {
            for try await chunk in connection.stream(ProfileStoreAPI.readSnapshot, snapshotRequest) {
                if first == nil { first = chunk }
                profiles += chunk.profiles
                for list in chunk.lists {
                    lists[list.name, default: []] += list.userIds
                }
                events += chunk.events.map { ($0.userID, EventRecord(wire: $0)) }
            }
        } catch {
            await connection.close()
            throw error
        }
        await connection.close()
        guard let first else {
            throw RPCError(.unavailable, "the store sent an empty snapshot")
        }
        var catalog: [String: Set<String>] = lists.mapValues { _ in [] }
        for segment in first.segments {
            catalog[segment.name] = Set(
                (try? SegmentExpression.parse(segment.expression))?.referencedSegmentNames ?? []
            )
        }
        do {
            try SegmentCatalog.check(name: Self.name, expression: expression, existing: catalog)

        } catch {
            throw RPCError(.invalidArgument, "invalid expression: \(error.description)")
        }
        // The snapshot carries no trait definitions to expand a preview with.
        if let reference = expression.referencedTraits.first {
            throw RPCError(
                .invalidArgument,
                "invalid expression: \(reference.position.line):\(reference.position.column): trait(\"\(reference.name)\"): "
                    + "a preview cannot read traits; save the segment to see its members"
            )
        }

        let engine = MembershipEngine(nowMs: first.nowMs, appliedSeq: 0)
        for (name, members) in lists {
            engine.createList(name: name, seq: 1)
            engine.addToList(name: name, userIDs: members, seq: 1)
        }
        for segment in first.segments {
            if let saved = try? SegmentExpression.parse(segment.evaluated) {
                engine.putSegment(name: segment.name, expression: saved, seq: 1)
            }
        }
        engine.putSegment(name: Self.name, expression: expression, seq: 1)
        for profile in profiles {
            engine.upsertProfile(
                userID: profile.userID,
                set: profile.attributes.compactMapValues(AttributeValue.init(wire:)),
                seq: 1
            )
        }
        engine.addEvents(events, seq: 1)

        var response = Segments_V1_PreviewResponse()
        response.count = UInt64(engine.memberCount(of: Self.name))
        let sampleSize = request.sampleSize == 0 ? 10 : Int(request.sampleSize)
        response.sample = Array(engine.members(of: Self.name).prefix(sampleSize))
        return response
    }
}
