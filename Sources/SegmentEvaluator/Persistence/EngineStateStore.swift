import DaemonSupport
import Dispatch
import Logging
import SegmentEngine
import SegmentsSQLite
import Synchronization

/// The engine's saved state — its catalog and one record per user, as of one store change — in a
/// SQLite file of its own (`engine-state.sqlite`), written on a thread of its own.
///
/// Saving the state writes every user changed since the last save: at a high write rate that
/// is most users, hundreds of megabytes at a million users. Written in the transition log's
/// transaction, it held up the change feed for the whole write every few seconds. Here the
/// feed only hands over the users' states; they are encoded and written while the feed goes on,
/// and ``stateSeq`` moves when the write has committed. The records are appended as chunks
/// (``EngineStateChunks``); once they hold ``compactionFactor`` times more records than the
/// engine has users, the next save is a complete one, which replaces them all.
///
/// What keeps a restart exact: a save is handed over only after the transitions and checkpoint
/// of the same store change have committed in the transition log, so the saved state is never
/// ahead of the log (a restart replays from ``stateSeq`` and does not record again what the
/// checkpoint covers). Saves are incremental — each holds the users changed since the previous
/// one — so they are written in order, at most one in flight (``canSave``: the core takes a
/// save only when none is), and after a failed or lost one (``abandon()``) the next save is a
/// complete one (``wantsCompleteSave``): the incremental records after the failure would miss the
/// users the failed save held. Until that complete save commits, ``stateSeq`` stays at the last
/// complete state, so a disk that fills and frees again costs one complete save, not the saves
/// until a restart.
final class EngineStateStore: Sendable {
    /// What one save writes.
    struct Save: Sendable {
        var catalog: [UInt8]
        /// Changed users' states, in any order, encoded when written; `nil` deletes the user's record.
        var users: [(userID: String, state: UserStateSnapshot?)]
        /// How many users the engine holds.
        var userCount: Int
        /// Whether `users` holds every user (``wantsCompleteSave``): the records saved before
        /// are then dropped instead of kept beside the new ones.
        var complete = false
    }

    /// A complete save is asked for (``wantsCompleteSave``) when the chunks hold more than this
    /// many records per user (and more than ``compactionMinimum``): the file then holds at most
    /// about this many times the live state. A complete save encodes the users that did not
    /// change too, but reads nothing back (a compaction would read every chunk): under a high
    /// write rate most users are in each save anyway.
    static let compactionFactor = 2
    /// The page size of a new state file.
    static let pageSize = 65_536
    /// Below this many records a complete save is never asked for (small states).
    static let compactionMinimum = 16_384

    private struct State: ~Copyable {
        var writing = false
        var failed = false
        /// The records the chunks hold, and the users of the last save.
        var records = 0
        var userCount = 0
        /// How long the last save took to encode and write.
        var lastWrite: Duration = .zero
    }

    /// Guarded by `queue` (every use of it runs there, or before the queue has work).
    private final class Connection: @unchecked Sendable {
        let sqlite: SQLiteConnection
        init(_ sqlite: SQLiteConnection) { self.sqlite = sqlite }
    }

    private let connection: Connection
    private let queue = DispatchQueue(label: "segment-evaluator.engine-state")
    private let state = Mutex(State())
    private let seq: Atomic<UInt64>
    private let logger: Logger
    /// The file's path.
    let path: String

    /// The store change at which the last complete state was saved (0: never).
    var stateSeq: UInt64 { self.seq.load(ordering: .acquiring) }

    /// Whether a save may be handed over now: none is being written.
    var canSave: Bool { self.state.withLock { !$0.writing } }

    /// Whether the next save should hold every user (``Save/complete``): the last save failed or
    /// was lost, or the chunks hold many more records than there are users.
    var wantsCompleteSave: Bool {
        self.state.withLock {
            $0.failed || ($0.records > Self.compactionMinimum && $0.records > Self.compactionFactor * $0.userCount)
        }
    }

    /// How long the last save written took to encode and write (on this store's thread).
    var lastWriteDuration: Duration { self.state.withLock { $0.lastWrite } }

