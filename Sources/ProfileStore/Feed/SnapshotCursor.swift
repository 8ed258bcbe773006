import SegmentsSQL
import SegmentsWire
import SwiftProtobuf

/// Reads a consistent snapshot in chunks inside one read transaction: first the head, clock,
/// segments and list names, then profiles, then list members, then (optionally) events, each
/// filtered to one shard.
///
/// `@unchecked Sendable`: it is used by one snapshot call at a time, on whichever reader thread
/// runs the next chunk, never concurrently.
final class SnapshotCursor: @unchecked Sendable {
    private enum Phase {
        case start, profiles, lists, events, done
    }

    private let shardIndex: UInt32
    private let shardCount: UInt32
    private let includeEvents: Bool
    private var phase = Phase.start
    private var headSeq: UInt64 = 0
    private var statement: (any SQLStatement)?

    /// Profiles per chunk, and events (or list members) per chunk.
    static let profilesPerChunk = 2000
    static let eventsPerChunk = 10_000

    init(_ request: Segments_V1_ReadSnapshotRequest) {
        self.shardIndex = request.shardIndex
        self.shardCount = request.shardCount
        self.includeEvents = request.includeEvents
    }

    private func owns(_ userID: String) -> Bool {
        self.shardCount <= 1 || UserShard.index(of: userID, shardCount: self.shardCount) == self.shardIndex
    }

    /// Begins the read transaction and returns the first chunk (head, segments).
    func begin(_ connection: any SQLConnection, nowMs: Int64, manualClock: Bool) throws -> Segments_V1_SnapshotChunk {
        try connection.execute(connection.beginSnapshotSQL)
        let head = try connection.prepare("SELECT coalesce(max(seq), 0) FROM change_log")
        _ = try head.step()
        self.headSeq = UInt64(head.int64(at: 0))
        var chunk = Segments_V1_SnapshotChunk()
        chunk.seq = self.headSeq
        chunk.nowMs = nowMs
        chunk.manualClock = manualClock
        if manualClock {
            // The manual clock as of this snapshot's head, not as of now.
            let saved = try connection.prepare("SELECT value FROM meta WHERE key = 'manual_clock_ms'")
            if try saved.step() {
                chunk.nowMs = saved.int64(at: 0)
            }
        }
        chunk.segments = try StoreDatabase.allSegments(in: connection)
        // Names first, so empty lists are known too; members follow the profiles.
        chunk.lists = try StoreDatabase.allLists(in: connection).map {
            var list = Segments_V1_ListSnapshot()
            list.name = $0.name
            return list
        }
        chunk.webhooks = try StoreDatabase.allWebhooks(in: connection)
        self.statement = try connection.prepare(
            "SELECT id, attributes, created_seq, updated_seq FROM users ORDER BY user_key"
        )
        self.phase = .profiles
        return chunk
    }

    /// The next chunk, or `nil` when the snapshot is complete.
    func next(_ connection: any SQLConnection) throws -> Segments_V1_SnapshotChunk? {
        var chunk = Segments_V1_SnapshotChunk()
        chunk.seq = self.headSeq
        while true {
            switch self.phase {
            case .start, .done:
                return nil
            case .profiles:
                guard let statement else { return nil }
                while chunk.profiles.count < Self.profilesPerChunk {
                    guard try statement.step() else {
                        self.phase = .lists
                        self.statement = try connection.prepare(
                            """
                            SELECT l.name, u.id FROM list_members m
                            JOIN lists l ON l.list_key = m.list_key JOIN users u ON u.user_key = m.user_key
                            ORDER BY m.list_key
                            """
                        )
                        break
                    }
                    let id = statement.string(at: 0)
                    guard self.owns(id) else { continue }
                    var profile = Segments_V1_Profile()
                    profile.userID = id
                    profile.attributes = try StoreDatabase.decodeAttributes(statement.blob(at: 1))
                    profile.createdSeq = UInt64(statement.int64(at: 2))
                    profile.updatedSeq = UInt64(statement.int64(at: 3))
                    chunk.profiles.append(profile)
                }
            case .lists:
                guard let statement else { return nil }
                var count = 0
                while count < Self.eventsPerChunk {
                    guard try statement.step() else {
                        self.phase = self.includeEvents ? .events : .done
                        self.statement =
                            self.includeEvents
                            ? try connection.prepare(
                                "SELECT payload FROM change_log WHERE kind = ? AND seq <= ? ORDER BY seq"
                            ) : nil
                        try self.statement?.bind(ChangeKind.eventsTracked.rawValue, at: 1)
                        try self.statement?.bind(Int64(self.headSeq), at: 2)
                        break
                    }
                    let (name, id) = (statement.string(at: 0), statement.string(at: 1))
                    guard self.owns(id) else { continue }
                    if chunk.lists.last?.name != name {
                        var list = Segments_V1_ListSnapshot()
                        list.name = name
                        chunk.lists.append(list)
                    }
                    chunk.lists[chunk.lists.count - 1].userIds.append(id)
                    count += 1
                }
            case .events:
                guard let statement else { return nil }
                while chunk.events.count < Self.eventsPerChunk {
                    guard try statement.step() else {
                        self.phase = .done
                        self.statement = nil
                        break
                    }
                    let entry = try Segments_V1_ChangeEntry(serializedBytes: statement.blob(at: 0))
                    for event in entry.eventsTracked.events where self.owns(event.userID) {
                        chunk.events.append(event)
                    }
                }
            }
            if !chunk.profiles.isEmpty || !chunk.lists.isEmpty || !chunk.events.isEmpty {
                return chunk
            }
            if self.phase == .done {
                return nil
            }
        }
    }

    /// Ends the read transaction (also after a failure or cancellation).
    func finish(_ connection: any SQLConnection) {
        self.statement = nil
        self.phase = .done
        if connection.isInTransaction {
            try? connection.execute("COMMIT")
        }
    }
}
