import DaemonSupport
import Dispatch
import SegmentsSQLite
import SegmentsWire
import Synchronization

/// The evaluator's record of webhooks: the endpoints it learned from the change log (with their
/// secrets) and how far each has been delivered, in two tables of `evaluator.sqlite` next to the
/// transition log, through a connection of its own.
///
/// Registry changes are written as the feed applier meets the entries, before the engine applies
/// them and so before the checkpoint passes them: a crash in between replays the entry, and the
/// writes are idempotent (an id once seen is never registered again, and a removal is kept as a
/// tombstone), so replays change nothing.
final class WebhookLedger: Sendable {
    /// Tables created by the transition log's schema migration 3.
    static let schema = """
        CREATE TABLE webhooks(
            id TEXT PRIMARY KEY,
            url TEXT NOT NULL,
            segments TEXT NOT NULL,
            secret TEXT NOT NULL,
            added_store_seq INTEGER NOT NULL,
            removed_store_seq INTEGER
        ) WITHOUT ROWID;
        CREATE TABLE webhook_deliveries(
            webhook_id TEXT PRIMARY KEY,
            delivered_seq INTEGER NOT NULL,
            delivered_count INTEGER NOT NULL DEFAULT 0,
            failed_attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT NOT NULL DEFAULT '',
            last_error_at_ms INTEGER NOT NULL DEFAULT 0,
            next_attempt_at_ms INTEGER NOT NULL DEFAULT 0,
            last_delivered_at_ms INTEGER NOT NULL DEFAULT 0
        ) WITHOUT ROWID;
        """

    private let connection: Mutex<SQLiteConnection>
    /// Where ``perform(_:)`` runs: SQLite may wait up to its busy timeout for the transition log's
    /// writer, and that wait must not hold one of the few threads that run tasks.
    private let queue = DispatchQueue(label: "segments.webhook-ledger")
    /// Moves forward at every registry change (add, remove, reset); the dispatcher waits on it.
    let changes = ProgressNotifier(headSeq: 0)

    /// Opens `evaluator.sqlite` in `directory`, which ``TransitionLog`` has created and migrated.
    init(directory: String) throws(SegmentEvaluatorError) {
        let path = directory + "/evaluator.sqlite"
        do {
            let connection = try SQLiteConnection(
                path: path,
                options: .init(createIfMissing: false, journalMode: nil, synchronous: .normal)
            )
            self.connection = Mutex(connection)
        } catch {
            throw SegmentEvaluatorError(.startup, "cannot open \(path) for webhook delivery: \(error)")
        }
    }

    /// Runs `body` on the ledger's own thread and returns what it returns (for delivery workers and
    /// queries; the feed applier calls the ledger directly, as it does the transition log).
    func perform<Value: Sendable>(
        _ body: @escaping @Sendable (WebhookLedger) throws(SegmentEvaluatorError) -> Value
    ) async throws(SegmentEvaluatorError) -> Value {
        let result: Result<Value, SegmentEvaluatorError> = await withCheckedContinuation { continuation in
            self.queue.async {
                continuation.resume(returning: Result { () throws(SegmentEvaluatorError) -> Value in try body(self) })
            }
        }
        return try result.get()
    }

    /// Runs `body` with the connection, mapping failures to ``SegmentEvaluatorError`` `storage`.
    private func withConnection<Result: Sendable>(
        _ what: String,
        _ body: (SQLiteConnection) throws -> Result
    ) throws(SegmentEvaluatorError) -> Result {
        do {
            return try self.connection.withLock { connection in try body(connection) }
        } catch {
            throw SegmentEvaluatorError(.storage, "cannot \(what): \(error)")
        }
    }

    // MARK: - Registry

