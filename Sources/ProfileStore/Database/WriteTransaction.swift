import SegmentsSQL
import SegmentsWire
import SwiftProtobuf

/// What a write job sees: the writer connection inside an open transaction, the next change-log
/// number, the clock and the user-key cache. Used only on the writer thread.
final class WriteTransaction {
    let connection: any SQLConnection
    let clock: StoreClock
    let userKeys: UserKeyCache
    let userIndex: DeferredUserIndex
    /// The last change-log number allocated (committed or pending in this transaction).
    private(set) var headSeq: UInt64
    /// A manual-clock move made in this transaction, applied to ``clock`` after commit.
    var pendingManualNow: Int64?

    init(
        connection: any SQLConnection,
        clock: StoreClock,
        userKeys: UserKeyCache,
        userIndex: DeferredUserIndex,
        headSeq: UInt64
    ) {
        self.connection = connection
        self.clock = clock
        self.userKeys = userKeys
        self.userIndex = userIndex
        self.headSeq = headSeq
    }

    /// Now, as seen by this transaction (a clock move made in it included).
    var now: Int64 {
        self.pendingManualNow ?? self.clock.now()
    }

    /// Appends `entry` to the change log with the next number and the current time.
    /// - Returns: the entry's number.
    @discardableResult
    func appendLog(_ entry: inout Segments_V1_ChangeEntry) throws -> UInt64 {
        let seq = self.headSeq + 1
        entry.seq = seq
        entry.committedAtMs = self.now
        let bytes: [UInt8] = try entry.serializedBytes()
        return try self.appendLog(kind: entry.kind) { _, _ in bytes }
    }

    /// Appends an entry serialized by the caller (e.g. spliced from request bytes).
    /// - Parameters:
    ///   - kind: the kind of change.
    ///   - serialize: given the entry's number and commit time, returns the serialized
    ///     `ChangeEntry`, which must carry that number and time.
    /// - Returns: the entry's number.
    @discardableResult
    func appendLog(
        kind: ChangeKind,
        serialize: (_ seq: UInt64, _ committedAtMs: Int64) throws -> [UInt8]
    ) throws
        -> UInt64
    {
        let seq = self.headSeq + 1
        let committedAtMs = self.now
        let payload = try serialize(seq, committedAtMs)
        let statement = try self.connection.cachedStatement(
            "INSERT INTO change_log(seq, committed_at_ms, kind, payload) VALUES (?, ?, ?, ?)"
        )
        try statement.bind(Int64(seq), at: 1)
        try statement.bind(committedAtMs, at: 2)
        try statement.bind(kind.rawValue, at: 3)
        try statement.bind(payload, at: 4)
        try statement.execute()
        self.headSeq = seq
        return seq
    }

    /// The next change-log number, which the next ``appendLog(_:)`` will use.
    var nextSeq: UInt64 {
        self.headSeq + 1
    }

    /// Records that log entry `seq` mentions the user (so deleting the user can scrub it).
    func noteUserInLog(userKey: Int64, seq: UInt64) {
        self.userIndex.noteUser(userKey, inEntry: seq)
    }

    /// Adds `delta` to one of the counters kept in `meta` (e.g. `event_count`).
    func addToCounter(_ key: String, _ delta: Int64) throws {
        guard delta != 0 else { return }
        let statement = try self.connection.cachedStatement(
            "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = meta.value + ?2"
        )
        try statement.bind(key, at: 1)
        try statement.bind(delta, at: 2)
        try statement.execute()
    }

    /// Restores the sequence counter after a job was rolled back.
    func rewind(to headSeq: UInt64) {
        self.headSeq = headSeq
    }
}

/// The kind of a change-log entry, stored beside its payload so readers can pick entries
/// without decoding them. Values are the `ChangeEntry.change` field numbers.
enum ChangeKind: Int64 {
    case profilesUpserted = 3
    case userDeleted = 4
    case eventsTracked = 5
    case segmentPut = 6
    case segmentDeleted = 7
    case clockMoved = 8
    case listCreated = 9
    case listMembersChanged = 10
    case listDeleted = 11
    case webhookAdded = 12
    case webhookRemoved = 13
    case traitPut = 14
    case traitDeleted = 15
    case none = 0
}

extension Segments_V1_ChangeEntry {
    /// The kind of change this entry holds.
    var kind: ChangeKind {
        switch self.change {
        case .profilesUpserted: .profilesUpserted
        case .userDeleted: .userDeleted
        case .eventsTracked: .eventsTracked
        case .segmentPut: .segmentPut
        case .segmentDeleted: .segmentDeleted
        case .clockMoved: .clockMoved
        case .listCreated: .listCreated
        case .listMembersChanged: .listMembersChanged
        case .listDeleted: .listDeleted
        case .webhookAdded: .webhookAdded
        case .webhookRemoved: .webhookRemoved
        case .traitPut: .traitPut
        case .traitDeleted: .traitDeleted
        case nil: .none
        }
    }
}