    /// Opens (creating if needed) `engine-state.sqlite` in `directory`, which must exist.
    init(directory: String, logger: Logger) throws(SegmentEvaluatorError) {
        self.path = directory + "/engine-state.sqlite"
        self.logger = logger
        do {
            // Large pages: a save writes megabytes of chunks, and SQLite writes (and checkpoints) a
            // WAL frame per page.
            let sqlite = try SQLiteConnection(
                path: self.path,
                options: .init(journalMode: .wal, synchronous: .normal, pageSize: Self.pageSize)
            )
            try Self.migrate(sqlite)
            let records = try sqlite.prepare("SELECT coalesce(sum(records), 0) FROM engine_chunks")
            _ = try records.step()
            let recordCount = records.int(at: 0)
            records.reset()
            self.connection = Connection(sqlite)
            self.state.withLock {
                // Until the first save tells: as if every record were a user's.
                $0.records = recordCount
                $0.userCount = recordCount
            }
            let select = try sqlite.prepare("SELECT value FROM meta WHERE key = 'state_seq'")
            self.seq = Atomic(try select.step() ? UInt64(select.int64(at: 0)) : 0)
        } catch let error as SQLiteError where error.code == .corrupt || error.code == .notADatabase {
            throw SegmentEvaluatorError(.unusableData, "\(self.path) is damaged: \(error)")
        } catch {
            throw SegmentEvaluatorError(.startup, "cannot open \(self.path): \(error)")
        }
    }

    /// Creates the tables, or brings an older file up to date: version 1 kept one row per user
    /// (`engine_users`), rewritten in place at every save; version 2 appends chunks.
    private static func migrate(_ sqlite: SQLiteConnection) throws {
        let version = try sqlite.userVersion()
        guard version < 2 else { return }
        try sqlite.transaction(.immediate) {
            if version == 0 {
                try sqlite.execute(
                    """
                    CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;
                    CREATE TABLE engine_catalog(id INTEGER PRIMARY KEY CHECK (id = 0), state BLOB NOT NULL);
                    """
                )
            }
            try sqlite.execute(EngineStateChunks.schema)
            if version == 1 {
                try Self.appendRows(of: "engine_users", to: sqlite)
                try sqlite.execute("DROP TABLE engine_users")
            }
            try sqlite.setUserVersion(2)
        }
    }

    /// Appends every `(user_id, state)` row of `table` as chunk records.
    /// - Returns: the records appended.
    @discardableResult
    private static func appendRows(of table: String, to sqlite: SQLiteConnection) throws -> Int {
        var writer = try EngineStateChunks.Writer(sqlite)
        let rows = try sqlite.prepare("SELECT user_id, state FROM \(table)")
        while try rows.step() {
            var id = rows.string(at: 0)
            let state = rows.blob(at: 1)
            try id.withUTF8 { id in
                try state.withUnsafeBufferPointer { state in try writer.append(id, state: state) }
            }
        }
        try writer.finish()
        return writer.records
    }

    /// Hands a save taken at store change `seq` to the writer thread (after ``canSave``).
    /// Returns at once.
    func save(_ save: Save, atSeq seq: UInt64) {
        self.state.withLock { $0.writing = true }
        self.queue.async {
            let failed: Bool
            let clock = ContinuousClock()
            let start = clock.now
            do {
                try self.write(save, atSeq: seq)
                self.seq.store(seq, ordering: .releasing)
                failed = false
                self.logger.debug(
                    "engine state saved",
                    metadata: [
                        "seq": "\(seq)", "users": "\(save.users.count)", "complete": "\(save.complete)",
                        "took": "\(clock.now - start)",
                    ]
                )
            } catch {
                self.logger.error(
                    "cannot save the engine state; the next save will hold every user (a restart meanwhile replays from the last saved state)",
                    metadata: ["error": "\(error)", "path": "\(self.path)"]
                )
                failed = true
            }
            let took = clock.now - start
            self.state.withLock { state in
                state.writing = false
                // A complete save written makes up for any failed before it.
                state.failed = failed || (state.failed && !save.complete)
                state.lastWrite = took
            }
        }
        // No trim here: under load the next save frees and needs as much again, and giving the
        // pages back only to fault them in (zeroed) afterwards cost a fifth of the evaluator's CPU
        // under sustained live load. The feed trims when it goes idle (see `FeedApplier`).
    }

    /// Returns the process's free memory to the system on this store's thread, after any save
    /// in flight (see ``FreeMemory/releaseToSystem()``). Returns at once.
    func releaseFreeMemory() {
        self.queue.async { FreeMemory.releaseToSystem() }
    }

