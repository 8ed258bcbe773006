import Foundation
import GRDB

/// The same hot paths through GRDB, written the idiomatic fast way: a `DatabasePool`,
/// `write {}` per batch, cached statements executed with array arguments.
enum GRDBBench {
    static func run(
        path: String,
        workload: Workload,
        variant: Variant,
        synchronous: String,
        batch: Int
    ) throws -> Result? {
        guard variant != .e && variant != .f else { return nil }
        let clock = ContinuousClock()
        var configuration = Configuration()
        let cacheKiB = variant.cacheKiB
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
            if let cacheKiB { try db.execute(sql: "PRAGMA cache_size = -\(cacheKiB)") }
        }
        let pool = try DatabasePool(path: path, configuration: configuration)
        try pool.write { db in try db.execute(sql: Schema.tables + variant.indexSQL) }
        let pragmas = try pool.write { db in
            try ["journal_mode", "synchronous", "cache_size"].map { pragma in
                "\(pragma)=\(try String.fetchOne(db, sql: "PRAGMA \(pragma)") ?? "?")"
            }.joined(separator: " ")
        }

        let userCount = workload.userIDs.count
        let usersStart = clock.now
        for start in stride(from: 0, to: userCount, by: batch) {
            try pool.write { db in
                let insert = try db.cachedStatement(sql: Schema.insertUser)
                for index in start..<min(start + batch, userCount) {
                    try insert.execute(arguments: [index + 1, workload.userIDs[index], workload.userAttributes[index]])
                }
            }
        }
        let usersElapsed = clock.now - usersStart

        let events = workload.events
        let tailStartIndex = events.count - events.count / 10
        var tailStart = clock.now
        let eventsStart = clock.now
        let countersStart = ProcessCounters.now()
        for start in stride(from: 0, to: events.count, by: batch) {
            if start == tailStartIndex { tailStart = clock.now }
            let end = min(start + batch, events.count)
            try pool.write { db in
                let insert = try db.cachedStatement(sql: Schema.insertEvent)
                for index in start..<end {
                    let event = events[index]
                    try insert.execute(arguments: [
                        event.userKey, event.atMs, event.name, event.properties, event.eventID,
                    ])
                }
                let change = try db.cachedStatement(sql: Schema.insertChange)
                try change.execute(arguments: [
                    events[end - 1].atMs, Data(OursBench.changePayload(first: start, last: end)),
                ])
            }
        }
        let eventsEnd = clock.now
        let countersEnd = ProcessCounters.now()

        var checksum = 0
        let lookups = workload.lookupIDs
        let inOneStart = clock.now
        try pool.read { db in
            let select = try db.cachedStatement(sql: Schema.userByID)
            for id in lookups {
                checksum &+= try Self.lookUp(select, id)
            }
        }
        let inOneElapsed = clock.now - inOneStart
        let eachStart = clock.now
        for id in lookups {
            checksum &+= try pool.read { db in try Self.lookUp(db.cachedStatement(sql: Schema.userByID), id) }
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

    private static func lookUp(_ select: Statement, _ id: String) throws -> Int {
        guard let row = try Row.fetchOne(select, arguments: [id]) else { return 0 }
        let userKey: Int = row[0]
        let attributes: Data = row[1]
        let seq: Int = row[2]
        return userKey &+ attributes.count &+ seq
    }
}