    /// Records a `WebhookAdded` or `WebhookRemoved` entry; other entries are ignored.
    /// - Throws: ``SegmentEvaluatorError`` `storage` when SQLite fails.
    func apply(_ entry: Segments_V1_ChangeEntry) throws(SegmentEvaluatorError) {
        switch entry.change {
        case .webhookAdded(let added):
            let webhook = added.webhook
            let inserted = try self.withConnection("register webhook \(webhook.id)") { connection in
                try connection.transaction(.immediate) { () throws -> Bool in
                    let insert = try connection.cachedStatement(
                        """
                        INSERT INTO webhooks(id, url, segments, secret, added_store_seq) VALUES (?, ?, ?, ?, ?)
                        ON CONFLICT(id) DO NOTHING
                        """
                    )
                    try insert.bind(webhook.id, at: 1)
                    try insert.bind(webhook.url, at: 2)
                    try insert.bind(webhook.segments.joined(separator: ","), at: 3)
                    try insert.bind(added.secret, at: 4)
                    try insert.bind(Int64(entry.seq), at: 5)
                    try insert.execute()
                    guard connection.changes > 0 else { return false }
                    // Every transition recorded so far came from earlier store changes (the
                    // engine applies this entry only after this write), so delivery starts after
                    // the current head instead of scanning the whole log for the first match.
                    let head = try connection.cachedStatement("SELECT coalesce(max(seq), 0) FROM transitions")
                    defer { head.reset() }
                    _ = try head.step()
                    let start = try connection.cachedStatement(
                        "INSERT INTO webhook_deliveries(webhook_id, delivered_seq) VALUES (?, ?)"
                    )
                    try start.bind(webhook.id, at: 1)
                    try start.bind(head.int64(at: 0), at: 2)
                    try start.execute()
                    return true
                }
            }
            if inserted { self.changes.publish(headSeq: self.changes.headSeq + 1) }
        case .webhookRemoved(let removed):
            try self.withConnection("remove webhook \(removed.id)") { connection in
                try connection.transaction(.immediate) {
                    // The row stays as a tombstone, so that a replayed `WebhookAdded` stays ignored.
                    let update = try connection.cachedStatement(
                        "UPDATE webhooks SET removed_store_seq = ? WHERE id = ? AND removed_store_seq IS NULL"
                    )
                    try update.bind(Int64(entry.seq), at: 1)
                    try update.bind(removed.id, at: 2)
                    try update.execute()
                    let forget = try connection.cachedStatement("DELETE FROM webhook_deliveries WHERE webhook_id = ?")
                    try forget.bind(removed.id, at: 1)
                    try forget.execute()
                }
            }
            self.changes.publish(headSeq: self.changes.headSeq + 1)
        default:
            break
        }
    }

    /// Forgets every webhook and delivery position (the evaluator is rebuilding from a store
    /// whose log no longer matches; the registrations come back with that log).
    func reset() throws(SegmentEvaluatorError) {
        try self.withConnection("reset webhooks") { connection in
            try connection.transaction(.immediate) {
                try connection.execute("DELETE FROM webhooks; DELETE FROM webhook_deliveries;")
            }
        }
        self.changes.publish(headSeq: self.changes.headSeq + 1)
    }

    /// The webhooks registered and not removed, by registration.
    func activeEndpoints() throws(SegmentEvaluatorError) -> [WebhookEndpoint] {
        try self.withConnection("read webhooks") { connection in
            let select = try connection.cachedStatement(
                """
                SELECT id, url, segments, secret, added_store_seq FROM webhooks
                WHERE removed_store_seq IS NULL ORDER BY added_store_seq
                """
            )
            defer { select.reset() }
            var endpoints: [WebhookEndpoint] = []
            while try select.step() {
                let segments = select.string(at: 2)
                endpoints.append(
                    WebhookEndpoint(
                        id: select.string(at: 0),
                        url: select.string(at: 1),
                        segments: segments.isEmpty ? [] : segments.split(separator: ",").map(String.init),
                        secret: select.string(at: 3),
                        addedStoreSeq: UInt64(select.int64(at: 4))
                    )
                )
            }
            return endpoints
        }
    }

    // MARK: - Delivery state

