import SegmentsSQLite
import SegmentsWire
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The evaluator's own SQLite: the transition log (`seq, segment, user, enter|exit, at`), the
/// checkpoint (the last store change applied) and, now and then, the engine's state (its catalog
/// and one record per user) — written in single transactions so that a crash never leaves one
/// ahead of the other.
///
/// A restart restores the last engine state (taken at store change `stateSeq`) and replays the
/// store's log from there; what the replay produces for positions up to the checkpoint is
/// already recorded and is not recorded again.
///
/// Writes happen one at a time, under the evaluator core's persist lock (never under the lock
/// that reads of the engine take); queries read through their own connection.
final class TransitionLog: @unchecked Sendable {
    // @unchecked: `writer` is used only under the evaluator core's persist lock (and before the
    // core exists); the positions are atomics written there; the reader connection is behind its
    // own mutex.

    private let writer: SQLiteConnection
    private let reader: Mutex<SQLiteConnection>
    private let head: Atomic<UInt64>
    private let checkpoint: Atomic<UInt64>
    private let state: Atomic<UInt64>

    /// Last transition number written.
    var headSeq: UInt64 { self.head.load(ordering: .acquiring) }
    /// Last store change applied, as persisted.
    var checkpointSeq: UInt64 { self.checkpoint.load(ordering: .acquiring) }
    /// The store change at which the engine state was last saved (0: never).
    var stateSeq: UInt64 { self.state.load(ordering: .acquiring) }
    /// This evaluator's own id, made when its data directory is created and kept for its life
    /// (also across a reset): the store registers it as a feed subscriber.
    let evaluatorID: String

    /// The engine state to save with a checkpoint.
    struct EngineState {
        var catalog: [UInt8]
        /// Changed users' records; `nil` deletes the user's record.
        var users: [(userID: String, record: [UInt8]?)]
    }

    init(directory: String) throws(SegmentEvaluatorError) {
        if mkdir(directory, 0o750) != 0, errno != EEXIST {
            throw SegmentEvaluatorError(.startup, "cannot create data directory \(directory)")
        }
        let path = directory + "/evaluator.sqlite"
        do {
            let writer = try SQLiteConnection(path: path, options: .init(journalMode: .wal, synchronous: .normal))
            self.writer = writer
            if try writer.userVersion() == 0 {
                try writer.transaction(.immediate) {
                    try writer.execute(
                        """
                        CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;
                        CREATE TABLE transitions(
                            seq INTEGER PRIMARY KEY,
                            segment TEXT NOT NULL,
                            user_id TEXT NOT NULL,
                            kind INTEGER NOT NULL,
                            at_ms INTEGER NOT NULL,
                            store_seq INTEGER NOT NULL
                        );
                        CREATE INDEX transitions_by_user ON transitions(user_id, seq);
                        CREATE INDEX transitions_by_segment ON transitions(segment, seq);
                        """
                    )
                    try writer.setUserVersion(1)
                }
            }
            if try writer.userVersion() == 1 {
                try writer.transaction(.immediate) {
                    try writer.execute(
                        """
                        CREATE TABLE engine_catalog(id INTEGER PRIMARY KEY CHECK (id = 0), state BLOB NOT NULL);
                        CREATE TABLE engine_users(user_id TEXT PRIMARY KEY, state BLOB NOT NULL) WITHOUT ROWID;
                        """
                    )
                    try writer.setUserVersion(2)
                }
            }
            if try writer.userVersion() == 2 {
                try writer.transaction(.immediate) {
                    try writer.execute(WebhookLedger.schema)
                    try writer.setUserVersion(3)
                }
            }
            self.reader = Mutex(
                try SQLiteConnection(
                    path: path,
                    options: .init(readOnly: true, createIfMissing: false, journalMode: nil, synchronous: nil)
                )
            )
            let head = try writer.prepare("SELECT coalesce(max(seq), 0) FROM transitions")
            _ = try head.step()
            self.head = Atomic(UInt64(head.int64(at: 0)))
            func meta(_ key: String) throws -> UInt64 {
                let select = try writer.prepare("SELECT value FROM meta WHERE key = ?")
                try select.bind(key, at: 1)
                return try select.step() ? UInt64(select.int64(at: 0)) : 0
            }
            self.checkpoint = Atomic(try meta("checkpoint_seq"))
            self.state = Atomic(try meta("state_seq"))
            let id = try writer.prepare("SELECT value FROM meta WHERE key = 'evaluator_id'")
            if try id.step() {
                self.evaluatorID = id.string(at: 0)
            } else {
                var random = SystemRandomNumberGenerator()
                let made = (0..<2).map { _ in String(random.next() as UInt64, radix: 16) }.joined(separator: "-")
                let save = try writer.prepare("INSERT INTO meta(key, value) VALUES ('evaluator_id', ?)")
                try save.bind(made, at: 1)
                try save.execute()
                self.evaluatorID = made
            }
        } catch {
            throw SegmentEvaluatorError(.startup, "cannot open \(path): \(error)")
        }
    }

