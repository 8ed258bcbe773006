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
    let clock: StoreClock
    let logger: Logger
    /// How long a feed subscriber may go unseen before the store forgets it (and releases what
    /// it held), in ms.
    let feedSubscriberExpiryMs: Int64

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
            try StoreSchema.migrate(connection)
            // Checkpoint the WAL every 64 MiB rather than SQLite's 4 MiB default: bulk writes
            // then copy pages back to the database far less often.
            try connection.execute("PRAGMA wal_autocheckpoint = 16384")
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
        let (seconds, attoseconds) = configuration.feedSubscriberExpiry.components
        self.feedSubscriberExpiryMs = seconds * 1000 + attoseconds / 1_000_000_000_000_000
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