    /// The persisted delivery state of `id` (a fresh state when there is none).
    func deliveryState(of id: String) throws(SegmentEvaluatorError) -> WebhookDeliveryState {
        try self.withConnection("read the delivery state of webhook \(id)") { connection in
            let select = try connection.cachedStatement(
                """
                SELECT delivered_seq, delivered_count, failed_attempts, last_error, last_error_at_ms,
                    next_attempt_at_ms, last_delivered_at_ms
                FROM webhook_deliveries WHERE webhook_id = ?
                """
            )
            defer { select.reset() }
            try select.bind(id, at: 1)
            guard try select.step() else { return WebhookDeliveryState() }
            return WebhookDeliveryState(
                deliveredSeq: UInt64(select.int64(at: 0)),
                deliveredCount: UInt64(select.int64(at: 1)),
                failedAttempts: UInt32(clamping: select.int64(at: 2)),
                lastError: select.string(at: 3),
                lastErrorAtMs: select.int64(at: 4),
                nextAttemptAtMs: select.int64(at: 5),
                lastDeliveredAtMs: select.int64(at: 6)
            )
        }
    }

    /// Saves the delivery state of `id` — unless the webhook was removed meanwhile.
    func save(_ state: WebhookDeliveryState, of id: String) throws(SegmentEvaluatorError) {
        try self.withConnection("save the delivery state of webhook \(id)") { connection in
            let update = try connection.cachedStatement(
                """
                UPDATE webhook_deliveries SET delivered_seq = ?2, delivered_count = ?3, failed_attempts = ?4,
                    last_error = ?5, last_error_at_ms = ?6, next_attempt_at_ms = ?7, last_delivered_at_ms = ?8
                WHERE webhook_id = ?1
                """
            )
            try update.bind(id, at: 1)
            try update.bind(Int64(state.deliveredSeq), at: 2)
            try update.bind(Int64(state.deliveredCount), at: 3)
            try update.bind(Int64(state.failedAttempts), at: 4)
            try update.bind(state.lastError, at: 5)
            try update.bind(state.lastErrorAtMs, at: 6)
            try update.bind(state.nextAttemptAtMs, at: 7)
            try update.bind(state.lastDeliveredAtMs, at: 8)
            try update.execute()
        }
    }

    // MARK: - Transitions

    /// The endpoint's transitions after `seq` and up to `head`, in order, at most `limit`.
    func transitions(
        for endpoint: WebhookEndpoint,
        after seq: UInt64,
        through head: UInt64,
        limit: Int
    ) throws(SegmentEvaluatorError) -> [Segments_V1_Transition] {
        try self.withConnection("read transitions for webhook \(endpoint.id)") { connection in
            let select = try connection.cachedStatement(
                """
                SELECT seq, segment, user_id, kind, at_ms, store_seq FROM transitions
                WHERE seq > ?1 AND seq <= ?2 AND store_seq >= ?3 \(Self.segmentFilter(endpoint, from: 5))
                ORDER BY seq LIMIT ?4
                """
            )
            defer { select.reset() }
            try select.bind(Int64(seq), at: 1)
            try select.bind(Int64(clamping: head), at: 2)
            try select.bind(Int64(endpoint.addedStoreSeq), at: 3)
            try select.bind(limit, at: 4)
            for (offset, segment) in endpoint.segments.enumerated() {
                try select.bind(segment, at: 5 + offset)
            }
            return try TransitionLog.transitions(from: select)
        }
    }

    /// How many of the endpoint's transitions come after `seq` (its backlog).
    func pendingCount(for endpoint: WebhookEndpoint, after seq: UInt64) throws(SegmentEvaluatorError) -> UInt64 {
        try self.withConnection("count transitions for webhook \(endpoint.id)") { connection in
            let select = try connection.cachedStatement(
                """
                SELECT count(*) FROM transitions
                WHERE seq > ?1 AND store_seq >= ?2 \(Self.segmentFilter(endpoint, from: 3))
                """
            )
            defer { select.reset() }
            try select.bind(Int64(seq), at: 1)
            try select.bind(Int64(endpoint.addedStoreSeq), at: 2)
            for (offset, segment) in endpoint.segments.enumerated() {
                try select.bind(segment, at: 3 + offset)
            }
            _ = try select.step()
            return UInt64(select.int64(at: 0))
        }
    }

    /// `AND segment IN (?n, ?n+1, …)` for an endpoint with a segment filter, else nothing.
    private static func segmentFilter(_ endpoint: WebhookEndpoint, from first: Int) -> String {
        guard !endpoint.segments.isEmpty else { return "" }
        let parameters = endpoint.segments.indices.map { "?\(first + $0)" }
        return "AND segment IN (\(parameters.joined(separator: ", ")))"
    }
}
