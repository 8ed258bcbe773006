import DaemonSupport
import Logging
import SegmentsPostgres
import SegmentsSQL
import SegmentsWire
import SwiftProtobuf
import Synchronization

/// The store's data: one SQLite file in WAL mode, or a PostgreSQL database, with one writer
/// (group commit) and a few readers; the clock and the change-log head.
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
    /// Where the data lives: the SQLite file's path or the PostgreSQL URL (without its password).
    let location: String
    /// Yields the error that stops the store: the writer's database connection lost (PostgreSQL).
    let failures: AsyncStream<ProfileStoreError>
    private let failuresContinuation: AsyncStream<ProfileStoreError>.Continuation
    /// How long a feed subscriber may go unseen before the store forgets it (and releases what
    /// it held), in ms.
    let feedSubscriberExpiryMs: Int64
    /// Most segments and lists the store holds.
    let maximumSegments: Int
    let maximumLists: Int
    /// Most items in one write request.
    let maximumBatchItems: Int
    /// The size of the filter in front of the event-id index, fixed at start (see ``loadEventIDFilter()``).
    private let eventIDFilterCapacity: Int

    /// Opens (creating and migrating if needed) the database: SQLite under
    /// `configuration.dataDirectory`, or the PostgreSQL database of `postgresWriter`, a connection
    /// that holds the writer lock.
    init(
        configuration: ProfileStoreConfiguration,
        postgresWriter: PostgresSQLConnection? = nil,
        logger: Logger
    ) throws(ProfileStoreError) {
        let opened =
            if let postgresWriter {
                OpenedDatabase.postgres(
                    writer: postgresWriter,
                    advertisedAddress: configuration.advertisedAddress,
                    logger: logger
                )
            } else {
                try OpenedDatabase.sqlite(configuration, logger: logger)
            }
        let connection = opened.writer
        let headSeq: UInt64
        let storeID: String
        let userIndex = DeferredUserIndex(flushThreshold: configuration.userIndexFlushEntries)
        let filterCapacity: Int
        var manualStart: Int64?
        do {
            try StoreSchema.migrate(connection, opened.migrations)
            try opened.afterMigration(connection)
            storeID = try Self.storeID(in: connection, opened.identity)
            try userIndex.rebuild(from: connection)
            filterCapacity = try userIndex.beginEventIDFilterLoad(from: connection)
            let head = try connection.prepare("SELECT coalesce(max(seq), 0) FROM change_log")
            _ = try head.step()
            headSeq = UInt64(head.int64(at: 0))
            head.reset()
            if case .manual(let startMs) = configuration.clock {
                let saved = try connection.prepare("SELECT value FROM meta WHERE key = 'manual_clock_ms'")
                let savedMs = try saved.step() ? saved.int64(at: 0) : Int64.min
                saved.reset()
                manualStart = max(startMs, savedMs)
            }
        } catch let error as ProfileStoreError {
            throw error
        } catch {
            throw ProfileStoreError(.startup, "cannot open database \(opened.location): \(error)", underlying: error)
        }
        self.location = opened.location
        self.eventIDFilterCapacity = filterCapacity
        let (failures, failuresContinuation) = AsyncStream.makeStream(of: ProfileStoreError.self)
        (self.failures, self.failuresContinuation) = (failures, failuresContinuation)
        self.logger = logger
        self.storeID = storeID
        self.feedSubscriberExpiryMs = configuration.feedSubscriberExpiry.inMilliseconds
        self.maximumSegments = configuration.maximumSegments
        self.maximumLists = configuration.maximumLists
        self.maximumBatchItems = configuration.maximumBatchItems
        self.clock = StoreClock(manualStartMs: manualStart)
        self.notifier = ProgressNotifier(headSeq: headSeq)
        self.readers = try StoreReaders(count: configuration.readerCount, open: opened.openReader)
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
            metrics: configuration.metricsEndpoint == nil ? nil : StoreWriter.Metrics(),
            onLost: { [failuresContinuation] error in
                failuresContinuation.yield(error)
                failuresContinuation.finish()
            }
        )
    }

    /// Loads the filter in front of the event-id index on a reader connection and hands it to the writer (see
    /// ``DeferredUserIndex/beginEventIDFilterLoad(from:)``); meanwhile the store serves, and every event id is
    /// looked up in the index. Run once, after start-up; returns early when cancelled.
    func loadEventIDFilter() async {
        let clock = ContinuousClock()
        let start = clock.now
        let cancelled = Atomic(false)
        let capacity = self.eventIDFilterCapacity
        do {
            let loaded = try await withTaskCancellationHandler {
                try await self.readers.read { connection in
                    try DeferredUserIndex.loadEventIDFilter(capacity: capacity, from: connection) {
                        cancelled.load(ordering: .relaxed)
                    }
                }
            } onCancel: {
                cancelled.store(true, ordering: .relaxed)
            }
            guard let loaded else { return }
            try await self.writer.write { transaction in
                transaction.userIndex.installEventIDFilter(loaded.filter)
            }
            self.logger.info(
                "event-id filter loaded",
                metadata: ["event-ids": "\(loaded.pairs)", "time": "\(clock.now - start)"]
            )
        } catch {
            guard !cancelled.load(ordering: .relaxed) else { return }
            self.logger.warning(
                "cannot load the event-id filter; every event id is looked up in the index until the next start",
                metadata: ["error": "\(error)"]
            )
        }
    }

    /// 16 random hexadecimal digits (64 bits), for identities.
    static func randomHexDigits() -> String {
        var generator = SystemRandomNumberGenerator()
        let hex = String(generator.next() as UInt64, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// The store's identity, made at the first start.
    private static func storeID(
        in connection: any SQLConnection,
        _ identity: OpenedDatabase.IdentitySQL
    ) throws
        -> String
    {
        let select = try connection.prepare(identity.select)
        if try select.step() {
            defer { select.reset() }
            return select.string(at: 0)
        }
        let made = Self.randomHexDigits() + Self.randomHexDigits()
        let insert = try connection.prepare(identity.insert)
        try insert.bind(made, at: 1)
        try insert.execute()
        return made
    }

    /// Rows read per query when a whole table is read (see ``KeysetPages``): a PostgreSQL query's rows all
    /// arrive together, so no query holds a whole table in memory.
    static let rowsPerQuery = 5000
    /// Change-log entries read per query where a query's rows all arrive together (PostgreSQL), or where the
    /// entries read are held decoded: entries can be megabytes each.
    static let logEntriesPerQuery = 16

    /// Finishes queued writes and stops the writer and reader threads.
    func close() async {
        self.failuresContinuation.finish()
        // The readers' connections first, the writer's last: on SQLite the connection that closes last checkpoints
        // the WAL into the database file and removes it, which a read-only reader that has read the WAL cannot do.
        // So a stopped store leaves one complete file.
        await self.readers.shutdown()
        await self.writer.shutdown()
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
