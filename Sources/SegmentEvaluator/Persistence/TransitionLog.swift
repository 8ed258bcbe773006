import DaemonSupport
import Logging
import SegmentEngine
import SegmentsSQL
import SegmentsSQLite
import SegmentsWire
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The evaluator's own SQLite: the transition log (`seq, segment, user, enter|exit, at`) and the
/// checkpoint (the last store change applied), written in single transactions so that a crash
/// never leaves one ahead of the other; and, in a file of its own, the engine's state now and then
/// (``EngineStateStore``, never ahead of the checkpoint).
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
    private let reader: SleepingMutex<SQLiteConnection>
    private let head: Atomic<UInt64>
    private let checkpoint: Atomic<UInt64>
    /// Transitions up to this number are in `user_transitions`; later ones are found by a scan of
    /// the log's tail.
    private let userIndexedSeq: Atomic<UInt64>
    /// The store's clock at the first store change the log applied (``noCoverage`` until then).
    private let coverage: Atomic<Int64>
    private static let noCoverage = Int64.min

    /// Last transition number written.
    var headSeq: UInt64 { self.head.load(ordering: .acquiring) }
    /// Last store change applied, as persisted.
    var checkpointSeq: UInt64 { self.checkpoint.load(ordering: .acquiring) }
    /// The store change at which the engine state was last saved (0: never).
    var stateSeq: UInt64 { self.engineState.stateSeq }
    /// The engine's saved state.
    let engineState: EngineStateStore
    /// This evaluator's own id, made when its data directory is created and kept for its life
    /// (also across a reset): the store registers it as a feed subscriber.
    let evaluatorID: String
    /// The data directory, for messages.
    let directory: String
    private let logger: Logger

    /// - Parameters:
    ///   - directory: The data directory.
    ///   - userIndexGroup: Transitions indexed by user in one group (see ``indexUsers(after:partBits:in:)``).
    ///   - userIndexPartBits: For a new log: log `seq >> userIndexPartBits` is the index part of a transition. A log
    ///     keeps the part size it was created with (logs made before it was recorded use 2^20).
    init(
        directory: String,
        userIndexGroup: UInt64 = 65_536,
        userIndexPartBits: Int = 16,
        logger: Logger = Logger(label: "segment-evaluator")
    ) throws(SegmentEvaluatorError) {
        self.userIndexGroup = userIndexGroup
        self.logger = logger
        if mkdir(directory, 0o750) != 0, errno != EEXIST {
            throw SegmentEvaluatorError(.startup, "cannot create data directory \(directory)")
        }
        let path = directory + "/evaluator.sqlite"
        self.directory = directory
        self.engineState = try EngineStateStore(directory: directory, logger: logger)
        do {
            let writer = try SQLiteConnection(path: path, options: .init(journalMode: .wal, synchronous: .normal))
            self.writer = writer
            let isNew = try writer.userVersion() == 0
            if isNew {
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
            func meta(_ key: String) throws -> UInt64 {
                let select = try writer.prepare("SELECT value FROM meta WHERE key = ?")
                try select.bind(key, at: 1)
                return try select.step() ? UInt64(select.int64(at: 0)) : 0
            }
            let partBits = try Self.recordedPartBits(in: writer, forNewLog: isNew ? userIndexPartBits : nil)
            self.userIndexPartBits = partBits
            if try writer.userVersion() == 3 {
                // The engine state moved to a file of its own (written off the feed's path).
                try self.engineState.adopt(from: path, stateSeq: try meta("state_seq"))
                try writer.transaction(.immediate) {
                    try writer.execute(
                        """
                        DROP TABLE engine_users; DROP TABLE engine_catalog;
                        DELETE FROM meta WHERE key = 'state_seq';
                        """
                    )
                    try writer.setUserVersion(4)
                }
            }
            if try writer.userVersion() == 4 {
                // The per-user index became a table written in large sorted groups (see
                // `indexUsers`).
                try writer.transaction(.immediate) {
                    try writer.execute(
                        """
                        CREATE TABLE user_transitions(
                            part INTEGER NOT NULL, user_id TEXT NOT NULL, seq INTEGER NOT NULL,
                            PRIMARY KEY (part, user_id, seq)
                        ) WITHOUT ROWID;
                        DROP INDEX transitions_by_user;
                        """
                    )
                    try Self.indexUsers(after: 0, partBits: partBits, in: writer)
                    try writer.setUserVersion(5)
                }
            }
            if try writer.userVersion() == 5 {
                // The index by segment became blocks written with each append (see `SegmentBlocks`).
                try writer.transaction(.immediate) {
                    try writer.execute(SegmentBlocks.schema)
                    try SegmentBlocks.rebuild(in: writer)
                    try writer.execute("DROP INDEX transitions_by_segment")
                    try writer.setUserVersion(6)
                }
            }
            if try writer.userVersion() > Self.schemaVersion {
                throw SegmentEvaluatorError(
                    .unusableData,
                    "\(path) was written by a newer version (schema \(try writer.userVersion()), this one knows up to "
                        + "\(Self.schemaVersion))"
                )
            }
            self.reader = SleepingMutex(
                try SQLiteConnection(
                    path: path,
                    options: .init(readOnly: true, createIfMissing: false, journalMode: nil, synchronous: nil)
                )
            )
            let head = try writer.prepare("SELECT coalesce(max(seq), 0) FROM transitions")
            _ = try head.step()
            self.head = Atomic(UInt64(head.int64(at: 0)))
            self.checkpoint = Atomic(try meta("checkpoint_seq"))
            self.userIndexedSeq = Atomic(try meta("user_index_seq"))
            let covers = try writer.prepare("SELECT value FROM meta WHERE key = 'covers_from_ms'")
            self.coverage = Atomic(try covers.step() ? covers.int64(at: 0) : Self.noCoverage)
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
        } catch let error as SegmentEvaluatorError {
            throw error
        } catch let error as SQLiteError where error.code == .corrupt || error.code == .notADatabase {
            throw SegmentEvaluatorError(.unusableData, "\(path) is damaged: \(error)")
        } catch {
            throw SegmentEvaluatorError(.startup, "cannot open \(path): \(error)")
        }
    }

    /// The newest schema this version writes (`PRAGMA user_version`).
    static let schemaVersion = 6

    /// The identity of the store this log was built from (`StoreInfo.store_id`), once known.
    var storeID: String? {
        try? self.reader.withLock { reader in
            let select = try reader.prepare("SELECT value FROM meta WHERE key = 'store_id'")
            return try select.step() ? select.string(at: 0) : nil
        }
    }

    /// Records the identity of the store the log is built from.
    func recordStoreID(_ id: String) throws(SegmentEvaluatorError) {
        do {
            let upsert = try self.writer.prepare(
                "INSERT INTO meta(key, value) VALUES ('store_id', ?1) ON CONFLICT(key) DO UPDATE SET value = ?1"
            )
            try upsert.bind(id, at: 1)
            try upsert.execute()
        } catch {
            throw SegmentEvaluatorError(.storage, "cannot record the store's identity: \(error)")
        }
    }

    /// Appends transitions and moves the checkpoint, atomically.
    /// - Parameters:
    ///   - coversFromMs: the store's clock at the store's first change, when the batch applied it: from then on the
    ///     log records every membership (``coversFromMs``).
    ///   - erasing: users deleted by the batch, with the deleting store change: their transitions up to it, the
    ///     exits of the deletion included, keep their place in the log but no longer name them (see
    ///     ``erase(_:through:indexedThrough:)``); a user created again later keeps the name.
    func append(
        _ transitions: [(segment: String, userID: String, enter: Bool, atMs: Int64, storeSeq: UInt64)],
        checkpointSeq: UInt64,
        coversFromMs: Int64? = nil,
        erasing: [(userID: String, storeSeq: UInt64)] = []
    ) throws(SegmentEvaluatorError) {
        do {
            let indexed = self.userIndexedSeq.load(ordering: .acquiring)
            try self.writer.transaction(.immediate) {
                try self.insert(transitions)
                try SegmentBlocks.insert(
                    segments: transitions.lazy.map(\.segment),
                    from: self.headSeq + 1,
                    in: self.writer
                )
                let save = try self.writer.cachedStatement(
                    "INSERT INTO meta(key, value) VALUES ('checkpoint_seq', ?1) ON CONFLICT(key) DO UPDATE SET value = ?1"
                )
                try save.bind(Int64(checkpointSeq), at: 1)
                try save.execute()
                if let coversFromMs {
                    let covers = try self.writer.cachedStatement(
                        "INSERT INTO meta(key, value) VALUES ('covers_from_ms', ?1) ON CONFLICT(key) DO UPDATE SET value = ?1"
                    )
                    try covers.bind(coversFromMs, at: 1)
                    try covers.execute()
                }
                for erased in erasing {
                    try self.erase(erased.userID, through: erased.storeSeq, indexedThrough: indexed)
                }
            }
        } catch let error as SQLiteError where error.code.primary == .full {
            throw SegmentEvaluatorError(
                .diskFull,
                "the disk holding the evaluator's data (\(self.directory)) is full: \(transitions.count) transitions "
                    + "could not be recorded"
            )
        } catch {
            throw SegmentEvaluatorError(.storage, "cannot record transitions: \(error)")
        }
        self.head.add(UInt64(transitions.count), ordering: .releasing)
        self.checkpoint.store(checkpointSeq, ordering: .releasing)
        if let coversFromMs { self.coverage.store(coversFromMs, ordering: .releasing) }
    }

    /// Adds the transitions the per-user index does not cover to it once they make a group (see
    /// ``indexUsers(after:partBits:in:)``), in a transaction of its own. Called after an append is published, by
    /// the same writer: a group of 65,536 takes ~110 ms, which readers waiting for the append no longer wait for.
    /// A crash in between loses nothing: the next call after the restart indexes from the saved position.
    func indexUsersWhenDue() throws(SegmentEvaluatorError) {
        let head = self.headSeq
        let indexed = self.userIndexedSeq.load(ordering: .acquiring)
        guard head - indexed >= self.userIndexGroup else { return }
        let clock = ContinuousClock()
        let start = clock.now
        do {
            try self.writer.transaction(.immediate) {
                try Self.indexUsers(after: indexed, partBits: self.userIndexPartBits, in: self.writer)
            }
        } catch let error as SQLiteError where error.code.primary == .full {
            throw SegmentEvaluatorError(
                .diskFull,
                "the disk holding the evaluator's data (\(self.directory)) is full: the transition log's index by "
                    + "user could not be written"
            )
        } catch {
            throw SegmentEvaluatorError(.storage, "cannot index transitions by user: \(error)")
        }
        self.userIndexedSeq.store(head, ordering: .releasing)
        self.logger.debug(
            "indexed transitions by user",
            metadata: ["transitions": "\(head - indexed)", "through-seq": "\(head)", "took": "\(clock.now - start)"]
        )
    }

    /// Replaces a deleted user's id in every transition of theirs with a token of its own: the log keeps its
    /// numbering (watchers and `history` positions stay valid) and its counts over time, but no longer says who it
    /// was. Only transitions of store changes up to `storeSeq` (the deletion) are erased: the same id created again
    /// afterwards is another user. Runs in the append's transaction, after the batch's own transitions are inserted
    /// and indexed.
    private func erase(_ userID: String, through storeSeq: UInt64, indexedThrough indexed: UInt64) throws {
        // Named by the deletion's store change: unique per deletion, the same in every replay (a restarted evaluator
        // writes exactly the log a clean one does), and it says nothing about the person.
        let token = "erased-\(storeSeq)"
        let rows = try self.writer.cachedStatement(
            """
            UPDATE transitions SET user_id = ?1
            WHERE seq IN (SELECT seq FROM user_transitions WHERE part = ?2 AND user_id = ?3) AND store_seq <= ?4
            """
        )
        let index = try self.writer.cachedStatement(
            """
            UPDATE user_transitions SET user_id = ?1 WHERE part = ?2 AND user_id = ?3
            AND EXISTS (SELECT 1 FROM transitions t WHERE t.seq = user_transitions.seq AND t.user_id = ?1)
            """
        )
        for part in 0...(indexed >> self.userIndexPartBits) {
            for statement in [rows, index] {
                defer { statement.reset() }
                try statement.bind(token, at: 1)
                try statement.bind(Int64(part), at: 2)
                try statement.bind(userID, at: 3)
                if statement === rows { try statement.bind(Int64(storeSeq), at: 4) }
                try statement.execute()
            }
        }
        let tail = try self.writer.cachedStatement(
            "UPDATE transitions SET user_id = ?1 WHERE seq > ?2 AND user_id = ?3 AND store_seq <= ?4"
        )
        defer { tail.reset() }
        try tail.bind(token, at: 1)
        try tail.bind(Int64(indexed), at: 2)
        try tail.bind(userID, at: 3)
        try tail.bind(Int64(storeSeq), at: 4)
        try tail.execute()
    }

    /// The instant from which the log records every membership: the store's clock at the first store change it
    /// applied (a log is always built from the store's first change); `nil` before it has applied one.
    var coversFromMs: Int64? {
        let value = self.coverage.load(ordering: .acquiring)
        return value == Self.noCoverage ? nil : value
    }

    /// Transitions indexed by user in one group (see ``indexUsers(after:partBits:in:)``).
    let userIndexGroup: UInt64
    /// Log `seq >> userIndexPartBits` is the index part a transition's row goes to (recorded in the log's `meta`).
    let userIndexPartBits: Int

    /// The part size of the log's per-user index, as recorded in `meta`; recorded first if it is not: `forNewLog`
    /// for a log just created, 20 (the size every log had before it was recorded) for an older one.
    private static func recordedPartBits(in writer: SQLiteConnection, forNewLog bits: Int?) throws -> Int {
        let select = try writer.prepare("SELECT value FROM meta WHERE key = 'user_index_part_bits'")
        if try select.step() { return Int(select.int64(at: 0)) }
        let chosen = bits ?? 20
        let save = try writer.prepare("INSERT INTO meta(key, value) VALUES ('user_index_part_bits', ?1)")
        try save.bind(Int64(chosen), at: 1)
        try save.execute()
        return chosen
    }

    /// Adds the transitions after `seq` to the per-user index `user_transitions`, sorted, and
    /// records that the index covers the whole log (inside the caller's transaction; see ``indexUsersWhenDue()``).
    ///
    /// The per-user index is written in groups rather than with each commit: a commit's
    /// transitions belong to users all over the index, so an SQLite index on the log cost a page
    /// write per transition (measured: half the evaluator's time under live load at 100k users).
    /// A sorted group touches each page once. Rows are partitioned by position in the log (a part
    /// of 2^16 transitions in logs made since the part size is recorded, 2^20 before), so a group
    /// writes into the latest parts only, whatever the size of the whole index; a query by user
    /// seeks each part. A part no larger than a group is filled in order, never rewritten.
    ///
    /// The group is sorted here rather than by an `ORDER BY`: SQLite's sorter took ~120 ms for
    /// 65,536 rows, most of a group's time.
    static func indexUsers(after seq: UInt64, partBits bits: Int, in connection: SQLiteConnection) throws {
        let select = try connection.cachedStatement("SELECT seq, user_id FROM transitions WHERE seq > ?1")
        defer { select.reset() }
        try select.bind(Int64(seq), at: 1)
        var rows: [UserIndexRow] = []
        while try select.step() {
            rows.append(UserIndexRow(seq: select.int64(at: 0), userID: select.string(at: 1), partBits: bits))
        }
        rows.sort()
        try connection.insertRows(
            "INSERT INTO user_transitions(part, user_id, seq)",
            columns: 3,
            count: rows.count,
            rowsPerStatement: 64
        ) { statement, index, at in
            let row = rows[index]
            try statement.bind(row.part, at: at)
            try statement.bind(row.userID, at: at + 1)
            try statement.bind(row.seq, at: at + 2)
        }
        let save = try connection.cachedStatement(
            """
            INSERT INTO meta(key, value) VALUES ('user_index_seq', (SELECT coalesce(max(seq), 0) FROM transitions))
            ON CONFLICT(key) DO UPDATE SET value = excluded.value
            """
        )
        try save.execute()
    }

    /// Inserts transitions numbered from `headSeq + 1`, 64 rows per statement.
    private func insert(
        _ transitions: [(segment: String, userID: String, enter: Bool, atMs: Int64, storeSeq: UInt64)]
    ) throws {
        let first = self.headSeq + 1
        try self.writer.insertRows(
            "INSERT INTO transitions(seq, segment, user_id, kind, at_ms, store_seq)",
            columns: 6,
            count: transitions.count,
            rowsPerStatement: 64
        ) { statement, row, at in
            let transition = transitions[row]
            try statement.bind(Int64(first) + Int64(row), at: at)
            try statement.bind(transition.segment, at: at + 1)
            try statement.bind(transition.userID, at: at + 2)
            try statement.bind(transition.enter ? 1 : 2, at: at + 3)
            try statement.bind(transition.atMs, at: at + 4)
            try statement.bind(Int64(transition.storeSeq), at: at + 5)
        }
    }

    /// Removes everything (the local state is being rebuilt from the store).
    func reset() throws(SegmentEvaluatorError) {
        // The saved state first: a crash in between leaves a checkpoint without a state, which
        // makes the restart rebuild again, never a state without the log it belongs to.
        try self.engineState.reset()
        do {
            try self.writer.transaction(.immediate) {
                try self.writer.execute(
                    """
                    DELETE FROM transitions; DELETE FROM user_transitions; DELETE FROM segment_blocks;
                    DELETE FROM meta WHERE key NOT IN ('evaluator_id', 'store_id', 'user_index_part_bits');
                    """
                )
            }
        } catch {
            throw SegmentEvaluatorError(.storage, "cannot reset the transition log: \(error)")
        }
        self.head.store(0, ordering: .releasing)
        self.checkpoint.store(0, ordering: .releasing)
        self.userIndexedSeq.store(0, ordering: .releasing)
        self.coverage.store(Self.noCoverage, ordering: .releasing)
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
            let indexed = self.userIndexedSeq.load(ordering: .acquiring)
            return try self.reader.withLock { reader in
                if let userID {
                    return try Self.read(
                        reader,
                        from: seq,
                        limit: limit,
                        userID: userID,
                        indexedThrough: indexed,
                        partBits: self.userIndexPartBits
                    )
                }
                return try Self.read(reader, from: seq, limit: limit, segment: segment)
            }
        } catch {
            throw SegmentEvaluatorError(.storage, "cannot read transitions: \(error)")
        }
    }

    /// A user's transitions: from the index's parts, then from the log's tail, which the index
    /// does not cover yet (at most a group: see ``indexUsers(after:partBits:in:)``).
    private static func read(
        _ reader: SQLiteConnection,
        from seq: UInt64,
        limit: Int,
        userID: String,
        indexedThrough indexed: UInt64,
        partBits: Int
    ) throws -> [Segments_V1_Transition] {
        var result: [Segments_V1_Transition] = []
        if seq <= indexed {
            let select = try reader.cachedStatement(
                """
                SELECT t.seq, t.segment, t.user_id, t.kind, t.at_ms, t.store_seq
                FROM user_transitions u JOIN transitions t ON t.seq = u.seq
                WHERE u.part = ?1 AND u.user_id = ?2 AND u.seq >= ?3 AND u.seq <= ?4 ORDER BY u.seq LIMIT ?5
                """
            )
            for part in (seq >> partBits)...(indexed >> partBits) where result.count < limit {
                defer { select.reset() }
                try select.bind(Int64(part), at: 1)
                try select.bind(userID, at: 2)
                try select.bind(Int64(seq), at: 3)
                try select.bind(Int64(indexed), at: 4)
                try select.bind(limit - result.count, at: 5)
                result += try Self.transitions(from: select)
            }
        }
        guard result.count < limit else { return result }
        let tail = try reader.cachedStatement(
            """
            SELECT seq, segment, user_id, kind, at_ms, store_seq FROM transitions
            WHERE seq > ?1 AND user_id = ?2 ORDER BY seq LIMIT ?3
            """
        )
        defer { tail.reset() }
        try tail.bind(Int64(max(indexed, seq > 0 ? seq - 1 : 0)), at: 1)
        try tail.bind(userID, at: 2)
        try tail.bind(limit - result.count, at: 3)
        return result + (try Self.transitions(from: tail))
    }

    /// Transitions of a segment (found through its blocks, see ``SegmentBlocks``), or all of them.
    private static func read(
        _ reader: SQLiteConnection,
        from seq: UInt64,
        limit: Int,
        segment: String?
    ) throws -> [Segments_V1_Transition] {
        guard let segment else {
            let select = try reader.cachedStatement(
                "SELECT seq, segment, user_id, kind, at_ms, store_seq FROM transitions WHERE seq >= ?1 ORDER BY seq LIMIT ?2"
            )
            defer { select.reset() }
            try select.bind(Int64(seq), at: 1)
            try select.bind(limit, at: 2)
            return try Self.transitions(from: select)
        }
        let select = try reader.cachedStatement(
            "SELECT seq, segment, user_id, kind, at_ms, store_seq FROM transitions WHERE seq = ?1"
        )
        var result: [Segments_V1_Transition] = []
        for number in try SegmentBlocks.seqs(of: segment, from: seq, limit: limit, in: reader) {
            defer { select.reset() }
            try select.bind(Int64(number), at: 1)
            result += try Self.transitions(from: select)
        }
        return result
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

/// A row of the per-user index, ordered as the index's primary key `(part, user_id, seq)` is: user ids by their UTF-8
/// bytes (SQLite's BINARY collation). The first 8 bytes, read as one big-endian number, decide most comparisons.
struct UserIndexRow: Comparable {
    let part: Int64
    let prefix: UInt64
    let userID: String
    let seq: Int64

    init(seq: Int64, userID: String, partBits: Int) {
        self.part = seq >> partBits
        self.seq = seq
        self.userID = userID
        var prefix: UInt64 = 0
        var taken = 0
        for byte in userID.utf8.prefix(8) {
            prefix = prefix << 8 | UInt64(byte)
            taken += 1
        }
        self.prefix = taken == 8 ? prefix : prefix << (8 * (8 - taken))
    }

    static func < (a: Self, b: Self) -> Bool {
        if a.part != b.part { return a.part < b.part }
        if a.prefix != b.prefix { return a.prefix < b.prefix }
        if utf8Less(a.userID, b.userID) { return true }
        if utf8Less(b.userID, a.userID) { return false }
        return a.seq < b.seq
    }

    /// Rows are equal when they are the same transition (a log's numbers are unique).
    static func == (a: Self, b: Self) -> Bool { a.seq == b.seq }
}