    /// Appends transitions and moves the checkpoint, atomically.
    /// - Returns: the transitions with their numbers.
    func append(
        _ transitions: [(segment: String, userID: String, enter: Bool, atMs: Int64, storeSeq: UInt64)],
        checkpointSeq: UInt64,
        engineState: EngineState? = nil
    ) throws(SegmentEvaluatorError) -> [Segments_V1_Transition] {
        var numbered: [Segments_V1_Transition] = []
        numbered.reserveCapacity(transitions.count)
        do {
            try self.writer.transaction(.immediate) {
                let insert = try self.writer.cachedStatement(
                    "INSERT INTO transitions(seq, segment, user_id, kind, at_ms, store_seq) VALUES (?, ?, ?, ?, ?, ?)"
                )
                var seq = self.headSeq
                for transition in transitions {
                    seq += 1
                    try insert.bind(Int64(seq), at: 1)
                    try insert.bind(transition.segment, at: 2)
                    try insert.bind(transition.userID, at: 3)
                    try insert.bind(transition.enter ? 1 : 2, at: 4)
                    try insert.bind(transition.atMs, at: 5)
                    try insert.bind(Int64(transition.storeSeq), at: 6)
                    try insert.execute()
                    var wire = Segments_V1_Transition()
                    wire.seq = seq
                    wire.segment = transition.segment
                    wire.userID = transition.userID
                    wire.kind = transition.enter ? .enter : .exit
                    wire.atMs = transition.atMs
                    wire.storeSeq = transition.storeSeq
                    numbered.append(wire)
                }
                try self.setMeta("checkpoint_seq", checkpointSeq)
                if let engineState {
                    try self.saveEngineState(engineState)
                    try self.setMeta("state_seq", checkpointSeq)
                }
            }
        } catch {
            throw SegmentEvaluatorError(.storage, "cannot record transitions: \(error)")
        }
        self.head.add(UInt64(transitions.count), ordering: .releasing)
        self.checkpoint.store(checkpointSeq, ordering: .releasing)
        if engineState != nil {
            self.state.store(checkpointSeq, ordering: .releasing)
        }
        return numbered
    }

    private func setMeta(_ key: String, _ value: UInt64) throws {
        let save = try self.writer.cachedStatement(
            "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2"
        )
        try save.bind(key, at: 1)
        try save.bind(Int64(value), at: 2)
        try save.execute()
    }

    private func saveEngineState(_ state: EngineState) throws {
        let catalog = try self.writer.cachedStatement(
            "INSERT INTO engine_catalog(id, state) VALUES (0, ?1) ON CONFLICT(id) DO UPDATE SET state = ?1"
        )
        try catalog.bind(state.catalog, at: 1)
        try catalog.execute()
        let upsert = try self.writer.cachedStatement(
            "INSERT INTO engine_users(user_id, state) VALUES (?1, ?2) ON CONFLICT(user_id) DO UPDATE SET state = ?2"
        )
        let delete = try self.writer.cachedStatement("DELETE FROM engine_users WHERE user_id = ?")
        for (userID, record) in state.users {
            if let record {
                try upsert.bind(userID, at: 1)
                try upsert.bind(record, at: 2)
                try upsert.execute()
            } else {
                try delete.bind(userID, at: 1)
                try delete.execute()
            }
        }
    }

    /// The saved engine state, if any: the catalog and every user record.
    func loadEngineState() throws(SegmentEvaluatorError) -> (catalog: [UInt8], users: [[UInt8]])? {
        do {
            let catalog = try self.writer.prepare("SELECT state FROM engine_catalog WHERE id = 0")
            guard self.stateSeq > 0, try catalog.step() else { return nil }
            let bytes = catalog.blob(at: 0)
            let users = try self.writer.prepare("SELECT state FROM engine_users")
            var records: [[UInt8]] = []
            while try users.step() {
                records.append(users.blob(at: 0))
            }
            return (bytes, records)
        } catch {
            throw SegmentEvaluatorError(.storage, "cannot read the saved engine state: \(error)")
        }
    }

