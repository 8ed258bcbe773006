import CSQLite
import Dispatch
import Synchronization

/// Copies a WAL database's committed pages back into the database file on a thread of its own, so that no commit
/// waits for it.
///
/// SQLite's automatic checkpoint runs inside the commit that takes the WAL past its threshold: that commit copies
/// every page the WAL holds into the database file and waits for the disk (at a 64 MiB threshold, commit p99 went
/// from 12–23 ms to 68–81 ms on our machines: `dev/wal-commit-times.py`) while whoever waits for the commit — an
/// import's acknowledgement, a live write — waits with it.
/// Attached to the writer connection with ``attach(to:)``, the checkpointer replaces it: the writer's commit only
/// signals, and a `PASSIVE` checkpoint on a connection of the checkpointer's own copies the pages while the writer
/// goes on (in WAL mode a checkpoint runs beside a writer and its readers). The writer starts the WAL over at its
/// beginning at its first commit after a checkpoint that copied everything, as with the automatic checkpoint.
///
/// A backstop keeps the WAL bounded: a commit that finds `backstopFrames` or more in the WAL checkpoints inline, as
/// SQLite itself would have. SQLite starts the WAL over only at a write that begins after a checkpoint copied all of
/// it, which a writer committing back to back seldom lets a checkpoint beside it finish; the inline one then copies
/// only what the checkpointer's last run had not (and everything when that run failed).
///
/// ```swift
/// let writer = try SQLiteConnection(path: path)
/// let checkpointer = try WALCheckpointer(path: path, label: "transitions")
/// checkpointer.attach(to: writer)
/// // … commits on `writer` …
/// checkpointer.close()
/// ```
public final class WALCheckpointer: Sendable {
    /// Frames in the WAL (pages, as the database's page size) from which a commit asks for a checkpoint.
    public let thresholdFrames: Int
    /// Frames in the WAL from which a commit checkpoints inline.
    public let backstopFrames: Int
    /// The checkpointer's own connection; `nil` once closed. Used on `queue` (and by `close()`).
    private let connection: Mutex<SQLiteConnection?>
    private let queue: DispatchQueue
    /// A checkpoint is queued and has not started: later commits do not queue another.
    private let scheduled = Atomic<Bool>(false)
    private let completedCount = Atomic<Int>(0)
    private let inlineCount = Atomic<Int>(0)
    private let onFailure: (@Sendable (SQLiteError) -> Void)?

    /// Opens the checkpointer's connection to an existing WAL database.
    /// - Parameters:
    ///   - path: the database file (its writer has created it and set WAL mode).
    ///   - label: names the checkpointer's thread (queue label `sqlite-checkpoint.LABEL`).
    ///   - thresholdFrames: frames in the WAL from which a commit asks for a checkpoint; SQLite's automatic
    ///     checkpoint uses 1,000.
    ///   - backstopFrames: frames in the WAL from which a commit checkpoints inline (at least `thresholdFrames`).
    ///   - onFailure: told about a checkpoint that failed (an I/O error); the next commit past the threshold tries
    ///     again.
    /// - Throws: `SQLiteError` when the database cannot be opened.
    public init(
        path: String,
        label: String,
        thresholdFrames: Int = 1000,
        backstopFrames: Int = 16_384,
        onFailure: (@Sendable (SQLiteError) -> Void)? = nil
    ) throws(SQLiteError) {
        // `synchronous = NORMAL`: the checkpoint syncs the WAL before copying and the database file after, so the
        // WAL is never started over ahead of the pages it held being on disk.
        let connection = try SQLiteConnection(
            path: path,
            options: .init(createIfMissing: false, journalMode: nil, synchronous: .normal, statementCacheCapacity: 0)
        )
        self.connection = Mutex(connection)
        self.queue = DispatchQueue(label: "sqlite-checkpoint.\(label)")
        self.thresholdFrames = max(thresholdFrames, 1)
        self.backstopFrames = max(backstopFrames, self.thresholdFrames)
        self.onFailure = onFailure
    }

    /// Makes `writer`'s commits hand their checkpoints to this checkpointer instead of running SQLite's automatic
    /// one. The writer keeps the checkpointer alive as long as it is open.
    /// - Parameter writer: the database's writer connection.
    public func attach(to writer: SQLiteConnection) {
        writer.setWALCommitHook(self)
    }

    /// Checkpoints that ran on the checkpointer's thread.
    public var completedCheckpoints: Int { self.completedCount.load(ordering: .relaxed) }
    /// Checkpoints a commit ran inline because the WAL had reached `backstopFrames`.
    public var inlineCheckpoints: Int { self.inlineCount.load(ordering: .relaxed) }

    /// Waits for a queued or running checkpoint, then closes the connection. Commits after this checkpoint only at
    /// the backstop.
    public func close() {
        self.queue.sync {}
        self.connection.withLock { connection in
            connection?.close()
            connection = nil
        }
    }

    /// Called by the writer's WAL hook after each commit, on the writer's thread.
    /// - Parameters:
    ///   - frames: the frames now in the WAL.
    ///   - writer: the writer's handle, for an inline checkpoint.
    ///   - schema: the attached database the commit wrote (`main`).
    func committed(frames: Int, writer: OpaquePointer?, schema: UnsafePointer<CChar>?) {
        if frames >= self.backstopFrames {
            // What SQLite's automatic checkpoint does; a failure shows again at the next commit.
            sqlite3_wal_checkpoint_v2(writer, schema, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
            self.inlineCount.add(1, ordering: .relaxed)
            return
        }
        guard frames >= self.thresholdFrames, !self.scheduled.exchange(true, ordering: .acquiringAndReleasing) else {
            return
        }
        self.queue.async { self.run() }
    }

    private func run() {
        // Cleared first: a commit during this checkpoint queues the next one.
        self.scheduled.store(false, ordering: .releasing)
        var ran = false
        var failure: SQLiteError?
        self.connection.withLock { connection in
            guard let connection else { return }
            ran = true
            do throws(SQLiteError) {
                try connection.checkpoint()
            } catch {
                failure = error
            }
        }
        if let failure {
            self.onFailure?(failure)
        } else if ran {
            self.completedCount.add(1, ordering: .relaxed)
        }
    }
}

extension SQLiteConnection {
    /// Runs a `PASSIVE` checkpoint of the WAL (`sqlite3_wal_checkpoint_v2`): copies as many committed pages into the
    /// database file as no reader still needs from the WAL, without waiting for the writer or the readers.
    /// - Throws: `SQLiteError` when the checkpoint fails; another checkpoint running at the same moment is not a
    ///   failure.
    public func checkpoint() throws(SQLiteError) {
        try self.checkOpen(nil)
        let rc = sqlite3_wal_checkpoint_v2(self.handle, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
        guard rc == SQLITE_OK || rc == SQLITE_BUSY else {
            throw SQLiteError(resultCode: rc, connection: self.handle, sql: "checkpoint")
        }
    }

    /// Installs `checkpointer` as this connection's WAL hook (replacing SQLite's automatic checkpoint) and keeps it
    /// alive with the connection.
    func setWALCommitHook(_ checkpointer: WALCheckpointer) {
        guard self.liveness.isOpen else { return }
        self.walCheckpointer = checkpointer
        sqlite3_wal_hook(
            self.handle,
            { context, writer, schema, frames in
                guard let context else { return SQLITE_OK }
                Unmanaged<WALCheckpointer>.fromOpaque(context).takeUnretainedValue()
                    .committed(frames: Int(frames), writer: writer, schema: schema)
                return SQLITE_OK
            },
            Unmanaged.passUnretained(checkpointer).toOpaque()
        )
    }
}
