import SegmentsSQLite
import SegmentsTesting
import Testing

@testable import ProfileStore

/// The cache of user keys in front of the `users` table: bounded, and never wrong.
@Suite struct UserKeyCacheTests {
    @Test func staysBoundedAndAnswersLikeTheTable() async throws {
        try await TemporaryDirectory.with { directory in
            let connection = try SQLiteConnection(path: directory + "/users.sqlite")
            try connection.execute("CREATE TABLE users(user_key INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE)")
            let insert = try connection.prepare("INSERT INTO users(user_key, id) VALUES (?, ?)")
            for key in 1...1_000 {
                try insert.bind(Int64(key * 7), at: 1)
                try insert.bind("user-\(key)", at: 2)
                try insert.execute()
                insert.reset()
            }
            let cache = UserKeyCache(capacity: 64)
            for round in 0..<3 {
                for key in 1...1_000 {
                    // Round 0 reads every key from the table; later rounds partly from the cache.
                    #expect(try cache.key(for: "user-\(key)", in: connection) == Int64(key * 7), "round \(round)")
                    #expect(cache.count <= 64)
                }
            }
            // Full, it drops half of what it holds rather than everything.
            #expect(cache.count > 32)
            #expect(try cache.key(for: "nobody", in: connection) == nil)
        }
    }
}