    /// Removes everything (the local state is being rebuilt from the store).
    func reset() throws(SegmentEvaluatorError) {
        do {
            try self.writer.transaction(.immediate) {
                try self.writer.execute(
                    """
                    DELETE FROM transitions; DELETE FROM meta WHERE key <> 'evaluator_id';
                    DELETE FROM engine_catalog; DELETE FROM engine_users;
                    """
                )
            }
        } catch {
            throw SegmentEvaluatorError(.storage, "cannot reset the transition log: \(error)")
        }
        self.head.store(0, ordering: .releasing)
        self.checkpoint.store(0, ordering: .releasing)
        self.state.store(0, ordering: .releasing)
    }

    /// The transitions recorded for store change `storeSeq` (the log's tail: store numbers never
    /// decrease along the transition log).
    func transitions(atStoreSeq storeSeq: UInt64) throws(SegmentEvaluatorError) -> [Segments_V1_Transition] {
        do {
            return try self.reader.withLock { reader in
                let select = try reader.prepare(
                    "SELECT segment, user_id, kind, at_ms, store_seq FROM transitions ORDER BY seq DESC"
                )
                var result: [Segments_V1_Transition] = []
                while try select.step(), UInt64(select.int64(at: 4)) >= storeSeq {
                    guard UInt64(select.int64(at: 4)) == storeSeq else { continue }
                    var transition = Segments_V1_Transition()
                    transition.segment = select.string(at: 0)
                    transition.userID = select.string(at: 1)
                    transition.kind = select.int64(at: 2) == 1 ? .enter : .exit
                    transition.atMs = select.int64(at: 3)
                    transition.storeSeq = storeSeq
                    result.append(transition)
                }
                return result
            }
        } catch {
            throw SegmentEvaluatorError(.storage, "cannot read transitions: \(error)")
        }
    }

    /// Transitions with numbers in `from...`, optionally filtered, at most `limit`.
    func read(
        from seq: UInt64,
        limit: Int,
        userID: String? = nil,
        segment: String? = nil
    ) throws(SegmentEvaluatorError) -> [Segments_V1_Transition] {
        do {
            return try self.reader.withLock { reader in
                try Self.read(reader, from: seq, limit: limit, userID: userID, segment: segment)
            }
        } catch {
            throw SegmentEvaluatorError(.storage, "cannot read transitions: \(error)")
        }
    }

    private static func read(
        _ reader: SQLiteConnection,
        from seq: UInt64,
        limit: Int,
        userID: String?,
        segment: String?
    ) throws -> [Segments_V1_Transition] {
        do {
            let sql: String
            if userID != nil {
                sql =
                    "SELECT seq, segment, user_id, kind, at_ms, store_seq FROM transitions WHERE user_id = ?2 AND seq >= ?1 ORDER BY seq LIMIT ?3"
            } else if segment != nil {
                sql =
                    "SELECT seq, segment, user_id, kind, at_ms, store_seq FROM transitions WHERE segment = ?2 AND seq >= ?1 ORDER BY seq LIMIT ?3"
            } else {
                sql =
                    "SELECT seq, segment, user_id, kind, at_ms, store_seq FROM transitions WHERE seq >= ?1 AND ?2 IS NULL ORDER BY seq LIMIT ?3"
            }
            let select = try reader.cachedStatement(sql)
            defer { select.reset() }
            try select.bind(Int64(seq), at: 1)
            try select.bind(userID ?? segment, at: 2)
            try select.bind(limit, at: 3)
            return try Self.transitions(from: select)
        }
    }
}

extension TransitionLog {
    /// Reads every row of `select`, whose columns are `seq, segment, user_id, kind (1 = enter),
    /// at_ms, store_seq`.
    static func transitions(from select: SQLiteStatement) throws -> [Segments_V1_Transition] {
        var result: [Segments_V1_Transition] = []
        while try select.step() {
            var transition = Segments_V1_Transition()
            transition.seq = UInt64(select.int64(at: 0))
            transition.segment = select.string(at: 1)
            transition.userID = select.string(at: 2)
            transition.kind = select.int64(at: 3) == 1 ? .enter : .exit
            transition.atMs = select.int64(at: 4)
            transition.storeSeq = UInt64(select.int64(at: 5))
            result.append(transition)
        }
        return result
    }
}
