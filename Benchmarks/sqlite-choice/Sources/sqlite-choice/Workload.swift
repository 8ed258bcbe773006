import Foundation

/// A small, fast, seeded generator so every library sees the same data.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// One ingested event, as the store would have it after decoding a request.
struct Event {
    var userKey: Int64
    var atMs: Int64
    var name: String
    /// ~40 bytes, as a serialized protobuf map would be; `Data` because that is what generated protobuf code uses.
    var properties: Data
    var eventID: String?
}

/// The generated users, events and lookup keys, built before any timing starts.
struct Workload {
    var userIDs: [String]
    var userAttributes: [Data]
    var events: [Event]
    var lookupIDs: [String]

    static let eventNames = ["page_view", "add_to_cart", "purchase", "signup", "login", "search", "click", "share"]

    init(users: Int, events: Int, lookups: Int, seed: UInt64 = 42) {
        var random = SplitMix64(state: seed)
        func bytes(_ count: Int) -> Data {
            var data = Data(count: count)
            for index in 0..<count { data[index] = UInt8(truncatingIfNeeded: random.next()) }
            return data
        }
        self.userIDs = (0..<users).map { "u-\($0)" }
        self.userAttributes = (0..<users).map { _ in bytes(64) }
        let startMs: Int64 = 1_760_000_000_000
        var eventCounter = 0
        self.events = (0..<events).map { index in
            let carriesID = random.next() % 100 < 60
            if carriesID { eventCounter += 1 }
            return Event(
                userKey: Int64(random.next() % UInt64(users)) + 1,
                atMs: startMs + Int64(index) * 3,
                name: Self.eventNames[Int(random.next() % UInt64(Self.eventNames.count))],
                properties: bytes(36 + Int(random.next() % 9)),
                eventID: carriesID ? "e-\(eventCounter)" : nil
            )
        }
        let userIDs = self.userIDs
        self.lookupIDs = (0..<lookups).map { _ in userIDs[Int(random.next() % UInt64(users))] }
    }
}

/// The candidate schema from the store's design, and the variants measured.
enum Schema {
    static let tables = """
        CREATE TABLE users(
            user_key INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            attributes BLOB NOT NULL,
            updated_seq INTEGER NOT NULL
        );
        CREATE TABLE events(
            event_key INTEGER PRIMARY KEY,
            user_key INTEGER NOT NULL,
            at_ms INTEGER NOT NULL,
            name TEXT NOT NULL,
            properties BLOB,
            event_id TEXT
        );
        CREATE TABLE change_log(
            seq INTEGER PRIMARY KEY,
            committed_at_ms INTEGER NOT NULL,
            kind INTEGER NOT NULL,
            payload BLOB
        );
        """
    static let byUserIndex = "CREATE INDEX events_by_user ON events(user_key);"
    static let dedupIndex =
        "CREATE UNIQUE INDEX events_dedup ON events(user_key, event_id) WHERE event_id IS NOT NULL;"

    static let logAsStoreTables = """
        CREATE TABLE user_seqs(user_key INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY(user_key, seq)) WITHOUT ROWID;
        CREATE TABLE event_ids(user_key INTEGER NOT NULL, event_id TEXT NOT NULL, PRIMARY KEY(user_key, event_id))
            WITHOUT ROWID;
        """
    static let insertUserSeq = "INSERT OR IGNORE INTO user_seqs(user_key, seq) VALUES (?, ?)"
    static let insertEventID = "INSERT OR IGNORE INTO event_ids(user_key, event_id) VALUES (?, ?)"

    static let insertUser = "INSERT INTO users(user_key, id, attributes, updated_seq) VALUES (?, ?, ?, 0)"
    static let insertEvent = "INSERT INTO events(user_key, at_ms, name, properties, event_id) VALUES (?, ?, ?, ?, ?)"
    static let insertChange = "INSERT INTO change_log(committed_at_ms, kind, payload) VALUES (?, 1, ?)"
    static let userByID = "SELECT user_key, attributes, updated_seq FROM users WHERE id = ?"
}

