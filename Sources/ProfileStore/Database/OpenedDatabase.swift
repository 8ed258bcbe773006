import DaemonSupport
import Logging
import SegmentsPostgres
import SegmentsSQL
import SegmentsSQLite

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The store's database once opened, whichever it is: the writer connection, how to open readers,
/// and the few things that differ between SQLite and PostgreSQL (migrations, where the identity is).
struct OpenedDatabase {
    /// How the store's identity is read and first written.
    struct IdentitySQL {
        let select: String
        let insert: String
    }

    /// The writer connection, not yet migrated.
    let writer: any SQLConnection
    /// The schema's migrations for this database.
    let migrations: [String]
    let identity: IdentitySQL
    /// Opens one more read connection.
    let openReader: @Sendable () throws -> any SQLConnection
    /// The file's path or the URL (without its password), for messages.
    let location: String
    /// Run on the writer connection once migrated (PostgreSQL: records this store as the writer).
    var afterMigration: (any SQLConnection) throws -> Void = { _ in }

    /// Opens (creating if needed) `store.sqlite` under the data directory in WAL mode, checks it and
    /// attaches the checkpointer.
    static func sqlite(
        _ configuration: ProfileStoreConfiguration,
        logger: Logger
    ) throws(ProfileStoreError)
        -> OpenedDatabase
    {
        let directory = configuration.dataDirectory
        if mkdir(directory, 0o750) != 0, errno != EEXIST {
            throw ProfileStoreError(
                .startup,
                "cannot create data directory \(directory): \(String(cString: strerror(errno)))"
            )
        }
        let path = directory + "/store.sqlite"
        do {
            let connection = try SQLiteConnection(
                path: path,
                options: .init(
                    journalMode: .wal,
                    synchronous: configuration.durability == .full ? .full : .normal,
                    cacheSizeKiB: configuration.writerCacheKiB,
                    statementCacheCapacity: 64
                )
            )
            try Self.checkIntegrity(of: connection, path: path, mode: configuration.integrityCheck, logger: logger)
            // Checkpoint the WAL every 64 MiB rather than SQLite's 4 MiB default (bulk writes then copy pages back
            // to the database far less often), on a thread of its own: inline, a checkpoint held the commit that
            // ran it, and every write waiting to be acknowledged behind it, for its whole copy.
            try WALCheckpointer(path: path, label: "store", thresholdFrames: 16_384, backstopFrames: 32_768) { error in
                logger.warning("store checkpoint failed", metadata: ["error": "\(error)"])
            }
            .attach(to: connection)
            return OpenedDatabase(
                writer: connection,
                migrations: StoreSchema.sqliteMigrations,
                identity: IdentitySQL(
                    select: "SELECT value FROM meta WHERE key = 'store_id'",
                    insert: "INSERT INTO meta(key, value) VALUES ('store_id', ?)"
                ),
                openReader: {
                    try SQLiteConnection(
                        path: path,
                        options: .init(readOnly: true, createIfMissing: false, journalMode: nil, synchronous: nil)
                    )
                },
                location: path
            )
        } catch let error as ProfileStoreError {
            throw error
        } catch {
            throw ProfileStoreError(.startup, "cannot open database \(path): \(error)", underlying: error)
        }
    }

    /// The PostgreSQL database of `writer`, a connection that holds the writer lock (see
    /// ``WriterElection``). Readers connect again by themselves when their connection is lost; the
    /// writer does not (the lock went with its session).
    static func postgres(
        writer: PostgresSQLConnection,
        advertisedAddress: String,
        logger: Logger
    ) -> OpenedDatabase {
        let (address, queryTimeout) = (writer.address, writer.queryTimeout)
        var opened = OpenedDatabase(
            writer: writer,
            migrations: StoreSchema.postgresMigrations,
            identity: IdentitySQL(
                select: "SELECT id FROM store_identity",
                insert: "INSERT INTO store_identity(id) VALUES (?)"
            ),
            openReader: {
                try PostgresSQLConnection(
                    address: address,
                    logger: logger,
                    reconnects: true,
                    queryTimeout: queryTimeout
                )
            },
            location: address.description
        )
        opened.afterMigration = { connection in
            try WriterElection.record(advertisedAddress, nowMs: WallClock.nowMs(), in: connection)
        }
        return opened
    }

    /// Refuses a database that fails SQLite's integrity check (a damaged file would otherwise serve and log wrong
    /// data), naming what SQLite found.
    private static func checkIntegrity(
        of connection: SQLiteConnection,
        path: String,
        mode: ProfileStoreConfiguration.IntegrityCheck,
        logger: Logger
    ) throws {
        guard mode != .off else { return }
        let clock = ContinuousClock()
        let start = clock.now
        let pragma = mode == .full ? "integrity_check" : "quick_check"
        var findings: [String] = []
        do {
            let check = try connection.prepare("PRAGMA \(pragma)(10)")
            while try check.step() {
                findings.append(check.string(at: 0))
            }
        } catch {
            // Damaged beyond what the check can walk.
            guard error.code == .corrupt || error.code == .notADatabase else { throw error }
            findings = [error.message]
        }
        guard findings == ["ok"] else {
            throw ProfileStoreError(
                .startup,
                "the database \(path) fails SQLite's integrity check (\(pragma)): "
                    + findings.joined(separator: "; ")
                    + ". Restore it from a backup; --integrity-check off starts anyway, at your own risk"
            )
        }
        logger.info("database integrity checked", metadata: ["check": "\(pragma)", "took": "\(clock.now - start)"])
    }
}
