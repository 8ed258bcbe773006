import DaemonSupport
import SegmentsSQL
import SegmentsWire

// Deleted users' data, kept replayable for the evaluators.
//
// Deleting a user scrubs it at once from every change-log entry that mentions it: snapshots,
// previews, list reads and unregistered feed readers never see it again. But an evaluator that
// crashes replays the log from its last saved state, and it must replay the entries as it first
// read them, or its rebuilt engine differs from the one that recorded the transitions (a user's
// enter without the exit its deletion caused). So before an entry is first scrubbed, its earlier
// form is kept in `held_entries`, served only to registered subscribers (evaluators, which name
// themselves when they subscribe), and dropped as soon as every registered subscriber's durable
// position — the entry a restart replays from — has passed the deletion. Evaluators acknowledge
// their position every time they save their state (every 2 s of feed), so that is seconds after
// the deletion. A subscriber not seen for `feedSubscriberExpiry` is forgotten, so one that is
// gone for good holds nothing for long; if it comes back with history to resume past data the
// store has since released, its subscription is refused and it rebuilds.

extension StoreDatabase {
    /// Registers `request`'s subscriber (when it names itself) before its feed starts.
    /// - Throws: ``ProfileStoreError`` `.failedPrecondition` when the subscriber resumes history
    ///   but was forgotten and the store has released data its replay would need.
    func registerSubscriber(_ request: Segments_V1_SubscribeRequest) async throws(ProfileStoreError) {
        guard !request.subscriberID.isEmpty else { return }
        try InputValidation.checkName(request.subscriberID, what: "subscriber id")
        let expiry = self.feedSubscriberExpiryMs
        try await self.writer.write { transaction in
            let connection = transaction.connection
            let now = WallClock.nowMs()
            try Self.expireSubscribers(now: now, expiryMs: expiry, in: connection)
            let known = try Self.durableSeq(of: request.subscriberID, in: connection) != nil
            if !known, request.resuming {
                let released = try Self.meta("held_released_through", in: connection)
                if released > request.durableSeq {
                    throw ProfileStoreError(
                        .failedPrecondition,
                        """
                        subscriber '\(request.subscriberID)' resumes from store change \(request.durableSeq), but it \
                        was not seen for longer than the store keeps deleted users' data for it, and that data is \
                        released through change \(released): its replay would not be exact; rebuild from scratch
                        """
                    )
                }
            }
            try Self.saveSubscriber(
                id: request.subscriberID,
                name: request.name,
                durableSeq: request.durableSeq,
                now: now,
                in: connection
            )
            _ = try Self.releaseHeldEntries(in: connection)
        }
    }

    /// Records a registered subscriber's new durable position and releases what no subscriber
    /// needs any more.
    func acknowledgeFeed(
        _ request: Segments_V1_AcknowledgeFeedRequest
    ) async throws(ProfileStoreError) -> Segments_V1_AcknowledgeFeedResponse {
        try InputValidation.checkName(request.subscriberID, what: "subscriber id")
        let expiry = self.feedSubscriberExpiryMs
        return try await self.writer.write { transaction in
            let connection = transaction.connection
            let now = WallClock.nowMs()
            try Self.expireSubscribers(now: now, expiryMs: expiry, in: connection)
            try Self.saveSubscriber(
                id: request.subscriberID,
                name: request.name,
                durableSeq: request.durableSeq,
                now: now,
                in: connection
            )
            var response = Segments_V1_AcknowledgeFeedResponse()
            response.releasedEntries = UInt64(try Self.releaseHeldEntries(in: connection))
            return response
        }
    }

    /// Forgets subscribers not seen within the expiry and releases what they held (run
    /// periodically, so that a store nobody acknowledges still releases deleted users' data).
    /// - Returns: the entries released.
    @discardableResult
    func releaseExpiredHolds() async throws(ProfileStoreError) -> Int {
        let expiry = self.feedSubscriberExpiryMs
        return try await self.writer.write { transaction in
            try Self.expireSubscribers(now: WallClock.nowMs(), expiryMs: expiry, in: transaction.connection)
            return try Self.releaseHeldEntries(in: transaction.connection)
        }
    }

    /// The registered subscribers and the number of held entries, for `GetInfo`.
    static func feedRetention(
        in connection: any SQLConnection
    ) throws -> (subscribers: [Segments_V1_FeedSubscriber], heldEntries: UInt64) {
        let select = try connection.cachedStatement(
            "SELECT id, name, durable_seq, seen_at_ms FROM feed_subscribers ORDER BY id"
        )
        defer { select.reset() }
        var subscribers: [Segments_V1_FeedSubscriber] = []
        while try select.step() {
            var subscriber = Segments_V1_FeedSubscriber()
            subscriber.subscriberID = select.string(at: 0)
            subscriber.name = select.string(at: 1)
            subscriber.durableSeq = UInt64(select.int64(at: 2))
            subscriber.seenAtMs = select.int64(at: 3)
            subscribers.append(subscriber)
        }
        let count = try connection.cachedStatement("SELECT count(*) FROM held_entries")
        defer { count.reset() }
        _ = try count.step()
        return (subscribers, UInt64(count.int64(at: 0)))
    }

