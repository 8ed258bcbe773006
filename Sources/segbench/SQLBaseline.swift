import Foundation
import SegmentsBenchKit
import SegmentsClient
import SegmentsSQLite

/// The naive approach a user would otherwise build: a relational copy of the same data in
/// SQLite (users with attribute columns, events with an index on `(user_id, name, at_ms)`), and
/// membership recomputed with plain SQL — a whole segment at a time, or one user after a change.
final class SQLBaseline {
    let path: String
    let connection: SQLiteConnection
    let conditions: [String: BenchCondition]

    init(path: String) throws(SegbenchError) {
        self.path = path
        self.conditions = SegmentMix.conditionsByName
        do {
            self.connection = try SQLiteConnection(
                path: path,
                options: .init(journalMode: .wal, synchronous: .normal, cacheSizeKiB: 262_144)
            )
            try self.connection.execute(
                """
                CREATE TABLE IF NOT EXISTS users (
                    id TEXT PRIMARY KEY, plan TEXT, country TEXT, age REAL, signup_at_ms INTEGER,
                    tags TEXT, email_verified INTEGER, lifetime_value REAL);
                CREATE TABLE IF NOT EXISTS events (
                    user_id TEXT NOT NULL, name TEXT NOT NULL, at_ms INTEGER NOT NULL,
                    url TEXT, amount REAL, sku TEXT, campaign TEXT, event_id TEXT);
                """
            )
        } catch {
            throw SegbenchError(.baseline, "cannot create \(path): \(error)")
        }
    }

    /// Loads every generated user and event, then builds the events index.
    /// - Returns: load seconds and index seconds.
    func load(_ generator: DataGenerator) throws(SegbenchError) -> (load: Double, index: Double) {
        let clock = ContinuousClock()
        let start = clock.now
        do {
            let insertUser = try self.connection.prepare("INSERT INTO users VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")
            let insertEvent = try self.connection.prepare("INSERT INTO events VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")
            var index = 0
            while index < generator.scale.users {
                let end = min(generator.scale.users, index + 2000)
                try self.connection.transaction(.immediate) {
                    for i in index..<end {
                        let user = generator.user(i)
                        try Self.bindUser(insertUser, user)
                        try insertUser.execute()
                        for event in user.events {
                            try insertEvent.bind(user.id, at: 1)
                            try insertEvent.bind(event.name, at: 2)
                            try insertEvent.bind(event.atMs, at: 3)
                            try insertEvent.bind(event.url, at: 4)
                            try insertEvent.bind(event.amount, at: 5)
                            try insertEvent.bind(event.sku, at: 6)
                            try insertEvent.bind(event.campaign, at: 7)
                            try insertEvent.bind(event.id, at: 8)
                            try insertEvent.execute()
                        }
                    }
                }
                index = end
            }
        } catch {
            throw SegbenchError(.baseline, "loading the SQL copy failed: \(error)")
        }
        let loaded = clock.now
        do {
            try self.connection.execute(
                "CREATE INDEX IF NOT EXISTS events_user_name_at ON events(user_id, name, at_ms); ANALYZE;"
            )
        } catch {
            throw SegbenchError(.baseline, "indexing the SQL copy failed: \(error)")
        }
        return ((loaded - start).seconds, (clock.now - loaded).seconds)
    }

    static func bindUser(_ statement: SQLiteStatement, _ user: GeneratedUser) throws(SQLiteError) {
        try statement.bind(user.id, at: 1)
        func string(_ key: String) -> String? {
            if case .string(let s) = user.attributes[key] { return s }
            return nil
        }
        func number(_ key: String) -> Double? {
            if case .number(let n) = user.attributes[key] { return n }
            return nil
        }
        try statement.bind(string("plan"), at: 2)
        try statement.bind(string("country"), at: 3)
        try statement.bind(number("age"), at: 4)
        if case .timestamp(let ms) = user.attributes["signup_at"] {
            try statement.bind(ms, at: 5)
        } else {
            try statement.bindNull(at: 5)
        }
        if case .stringList(let tags) = user.attributes["tags"] {
            try statement.bind(tags.joined(separator: ","), at: 6)
        } else {
            try statement.bindNull(at: 6)
        }
        if case .bool(let flag) = user.attributes["email_verified"] {
            try statement.bind(flag ? 1 : 0, at: 7)
        } else {
            try statement.bindNull(at: 7)
        }
        try statement.bind(number("lifetime_value"), at: 8)
    }

    /// The whole-segment count query of a condition.
    func countSQL(_ condition: BenchCondition) throws(SegbenchError) -> String {
        "SELECT count(*) FROM users u WHERE ?1 IS NOT NULL AND \(try condition.sql(segments: self.conditions))"
    }

    /// Counts a segment's members at `nowMs`. Returns the count and the seconds taken.
    func count(_ condition: BenchCondition, nowMs: Int64) throws(SegbenchError) -> (Int, Double) {
        let sql = try self.countSQL(condition)
        let clock = ContinuousClock()
        let start = clock.now
        do {
            let statement = try self.connection.prepare(sql)
            try statement.bind(nowMs, at: 1)
            var count = 0
            while try statement.step() { count = statement.int(at: 0) }
            return (count, (clock.now - start).seconds)
        } catch {
            throw SegbenchError(.baseline, "SQL failed: \(error) — \(sql)")
        }
    }

    /// Lists a segment's member ids sorted; returns rows and seconds.
    func members(_ condition: BenchCondition, nowMs: Int64) throws(SegbenchError) -> (Int, Double) {
        let sql =
            "SELECT u.id FROM users u WHERE ?1 IS NOT NULL AND \(try condition.sql(segments: self.conditions)) ORDER BY u.id"
        let clock = ContinuousClock()
        let start = clock.now
        do {
            let statement = try self.connection.prepare(sql)
            try statement.bind(nowMs, at: 1)
            var rows = 0
            while try statement.step() {
                _ = statement.string(at: 0)
                rows += 1
            }
            return (rows, (clock.now - start).seconds)
        } catch {
            throw SegbenchError(.baseline, "SQL failed: \(error) — \(sql)")
        }
    }

    /// Prepared per-user statements, one per segment: `SELECT <condition> FROM users u WHERE u.id = ?2`.
    func perUserStatements(_ segments: [BenchSegment]) throws(SegbenchError) -> [SQLiteStatement] {
        var statements: [SQLiteStatement] = []
        for segment in segments {
            let sql = "SELECT \(try segment.condition.sql(segments: self.conditions)) FROM users u WHERE u.id = ?2"
            do {
                statements.append(try self.connection.prepare(sql))
            } catch {
                throw SegbenchError(.baseline, "SQL does not prepare: \(error) — \(sql)")
            }
        }
        return statements
    }

    /// Runs one per-user statement; returns membership.
    static func evaluate(_ statement: SQLiteStatement, userID: String, nowMs: Int64) throws(SegbenchError) -> Bool {
        do {
            try statement.bind(nowMs, at: 1)
            try statement.bind(userID, at: 2)
            var member = false
            while try statement.step() { member = statement.int(at: 0) != 0 }
            return member
        } catch {
            throw SegbenchError(.baseline, "per-user SQL failed: \(error)")
        }
    }

    func close() { self.connection.close() }
}

extension Duration {
    /// The duration in seconds as a double.
    var seconds: Double {
        let parts = self.components
        return Double(parts.seconds) + Double(parts.attoseconds) * 1e-18
    }
}
