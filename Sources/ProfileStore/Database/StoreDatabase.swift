import DaemonSupport
import Logging
import SegmentsSQLite
import SegmentsWire
import SwiftProtobuf

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The store's data: one SQLite file in WAL mode with one writer (group commit) and a few
/// readers, the clock and the change-log head.
///
/// Operations live in extensions by concern: profiles, events, segments, clock, feed, snapshot.
final class StoreDatabase: Sendable {
    let writer: StoreWriter
    let readers: StoreReaders
    let notifier: ProgressNotifier
    /// This store's identity (see `StoreInfo.store_id`).
    let storeID: String
    let clock: StoreClock
    let logger: Logger
    /// How long a feed subscriber may go unseen before the store forgets it (and releases what
    /// it held), in ms.
    let feedSubscriberExpiryMs: Int64
    /// Most segments and lists the store holds.
    let maximumSegments: Int
    let maximumLists: Int
    /// Most items in one write request.
    let maximumBatchItems: Int

    /// Opens (creating and migrating if needed) the database under `configuration.dataDirectory`.
    init(configuration: ProfileStoreConfiguration, logger: Logger) throws(ProfileStoreError) {
        let directory = configuration.dataDirectory
        if mkdir(directory, 0o750) != 0, errno != EEXIST {
            throw ProfileStoreError(
                .startup,
                "cannot create data directory \(directory): \(String(cString: strerror(errno)))"
            )
        }
        let path = directory + "/store.sqlite"
        let connection: SQLiteConnection
        let headSeq: UInt64
        let storeID: String
        let userIndex = DeferredUserIndex(flushThreshold: configuration.userIndexFlushEntries)
        var manualStart: Int64?
        do {
            connection = try SQLiteConnection(
                path: path,
                options: .init(
                    journalMode: .wal,
                    synchronous: configuration.durability == .full ? .full : .normal,
                    cacheSizeKiB: configuration.writerCacheKiB,
                    statementCacheCapacity: 64
                )
            )
            try Self.checkIntegrity(of: connection, path: path, mode: configuration.integrityCheck, logger: logger)
            try StoreSchema.migrate(connection)
            storeID = try Self.storeID(in: connection)
            // Checkpoint the WAL every 64 MiB rather than SQLite's 4 MiB default (bulk writes then copy pages back
            // to the database far less often), on a thread of its own: inline, a checkpoint held the commit that
            // ran it, and every write waiting to be acknowledged behind it, for its whole copy.
            try WALCheckpointer(path: path, label: "store", thresholdFrames: 16_384, backstopFrames: 32_768) { error in
                logger.warning("store checkpoint failed", metadata: ["error": "\(error)"])
            }
            .attach(to: connection)
            try userIndex.rebuild(from: connection)
            let clock = ContinuousClock()
            let filterStart = clock.now
            let eventIDs = try userIndex.loadEventIDFilter(from: connection)
            logger.info(
                "event-id filter loaded",
                metadata: ["event-ids": "\(eventIDs)", "time": "\(clock.now - filterStart)"]
            )
            let head = try connection.prepare("SELECT coalesce(max(seq), 0) FROM change_log")
            _ = try head.step()
            headSeq = UInt64(head.int64(at: 0))
            if case .manual(let startMs) = configuration.clock {
                let saved = try connection.prepare("SELECT value FROM meta WHERE key = 'manual_clock_ms'")
                let savedMs = try saved.step() ? saved.int64(at: 0) : Int64.min
                manualStart = max(startMs, savedMs)
            }
        } catch let error as ProfileStoreError {
            throw error
        } catch {
            throw ProfileStoreError(.startup, "cannot open database \(path): \(error)", underlying: error)
        }
        self.logger = logger
        self.storeID = storeID
        self.feedSubscriberExpiryMs = configuration.feedSubscriberExpiry.inMilliseconds
        self.maximumSegments = configuration.maximumSegments
        self.maximumLists = configuration.maximumLists
        self.maximumBatchItems = configuration.maximumBatchItems
        self.clock = StoreClock(manualStartMs: manualStart)
        self.notifier = ProgressNotifier(headSeq: headSeq)
        self.readers = try StoreReaders(path: path, count: configuration.readerCount)
        self.writer = StoreWriter(
            transaction: WriteTransaction(
                connection: connection,
                clock: self.clock,
                userKeys: UserKeyCache(),
                userIndex: userIndex,
                headSeq: headSeq
            ),
            notifier: self.notifier,
            logger: logger,
            metrics: configuration.metricsEndpoint == nil ? nil : StoreWriter.Metrics()
        )
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

    /// 16 random hexadecimal digits (64 bits), for identities.
    static func randomHexDigits() -> String {
        var generator = SystemRandomNumberGenerator()
        let hex = String(generator.next() as UInt64, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// The store's identity, made at the first start.
    private static func storeID(in connection: SQLiteConnection) throws -> String {
        let select = try connection.prepare("SELECT value FROM meta WHERE key = 'store_id'")
        if try select.step() {
            return select.string(at: 0)
        }
        let made = Self.randomHexDigits() + Self.randomHexDigits()
        let insert = try connection.prepare("INSERT INTO meta(key, value) VALUES ('store_id', ?)")
        try insert.bind(made, at: 1)
        try insert.execute()
        return made
    }

    /// Finishes queued writes and stops the writer and reader threads.
    func close() async {
        await self.writer.shutdown()
        await self.readers.shutdown()
    }
}

// MARK: - Shared helpers

extension StoreDatabase {
    /// Reads a stored attribute map (a serialized `Profile` holding only attributes).
    static func decodeAttributes(_ bytes: [UInt8]) throws -> [String: Segments_V1_Value] {
        try Segments_V1_Profile(serializedBytes: bytes).attributes
    }

    /// Serializes an attribute map for storage.
    static func encodeAttributes(_ attributes: [String: Segments_V1_Value]) throws -> [UInt8] {
        var profile = Segments_V1_Profile()
        profile.attributes = attributes
        return try profile.serializedBytes()
    }

    /// Converts an error thrown inside a write or read into the store's error.
    static func storageError(_ error: any Error, _ what: String) -> ProfileStoreError {
        if let error = error as? ProfileStoreError {
            return error
        }
        return ProfileStoreError(.storage, "\(what) failed: \(error)", underlying: error)
    }
}

extension StoreDatabase {
    /// Refuses a write request of more than ``maximumBatchItems`` items, before anything of it is stored.
    func checkBatchSize(_ count: Int, of noun: String) throws(ProfileStoreError) {
        guard count > self.maximumBatchItems else { return }
        throw ProfileStoreError(
            .resourceExhausted,
            "the request holds \(count) \(noun); the limit is \(self.maximumBatchItems) per request (--max-batch): "
                + "send them in smaller batches (nothing of this request was stored)"
        )
    }
}
