import SegmentsSQL

extension SQLiteConnection: SQLConnection {
    /// `BEGIN IMMEDIATE`: a write transaction takes the write lock at once.
    public var beginWriteSQL: String { "BEGIN IMMEDIATE" }
    /// `BEGIN DEFERRED`: in WAL mode the first read fixes the snapshot the transaction sees.
    public var beginSnapshotSQL: String { "BEGIN DEFERRED" }
    /// A file is never lost.
    public var isLost: Bool { false }
    /// Rows are read from the file as they are stepped through.
    public var streamsRows: Bool { true }
}

extension SQLiteStatement: SQLStatement {}