/// Which secondary indexes exist on `events`, and the page cache size.
///
/// `e` and `f` are the profile store's own draft schema (`Sources/ProfileStore/Database/StoreSchema.swift`):
/// no `events` table; each batch is one `change_log` row holding the whole batch, plus one `user_seqs` row per
/// distinct user and one `event_ids` row per event id, both `WITHOUT ROWID` tables keyed by user. Our wrapper only.
enum Variant: String, CaseIterable {
    case a, b, c, d, e, f

    var label: String {
        switch self {
        case .a: "a: no event indexes"
        case .b: "b: events_by_user"
        case .c: "c: by_user + dedup"
        case .d: "d: c + 256 MiB cache"
        case .e: "e: log-as-store draft"
        case .f: "f: e + 256 MiB cache"
        }
    }

    var indexSQL: String {
        switch self {
        case .a: ""
        case .b: Schema.byUserIndex
        case .c, .d: Schema.byUserIndex + "\n" + Schema.dedupIndex
        case .e, .f: Schema.logAsStoreTables
        }
    }

    /// `cache_size` in KiB, or nil for SQLite's default (2 MiB).
    var cacheKiB: Int? {
        self == .d || self == .f ? 262_144 : nil
    }
}

/// What one run measured.
struct Result {
    var usersPerSecond: Double
    var eventsPerSecond: Double
    /// Throughput over the last 10% of the events, when the tables and indexes are largest.
    var lastTenthPerSecond: Double
    var lookupsInOneReadPerSecond: Double
    var lookupsOneReadEachPerSecond: Double
    var checksum: Int
    /// Process CPU time (all threads) spent per event during the event phase, in microseconds.
    var cpuMicrosecondsPerEvent: Double
    /// Bytes passed to write system calls per event during the event phase (WAL, checkpoints).
    var bytesWrittenPerEvent: Double
    var pragmas: String
    var fileMiB = 0

    /// The better of each figure from two runs of the same configuration.
    func best(with other: Result) -> Result {
        var best = self
        best.usersPerSecond = max(self.usersPerSecond, other.usersPerSecond)
        best.eventsPerSecond = max(self.eventsPerSecond, other.eventsPerSecond)
        best.lastTenthPerSecond = max(self.lastTenthPerSecond, other.lastTenthPerSecond)
        best.lookupsInOneReadPerSecond = max(self.lookupsInOneReadPerSecond, other.lookupsInOneReadPerSecond)
        best.lookupsOneReadEachPerSecond = max(self.lookupsOneReadEachPerSecond, other.lookupsOneReadEachPerSecond)
        best.cpuMicrosecondsPerEvent = min(self.cpuMicrosecondsPerEvent, other.cpuMicrosecondsPerEvent)
        best.bytesWrittenPerEvent = min(self.bytesWrittenPerEvent, other.bytesWrittenPerEvent)
        return best
    }
}

extension Duration {
    var seconds: Double {
        Double(self.components.seconds) + Double(self.components.attoseconds) / 1e18
    }
}

/// Counters that other processes on the machine cannot disturb much, unlike wall-clock throughput.
struct ProcessCounters {
    /// CPU time of the whole process, all threads (`CLOCK_PROCESS_CPUTIME_ID`).
    var cpu: Duration
    /// Bytes passed to `write`-like system calls so far (`wchar` in `/proc/self/io`; 0 where unavailable).
    var bytesWritten: Int

    static func now() -> ProcessCounters {
        var time = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
        var written = 0
        if let text = try? String(contentsOfFile: "/proc/self/io", encoding: .utf8) {
            for line in text.split(separator: "\n") where line.hasPrefix("wchar:") {
                written = Int(line.dropFirst("wchar:".count).trimmingCharacters(in: .whitespaces)) ?? 0
            }
        }
        return ProcessCounters(cpu: .seconds(time.tv_sec) + .nanoseconds(time.tv_nsec), bytesWritten: written)
    }
}
