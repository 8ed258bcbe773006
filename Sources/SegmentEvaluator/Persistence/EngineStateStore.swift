import DaemonSupport
import Dispatch
import Logging
import SegmentEngine
import SegmentsSQLite
import Synchronization

/// The engine's saved state — its catalog and one record per user, as of one store change — in a
/// SQLite file of its own (`engine-state.sqlite`), written on a thread of its own.
///
/// Saving the state rewrites every user changed since the last save: at a high write rate that
/// is most users, hundreds of megabytes at a million users. Written in the transition log's
/// transaction, it held up the change feed for the whole write every few seconds. Here the
/// feed only hands over the encoded records; the write happens while the feed goes on, and
/// ``stateSeq`` moves when it has committed.
///
/// What keeps a restart exact: a save is handed over only after the transitions and checkpoint
/// of the same store change have committed in the transition log, so the saved state is never
/// ahead of the log (a restart replays from ``stateSeq`` and does not record again what the
/// checkpoint covers). Saves are incremental — each holds the users changed since the previous
/// one — so they are written in order, at most one in flight (``canSave``: the core takes a
/// save only when none is), and after a failed or lost one (``abandon()``) no later save is
/// written until a reset or restart: ``stateSeq`` stays at the last complete state.
final class EngineStateStore: Sendable {
    /// What one save writes.
    struct Save: Sendable {
        var catalog: [UInt8]
        /// Changed users' states, in any order, encoded when written; `nil` deletes the user's record.
        var users: [(userID: String, state: UserStateSnapshot?)]
    }

    private struct State: ~Copyable {
        var writing = false
        var failed = false
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

    /// Whether a save may be handed over now: none is being written, and none failed or was lost.
    var canSave: Bool { self.state.withLock { !$0.writing && !$0.failed } }

    /// How long the last save written took to encode and write (on this store's thread).
    var lastWriteDuration: Duration { self.state.withLock { $0.lastWrite } }

    /// Opens (creating if needed) `engine-state.sqlite` in `directory`, which must exist.
    init(directory: String, logger: Logger) throws(SegmentEvaluatorError) {
        self.path = directory + "/engine-state.sqlite"
        self.logger = logger
        do {
            let sqlite = try SQLiteConnection(path: self.path, options: .init(journalMode: .wal, synchronous: .normal))
            if try sqlite.userVersion() == 0 {
                try sqlite.transaction(.immediate) {
                    try sqlite.execute(
                        """
                        CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;
                        CREATE TABLE engine_catalog(id INTEGER PRIMARY KEY CHECK (id = 0), state BLOB NOT NULL);
                        CREATE TABLE engine_users(user_id TEXT PRIMARY KEY, state BLOB NOT NULL) WITHOUT ROWID;
                        """
                    )
                    try sqlite.setUserVersion(1)
                }
            }
            self.connection = Connection(sqlite)
            let select = try sqlite.prepare("SELECT value FROM meta WHERE key = 'state_seq'")
            self.seq = Atomic(try select.step() ? UInt64(select.int64(at: 0)) : 0)
        } catch {
            throw SegmentEvaluatorError(.startup, "cannot open \(self.path): \(error)")
        }
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
            } catch {
                self.logger.error(
                    "cannot save the engine state; no state is saved until restart (a restart replays from the last one)",
                    metadata: ["error": "\(error)", "path": "\(self.path)"]
                )
                failed = true
            }
            let took = clock.now - start
            self.state.withLock { state in
                state.writing = false
                state.failed = state.failed || failed
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
        try sqlite.transaction(.immediate) {
            let catalog = try sqlite.cachedStatement(
                "INSERT INTO engine_catalog(id, state) VALUES (0, ?1) ON CONFLICT(id) DO UPDATE SET state = ?1"
            )
            try catalog.bind(save.catalog, at: 1)
            try catalog.execute()
            let upsert = try sqlite.cachedStatement(
                "INSERT INTO engine_users(user_id, state) VALUES (?1, ?2) ON CONFLICT(user_id) DO UPDATE SET state = ?2"
            )
            let delete = try sqlite.cachedStatement("DELETE FROM engine_users WHERE user_id = ?")
            // In key order: neighbouring rows share B-tree pages. The order is sorted as (id, index)
            // pairs: sorting the pairs themselves copied each snapshot (six reference counts) at every
            // step of the merge, 13 % of the evaluator's CPU under live load at 1M users.
            var order = save.users.indices.map { (userID: save.users[$0].userID, index: $0) }
            order.sort { utf8Less($0.userID, $1.userID) }
            for (userID, index) in order {
                if let state = save.users[index].state {
                    try upsert.bind(userID, at: 1)
                    try upsert.bind(state.encoded(), at: 2)
                    try upsert.execute()
                } else {
                    try delete.bind(userID, at: 1)
                    try delete.execute()
                }
            }
            try Self.setStateSeq(seq, in: sqlite)
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
    /// later saves would be incomplete, so none is taken until a reset or restart.
    func abandon() {
        self.state.withLock { $0.failed = true }
    }

    /// Waits until every handed-over save is written.
    func flush() {
        self.queue.sync {}
    }

    /// The saved state, if any: the catalog and every user record. Called at start-up.
    func load() throws(SegmentEvaluatorError) -> (catalog: [UInt8], users: [[UInt8]])? {
        do {
            return try self.queue.sync {
                let sqlite = self.connection.sqlite
                let catalog = try sqlite.prepare("SELECT state FROM engine_catalog WHERE id = 0")
                guard self.stateSeq > 0, try catalog.step() else { return nil }
                let bytes = catalog.blob(at: 0)
                let users = try sqlite.prepare("SELECT state FROM engine_users")
                var records: [[UInt8]] = []
                while try users.step() {
                    records.append(users.blob(at: 0))
                }
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
                    try sqlite.execute("DELETE FROM engine_catalog; DELETE FROM engine_users; DELETE FROM meta;")
                }
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
                try sqlite.execute(
                    """
                    INSERT OR REPLACE INTO engine_catalog SELECT id, state FROM old.engine_catalog;
                    INSERT OR REPLACE INTO engine_users SELECT user_id, state FROM old.engine_users;
                    """
                )
                try Self.setStateSeq(stateSeq, in: sqlite)
            }
        }
        self.seq.store(stateSeq, ordering: .releasing)
    }
}
