import Foundation
import SegmentsSQLite

/// The hot paths through our `SegmentsSQLite` wrapper, written the way the store would write them.
enum OursBench {
    static func run(
        path: String,
        workload: Workload,
        variant: Variant,
        synchronous: SQLiteConnection.Options.Synchronous,
        batch: Int
    ) throws -> Result {
        let clock = ContinuousClock()
        let db = try SQLiteConnection(
            path: path,
            options: .init(synchronous: synchronous, cacheSizeKiB: variant.cacheKiB)
        )
        try db.execute(Schema.tables + variant.indexSQL)
        let pragmas = try Self.pragmas(db)

        // Users, in batches too.
        let userCount = workload.userIDs.count
        let usersStart = clock.now
        for start in stride(from: 0, to: userCount, by: batch) {
            try db.transaction(.immediate) {
                let insert = try db.cachedStatement(Schema.insertUser)
                for index in start..<min(start + batch, userCount) {
                    try insert.bind(index + 1, at: 1)
                    try insert.bind(workload.userIDs[index], at: 2)
                    try workload.userAttributes[index].withUnsafeBytes { try insert.bind($0, at: 3) }
                    try insert.execute()
                }
            }
        }
        let usersElapsed = clock.now - usersStart

        // Events: one transaction per batch, with one change-log row.
        let events = workload.events
        let tailStartIndex = events.count - events.count / 10
        var tailStart = clock.now
        let eventsStart = clock.now
        let countersStart = ProcessCounters.now()
        for start in stride(from: 0, to: events.count, by: batch) {
            if start == tailStartIndex { tailStart = clock.now }
            let end = min(start + batch, events.count)
            if variant == .e || variant == .f {
                try Self.logAsStoreBatch(db, events[start..<end], seq: start / batch + 1)
                continue
            }
            try db.transaction(.immediate) {
                let insert = try db.cachedStatement(Schema.insertEvent)
                for index in start..<end {
                    let event = events[index]
                    try insert.bind(event.userKey, at: 1)
                    try insert.bind(event.atMs, at: 2)
                    try insert.bind(event.name, at: 3)
                    try event.properties.withUnsafeBytes { try insert.bind($0, at: 4) }
                    try insert.bind(event.eventID, at: 5)
                    try insert.execute()
                }
                let change = try db.cachedStatement(Schema.insertChange)
                try change.bind(events[end - 1].atMs, at: 1)
                try change.bind(Self.changePayload(first: start, last: end), at: 2)
                try change.execute()
            }
        }
        let eventsEnd = clock.now
        let countersEnd = ProcessCounters.now()

        // Lookups by id on a read-only connection: all in one read transaction, then one read each.
        let reader = try SQLiteConnection(path: path, options: .init(readOnly: true, cacheSizeKiB: variant.cacheKiB))
        var checksum = 0
        let lookups = workload.lookupIDs
        let inOneStart = clock.now
        try reader.transaction(.deferred) {
            let select = try reader.cachedStatement(Schema.userByID)
            for id in lookups {
                checksum &+= try Self.lookUp(select, id)
            }
        }
        let inOneElapsed = clock.now - inOneStart
        let eachStart = clock.now
        for id in lookups {
            checksum &+= try Self.lookUp(reader.cachedStatement(Schema.userByID), id)
        }
        let eachElapsed = clock.now - eachStart

        return Result(
            usersPerSecond: Double(userCount) / usersElapsed.seconds,
            eventsPerSecond: Double(events.count) / (eventsEnd - eventsStart).seconds,
            lastTenthPerSecond: Double(events.count - tailStartIndex) / (eventsEnd - tailStart).seconds,
            lookupsInOneReadPerSecond: Double(lookups.count) / inOneElapsed.seconds,
            lookupsOneReadEachPerSecond: Double(lookups.count) / eachElapsed.seconds,
            checksum: checksum,
            cpuMicrosecondsPerEvent: (countersEnd.cpu - countersStart.cpu).seconds * 1e6 / Double(events.count),
            bytesWrittenPerEvent: Double(countersEnd.bytesWritten - countersStart.bytesWritten) / Double(events.count),
            pragmas: pragmas
        )
    }

    /// One batch in the store's draft schema: the whole batch as one change-log payload, then one
    /// `user_seqs` row per distinct user and one `event_ids` row per event id (a duplicate is skipped).
    private static func logAsStoreBatch(_ db: SQLiteConnection, _ batch: ArraySlice<Event>, seq: Int) throws {
        var payload: [UInt8] = []
        payload.reserveCapacity(batch.count * 64)
        for event in batch {
            withUnsafeBytes(of: (event.userKey.littleEndian, event.atMs.littleEndian)) { payload += $0 }
            payload += event.name.utf8
            payload += event.properties
            if let id = event.eventID { payload += id.utf8 }
        }
        try db.transaction(.immediate) {
            let change = try db.cachedStatement(Schema.insertChange)
            try change.bind(batch.last?.atMs ?? 0, at: 1)
            try change.bind(payload, at: 2)
            try change.execute()
            let userSeq = try db.cachedStatement(Schema.insertUserSeq)
            let eventID = try db.cachedStatement(Schema.insertEventID)
            try userSeq.bind(seq, at: 2)
            for event in batch {
                try userSeq.bind(event.userKey, at: 1)
                try userSeq.execute()
                if let id = event.eventID {
                    try eventID.bind(event.userKey, at: 1)
                    try eventID.bind(id, at: 2)
                    try eventID.execute()
                }
            }
        }
    }

    private static func lookUp(_ select: SQLiteStatement, _ id: String) throws -> Int {
        try select.bind(id, at: 1)
        guard try select.step() else { return 0 }
        let userKey = select.int(at: 0)
        let attributes = select.blob(at: 1)
        let seq = select.int(at: 2)
        select.reset()
        return userKey &+ attributes.count &+ seq
    }

    static func changePayload(first: Int, last: Int) -> [UInt8] {
        withUnsafeBytes(of: (Int64(first).littleEndian, Int64(last).littleEndian)) { Array($0) }
    }

    private static func pragmas(_ db: SQLiteConnection) throws -> String {
        var values: [String] = []
        for pragma in ["journal_mode", "synchronous", "cache_size"] {
            let statement = try db.prepare("PRAGMA \(pragma)")
            if try statement.step() { values.append("\(pragma)=\(statement.string(at: 0))") }
            statement.reset()
        }
        return values.joined(separator: " ")
    }
}