    // MARK: - Inside write transactions

    /// Whether a deletion must keep what it scrubs: some subscriber is registered.
    static func holdsScrubbedEntries(in connection: any SQLConnection) throws -> Bool {
        let select = try connection.cachedStatement("SELECT EXISTS (SELECT 1 FROM feed_subscribers)")
        defer { select.reset() }
        _ = try select.step()
        return select.int64(at: 0) != 0
    }

    /// Keeps entry `seq` as it is before a scrub by the deletion at `deletionSeq` (its first
    /// form, if an earlier deletion already scrubbed it; kept until the latest deletion is passed).
    static func hold(entry seq: Int64, payload: [UInt8], deletionSeq: UInt64, in connection: any SQLConnection) throws {
        let insert = try connection.cachedStatement(
            """
            INSERT INTO held_entries(seq, payload, release_seq) VALUES (?1, ?2, ?3)
            ON CONFLICT(seq) DO UPDATE SET release_seq = CASE
                WHEN held_entries.release_seq > excluded.release_seq THEN held_entries.release_seq
                ELSE excluded.release_seq END
            """
        )
        try insert.bind(seq, at: 1)
        try insert.bind(payload, at: 2)
        try insert.bind(Int64(deletionSeq), at: 3)
        try insert.execute()
    }

    private static func saveSubscriber(
        id: String,
        name: String,
        durableSeq: UInt64,
        now: Int64,
        in connection: any SQLConnection
    ) throws {
        let upsert = try connection.cachedStatement(
            """
            INSERT INTO feed_subscribers(id, name, durable_seq, seen_at_ms) VALUES (?1, ?2, ?3, ?4)
            ON CONFLICT(id) DO UPDATE SET name = ?2, durable_seq = ?3, seen_at_ms = ?4
            """
        )
        try upsert.bind(id, at: 1)
        try upsert.bind(String(name.prefix(200)), at: 2)
        try upsert.bind(Int64(durableSeq), at: 3)
        try upsert.bind(now, at: 4)
        try upsert.execute()
    }

    private static func durableSeq(of id: String, in connection: any SQLConnection) throws -> UInt64? {
        let select = try connection.cachedStatement("SELECT durable_seq FROM feed_subscribers WHERE id = ?")
        defer { select.reset() }
        try select.bind(id, at: 1)
        return try select.step() ? UInt64(select.int64(at: 0)) : nil
    }

    private static func expireSubscribers(now: Int64, expiryMs: Int64, in connection: any SQLConnection) throws {
        let delete = try connection.cachedStatement("DELETE FROM feed_subscribers WHERE seen_at_ms < ?")
        try delete.bind(now - expiryMs, at: 1)
        try delete.execute()
    }

    /// Drops the held entries every registered subscriber has durably passed (all of them when
    /// none is registered) and moves `held_released_through` forward.
    /// - Returns: how many were dropped.
    private static func releaseHeldEntries(in connection: any SQLConnection) throws -> Int {
        let bound = try connection.cachedStatement(
            "SELECT coalesce((SELECT min(durable_seq) FROM feed_subscribers), 9223372036854775807)"
        )
        _ = try bound.step()
        let through = bound.int64(at: 0)
        bound.reset()
        let released = try connection.cachedStatement(
            "SELECT count(*), coalesce(max(release_seq), 0) FROM held_entries WHERE release_seq <= ?"
        )
        try released.bind(through, at: 1)
        _ = try released.step()
        let (count, latest) = (Int(released.int64(at: 0)), UInt64(released.int64(at: 1)))
        released.reset()
        guard count > 0 else { return 0 }
        let delete = try connection.cachedStatement("DELETE FROM held_entries WHERE release_seq <= ?")
        try delete.bind(through, at: 1)
        try delete.execute()
        try Self.markReleased(through: latest, in: connection)
        return count
    }

    /// Notes that deleted users' data scrubbed by deletions up to `deletionSeq` is no longer kept
    /// for anyone: released, or scrubbed with no subscriber registered to hold it for. A forgotten
    /// subscriber resuming from before it is refused.
    static func markReleased(through deletionSeq: UInt64, in connection: any SQLConnection) throws {
        let mark = try connection.cachedStatement(
            """
            INSERT INTO meta(key, value) VALUES ('held_released_through', ?1)
            ON CONFLICT(key) DO UPDATE SET value = CASE WHEN meta.value > ?1 THEN meta.value ELSE ?1 END
            """
        )
        try mark.bind(Int64(deletionSeq), at: 1)
        try mark.execute()
    }

    private static func meta(_ key: String, in connection: any SQLConnection) throws -> UInt64 {
        let select = try connection.cachedStatement("SELECT value FROM meta WHERE key = ?")
        defer { select.reset() }
        try select.bind(key, at: 1)
        return try select.step() ? UInt64(select.int64(at: 0)) : 0
    }
}
