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
    private var profileRows: KeysetPages<Int64>?
    private var listRows: KeysetPages<(listKey: Int64, userKey: Int64)>?
    private var eventRows: KeysetPages<Int64>?

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
        self.profileRows = KeysetPages(
            "SELECT user_key, id, attributes, created_seq, updated_seq FROM users WHERE user_key > ? ORDER BY user_key",
            after: Int64.min,
            rowsPerPage: StoreDatabase.rowsPerQuery,
            bind: { statement, after in try statement.bind(after, at: 1) },
            readKey: { $0.int64(at: 0) }
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
                guard let profileRows else { return nil }
                while chunk.profiles.count < Self.profilesPerChunk {
                    guard let row = try profileRows.next(in: connection) else {
                        self.phase = .lists
                        self.profileRows = nil
                        self.listRows = self.listMemberPages()
                        break
                    }
                    let id = row.string(at: 1)
                    guard self.owns(id) else { continue }
                    var profile = Segments_V1_Profile()
                    profile.userID = id
                    profile.attributes = try StoreDatabase.decodeAttributes(row.blob(at: 2))
                    profile.createdSeq = UInt64(row.int64(at: 3))
                    profile.updatedSeq = UInt64(row.int64(at: 4))
                    chunk.profiles.append(profile)
                }
            case .lists:
                guard let listRows else { return nil }
                var count = 0
                while count < Self.eventsPerChunk {
                    guard let row = try listRows.next(in: connection) else {
                        self.phase = self.includeEvents ? .events : .done
                        self.listRows = nil
                        self.eventRows = self.includeEvents ? self.eventEntryPages(connection) : nil
                        break
                    }
                    let (name, id) = (row.string(at: 2), row.string(at: 3))
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
                guard let eventRows else { return nil }
                while chunk.events.count < Self.eventsPerChunk {
                    guard let row = try eventRows.next(in: connection) else {
                        self.phase = .done
                        self.eventRows = nil
                        break
                    }
                    let entry = try Segments_V1_ChangeEntry(serializedBytes: row.blob(at: 1))
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

    /// Every list's members, list by list.
    private func listMemberPages() -> KeysetPages<(listKey: Int64, userKey: Int64)> {
        KeysetPages(
            """
            SELECT m.list_key, m.user_key, l.name, u.id FROM list_members m
            JOIN lists l ON l.list_key = m.list_key JOIN users u ON u.user_key = m.user_key
            WHERE (m.list_key, m.user_key) > (?, ?) ORDER BY m.list_key, m.user_key
            """,
            after: (listKey: Int64.min, userKey: Int64.min),
            rowsPerPage: StoreDatabase.rowsPerQuery,
            bind: { statement, after in
                try statement.bind(after.listKey, at: 1)
                try statement.bind(after.userKey, at: 2)
            },
            readKey: { (listKey: $0.int64(at: 0), userKey: $0.int64(at: 1)) }
        )
    }

    /// The entries that stored events, up to the snapshot's head: few per query where a query's rows are
    /// all fetched at once (PostgreSQL).
    private func eventEntryPages(_ connection: any SQLConnection) -> KeysetPages<Int64> {
        KeysetPages(
            "SELECT seq, payload FROM change_log WHERE seq > ? AND kind = ? AND seq <= ? ORDER BY seq",
            after: 0,
            rowsPerPage: connection.streamsRows ? StoreDatabase.rowsPerQuery : StoreDatabase.logEntriesPerQuery,
            bind: { [headSeq] statement, after in
                try statement.bind(after, at: 1)
                try statement.bind(ChangeKind.eventsTracked.rawValue, at: 2)
                try statement.bind(Int64(headSeq), at: 3)
            },
            readKey: { $0.int64(at: 0) }
        )
    }

    /// Ends the read transaction (also after a failure or cancellation).
    func finish(_ connection: any SQLConnection) {
        self.profileRows = nil
        self.listRows = nil
        self.eventRows = nil
        self.phase = .done
        if connection.isInTransaction {
            try? connection.execute("COMMIT")
        }
    }
}
