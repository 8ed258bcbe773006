extension SQLiteConnection {
    /// How a connection opens its database file and the pragmas it sets right after opening.
    ///
    /// The defaults suit a read-write connection of a long-lived service: WAL, `synchronous=NORMAL`,
    /// a 5 second busy timeout, SQLite's default cache and no memory map.
    public struct Options: Sendable, Hashable {
        /// The `journal_mode` pragma.
        public enum JournalMode: String, Sendable, Hashable {
            /// Write-ahead log: readers do not block the writer and the writer does not block readers.
            case wal
            /// Rollback journal deleted at the end of each transaction (SQLite's default).
            case delete
            /// Rollback journal kept in memory; for scratch databases only.
            case memory
        }

        /// The `synchronous` pragma: how often SQLite waits for the disk.
        public enum Synchronous: String, Sendable, Hashable {
            /// Never syncs. A power loss can corrupt the database.
            case off
            /// In WAL mode, syncs at checkpoints only: a power loss can roll back the last
            /// transactions, but never corrupts the database.
            case normal
            /// Syncs the WAL at every commit: committed transactions survive a power loss.
            case full
        }

        /// Opens the file read-only (`SQLITE_OPEN_READONLY`). Default `false`.
        public var readOnly: Bool
        /// Creates the file when it does not exist; ignored when `readOnly`. Default `true`.
        public var createIfMissing: Bool
        /// The journal mode to set, or `nil` to keep the file's. Not set on read-only connections.
        /// Default `.wal`.
        public var journalMode: JournalMode?
        /// The `synchronous` pragma, or `nil` for SQLite's default (`FULL`). Default `.normal`.
        public var synchronous: Synchronous?
        /// How long a statement waits for a lock held by another connection before failing with
        /// `SQLITE_BUSY`. Default 5 seconds.
        public var busyTimeout: Duration
        /// The page cache size in KiB (`cache_size = -N`), or `nil` for SQLite's default (2 MiB).
        public var cacheSizeKiB: Int?
        /// The maximum number of bytes of the file to memory-map (`mmap_size`), or `nil` for none.
        public var mmapSize: Int?
        /// The most statements `cachedStatement(_:)` keeps; the cache is emptied when it would grow
        /// past this. Default 128.
        public var statementCacheCapacity: Int
        /// The page size in bytes (`page_size`, a power of two from 512 to 65536) for a database
        /// created by this connection, or `nil` for SQLite's default (4096). Set before the
        /// journal mode, the only time it can take effect in WAL mode; ignored for an existing
        /// database.
        public var pageSize: Int?

        /// Creates options; every parameter has the default documented on its property.
        /// - Parameters:
        ///   - readOnly: Open the file read-only.
        ///   - createIfMissing: Create the file when it does not exist.
        ///   - journalMode: The journal mode to set, or `nil` to keep the file's.
        ///   - synchronous: The `synchronous` pragma, or `nil` for SQLite's default.
        ///   - busyTimeout: How long to wait for another connection's lock.
        ///   - cacheSizeKiB: The page cache size in KiB, or `nil` for SQLite's default.
        ///   - mmapSize: Bytes of the file to memory-map, or `nil` for none.
        ///   - statementCacheCapacity: The most statements the statement cache keeps.
        ///   - pageSize: The page size of a database this connection creates, or `nil` for SQLite's default.
        public init(
            readOnly: Bool = false,
            createIfMissing: Bool = true,
            journalMode: JournalMode? = .wal,
            synchronous: Synchronous? = .normal,
            busyTimeout: Duration = .seconds(5),
            cacheSizeKiB: Int? = nil,
            mmapSize: Int? = nil,
            statementCacheCapacity: Int = 128,
            pageSize: Int? = nil
        ) {
            self.readOnly = readOnly
            self.createIfMissing = createIfMissing
            self.journalMode = journalMode
            self.synchronous = synchronous
            self.busyTimeout = busyTimeout
            self.cacheSizeKiB = cacheSizeKiB
            self.mmapSize = mmapSize
            self.statementCacheCapacity = statementCacheCapacity
            self.pageSize = pageSize
        }
    }
}