    private func write(_ save: Save, atSeq seq: UInt64) throws {
        let sqlite = self.connection.sqlite
        let records = try sqlite.transaction(.immediate) {
            let catalog = try sqlite.cachedStatement(
                "INSERT INTO engine_catalog(id, state) VALUES (0, ?1) ON CONFLICT(id) DO UPDATE SET state = ?1"
            )
            try catalog.bind(save.catalog, at: 1)
            try catalog.execute()
            if save.complete {
                try sqlite.execute("DELETE FROM engine_chunks")
            }
            var writer = try EngineStateChunks.Writer(sqlite)
            // Borrowed through the buffer: taking each (id, state) pair out copied it, six reference counts.
            try save.users.withUnsafeBufferPointer { users in
                for i in users.indices {
                    try writer.append(users[i].userID, state: users[i].state)
                }
            }
            try writer.finish()
            try Self.setStateSeq(seq, in: sqlite)
            return writer.records
        }
        self.state.withLock {
            $0.records = save.complete ? records : $0.records + records
            $0.userCount = save.userCount
        }
    }

    private static func setStateSeq(_ seq: UInt64, in sqlite: SQLiteConnection) throws {
        let save = try sqlite.cachedStatement(
            "INSERT INTO meta(key, value) VALUES ('state_seq', ?1) ON CONFLICT(key) DO UPDATE SET value = ?1"
        )
        try save.bind(Int64(seq), at: 1)
        try save.execute()
    }

    /// Notes that a save was taken but will never be written (the changed users it held are gone):
    /// an incremental save after it would be incomplete, so the next one holds every user.
    func abandon() {
        self.state.withLock { $0.failed = true }
    }

    /// Waits until every handed-over save is written.
    func flush() {
        self.queue.sync {}
    }

    /// The saved state, if any: the catalog and every user's newest record. Called at start-up.
    func load() throws(SegmentEvaluatorError) -> (catalog: [UInt8], users: [[UInt8]])? {
        do {
            return try self.queue.sync {
                let sqlite = self.connection.sqlite
                let catalog = try sqlite.prepare("SELECT state FROM engine_catalog WHERE id = 0")
                guard self.stateSeq > 0, try catalog.step() else { return nil }
                let bytes = catalog.blob(at: 0)
                var records: [[UInt8]] = []
                try EngineStateChunks.forEachNewestRecord(in: sqlite) { _, state in records.append(Array(state)) }
                return (bytes, records)
            }
        } catch {
            throw SegmentEvaluatorError(.storage, "cannot read the saved engine state: \(error)")
        }
    }

    /// Removes the saved state (the evaluator is being rebuilt from the store), after any save
    /// in flight; saves are accepted again afterwards.
    func reset() throws(SegmentEvaluatorError) {
        do {
            try self.queue.sync {
                let sqlite = self.connection.sqlite
                try sqlite.transaction(.immediate) {
                    try sqlite.execute("DELETE FROM engine_catalog; DELETE FROM engine_chunks; DELETE FROM meta;")
                }
                self.state.withLock { $0.records = 0 }
            }
        } catch {
            throw SegmentEvaluatorError(.storage, "cannot reset the saved engine state: \(error)")
        }
        self.seq.store(0, ordering: .releasing)
        self.state.withLock { $0.failed = false }
    }

    /// Takes over a state saved by an older version inside the transition log's database (file
    /// `oldPath`): copies its tables here unless this file already holds a state. Run once, by
    /// the transition log's migration, before any save.
    func adopt(from oldPath: String, stateSeq: UInt64) throws {
        guard stateSeq > 0, self.stateSeq == 0 else { return }
        try self.queue.sync {
            let sqlite = self.connection.sqlite
            let attach = try sqlite.prepare("ATTACH DATABASE ? AS old")
            try attach.bind(oldPath, at: 1)
            try attach.execute()
            defer { try? sqlite.execute("DETACH DATABASE old") }
            try sqlite.transaction(.immediate) {
                try sqlite.execute("INSERT OR REPLACE INTO engine_catalog SELECT id, state FROM old.engine_catalog")
                let records = try Self.appendRows(of: "old.engine_users", to: sqlite)
                self.state.withLock {
                    $0.records += records
                    $0.userCount += records
                }
                try Self.setStateSeq(stateSeq, in: sqlite)
            }
        }
        self.seq.store(stateSeq, ordering: .releasing)
    }
}
