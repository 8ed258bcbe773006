import Foundation
import SegmentEngine
import SegmentLanguage
import SegmentsSQLite
import SegmentsTesting
import SegmentsWire
import Testing

@testable import SegmentEvaluator

/// The engine's saved state, in its own file and written off the change feed's path.
@Suite struct EngineStateStoreTests {
    /// A save is written in the background; `flush` waits for it; a reopened file has it.
    @Test func savesAreWrittenInOrderAndSurviveAReopen() async throws {
        try await TemporaryDirectory.with { directory in
            let log = try TransitionLog(directory: directory)
            let store = log.engineState
            let state = Self.userStates(["u1", "u2", "u3"])
            store.save(.init(catalog: [1], users: [("u1", state["u1"]), ("u2", state["u2"])], userCount: 2), atSeq: 5)
            store.save(.init(catalog: [2], users: [("u1", nil), ("u3", state["u3"])], userCount: 2), atSeq: 9)
            store.flush()
            #expect(store.canSave)
            #expect(store.stateSeq == 9)

            let reopened = try TransitionLog(directory: directory)
            let saved = try #require(try reopened.engineState.load())
            #expect(saved.catalog == [2])
            let inOrder: ([UInt8], [UInt8]) -> Bool = { $0.lexicographicallyPrecedes($1) }
            let expected = [state["u2"]!.encoded(), state["u3"]!.encoded()].sorted(by: inOrder)
            #expect(saved.users.sorted(by: inOrder) == expected)
            #expect(reopened.stateSeq == 9)
        }
    }

    /// Saves append records; once they are more than twice the users (and past the minimum),
    /// the store asks for a complete save, which replaces them all; the newest state of each user
    /// is what loads.
    @Test func appendedStatesAreReplacedByACompleteSaveAndTheNewestLoads() async throws {
        try await TemporaryDirectory.with { directory in
            let log = try TransitionLog(directory: directory)
            let store = log.engineState
            let count = EngineStateStore.compactionMinimum / 2 + 1
            let ids = (0..<count).map { "user-\($0)" }
            var newest: [String: [UInt8]] = [:]
            var records: [Int] = []
            var askedForComplete: [Bool] = []
            for round in 0..<5 {
                let states = Self.userStates(ids, rank: round)
                let complete = store.wantsCompleteSave
                askedForComplete.append(complete)
                // Round 1 deletes every tenth user; a complete save holds only the users left.
                let users = ids.enumerated().compactMap { index, id -> (userID: String, state: UserStateSnapshot?)? in
                    let deleted = round >= 1 && index % 10 == 0
                    if deleted { return complete || round > 1 ? nil : (id, nil) }
                    return (id, states[id])
                }
                for (id, state) in users { newest[id] = state?.encoded() }
                let save = EngineStateStore.Save(
                    catalog: [UInt8(round)],
                    users: users,
                    userCount: newest.count,
                    complete: complete
                )
                store.save(save, atSeq: UInt64(round + 1))
                store.flush()
                #expect(store.canSave)
                let sqlite = try SQLiteConnection(path: store.path)
                let sum = try sqlite.prepare("SELECT sum(records) FROM engine_chunks")
                _ = try sum.step()
                records.append(sum.int(at: 0))
                sum.reset()
                sqlite.close()
            }
            let left = newest.count
            // After two saves (the second deleting a tenth), the records are more than twice the
            // users left: the third save is complete; two more appended saves do not ask again.
            #expect(askedForComplete == [false, false, true, false, false])
            #expect(records == [count, 2 * count, left, 2 * left, 3 * left])

            let reopened = try TransitionLog(directory: directory)
            let saved = try #require(try reopened.engineState.load())
            #expect(saved.catalog == [4])
            #expect(reopened.stateSeq == 5)
            let inOrder: ([UInt8], [UInt8]) -> Bool = { $0.lexicographicallyPrecedes($1) }
            #expect(saved.users.sorted(by: inOrder) == newest.values.sorted(by: inOrder))
            #expect(saved.users.count == count - (count + 9) / 10)
        }
    }

    /// A state file of version 1 (one row per user, rewritten in place) is read back after the
    /// upgrade to appended chunks.
    @Test func aStateOfVersionOneIsTakenOver() async throws {
        try await TemporaryDirectory.with { directory in
            let states = Self.userStates(["u1", "u2"])
            do {
                let old = try SQLiteConnection(path: directory + "/engine-state.sqlite")
                try old.execute(
                    """
                    CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;
                    CREATE TABLE engine_catalog(id INTEGER PRIMARY KEY CHECK (id = 0), state BLOB NOT NULL);
                    CREATE TABLE engine_users(user_id TEXT PRIMARY KEY, state BLOB NOT NULL) WITHOUT ROWID;
                    INSERT INTO meta VALUES ('state_seq', 7);
                    INSERT INTO engine_catalog VALUES (0, x'0102');
                    """
                )
                let insert = try old.prepare("INSERT INTO engine_users VALUES (?1, ?2)")
                for id in ["u1", "u2"] {
                    try insert.bind(id, at: 1)
                    try insert.bind(states[id]!.encoded(), at: 2)
                    try insert.execute()
                }
                try old.setUserVersion(1)
                old.close()
            }
            let log = try TransitionLog(directory: directory)
            #expect(log.stateSeq == 7)
            let saved = try #require(try log.engineState.load())
            #expect(saved.catalog == [1, 2])
            let inOrder: ([UInt8], [UInt8]) -> Bool = { $0.lexicographicallyPrecedes($1) }
            #expect(
                saved.users.sorted(by: inOrder)
                    == [states["u1"]!.encoded(), states["u2"]!.encoded()].sorted(by: inOrder)
            )
            let engine = try MembershipEngine.restore(
                catalog: MembershipEngine(nowMs: 0).encodeCatalog(),
                users: saved.users
            )
            #expect(engine.userCount == 2)
        }
    }

    /// The states of users with a profile each, taken from an engine.
    static func userStates(_ ids: [String], rank: Int = 0) -> [String: UserStateSnapshot] {
        let engine = MembershipEngine(nowMs: 0)
        for (i, id) in ids.enumerated() {
            engine.upsertProfile(userID: id, set: ["rank": .number(Double(i + rank))], removed: [], seq: UInt64(i + 1))
        }
        var out: [String: UserStateSnapshot] = [:]
        for (id, state) in engine.takeDirtyUserStates() { out[id] = state }
        return out
    }

    /// A data directory from before the state had its own file (schema version 3: the state in
    /// `evaluator.sqlite`) keeps its state across the upgrade.
    @Test func aStateSavedByTheFormerLayoutIsTakenOver() async throws {
        try await TemporaryDirectory.with { directory in
            do {
                let old = try SQLiteConnection(path: directory + "/evaluator.sqlite")
                try old.execute(
                    """
                    CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;
                    CREATE TABLE transitions(
                        seq INTEGER PRIMARY KEY, segment TEXT NOT NULL, user_id TEXT NOT NULL,
                        kind INTEGER NOT NULL, at_ms INTEGER NOT NULL, store_seq INTEGER NOT NULL
                    );
                    CREATE INDEX transitions_by_user ON transitions(user_id, seq);
                    CREATE INDEX transitions_by_segment ON transitions(segment, seq);
                    CREATE TABLE engine_catalog(id INTEGER PRIMARY KEY CHECK (id = 0), state BLOB NOT NULL);
                    CREATE TABLE engine_users(user_id TEXT PRIMARY KEY, state BLOB NOT NULL) WITHOUT ROWID;
                    INSERT INTO meta VALUES ('checkpoint_seq', 12), ('state_seq', 7), ('evaluator_id', 'e-1');
                    INSERT INTO engine_catalog VALUES (0, x'0102');
                    INSERT INTO engine_users VALUES ('u1', x'0A'), ('u2', x'0B');
                    INSERT INTO transitions VALUES (1, 's', 'u1', 1, 5, 3), (2, 's', 'u2', 1, 5, 3), (3, 's', 'u1', 2, 6, 4);
                    """
                )
                try old.execute(WebhookLedger.schema)
                try old.setUserVersion(3)
                old.close()
            }
            let log = try TransitionLog(directory: directory)
            #expect(log.stateSeq == 7)
            #expect(log.checkpointSeq == 12)
            #expect(log.evaluatorID == "e-1")
            let saved = try #require(try log.engineState.load())
            #expect(saved.catalog == [1, 2])
            #expect(saved.users.sorted { $0.lexicographicallyPrecedes($1) } == [[0x0A], [0x0B]])
            // The transitions recorded before are found by user through the new index.
            #expect(try log.read(from: 0, limit: 10, userID: "u1").map(\.seq) == [1, 3])
            // …and by segment through the blocks built from them.
            #expect(try log.read(from: 0, limit: 10, segment: "s").count == 3)

            let migrated = try SQLiteConnection(path: directory + "/evaluator.sqlite")
            #expect(try migrated.userVersion() == 6)
            let tables = try migrated.prepare("SELECT count(*) FROM sqlite_master WHERE name LIKE 'engine_%'")
            _ = try tables.step()
            #expect(tables.int64(at: 0) == 0)
        }
    }

    /// Resetting waits for a save in flight, then removes the state.
    @Test func resetRemovesTheState() async throws {
        try await TemporaryDirectory.with { directory in
            let log = try TransitionLog(directory: directory)
            log.engineState.save(
                .init(catalog: [1], users: [("u1", Self.userStates(["u1"])["u1"])], userCount: 1),
                atSeq: 3
            )
            try log.reset()
            #expect(log.stateSeq == 0)
            #expect(try log.engineState.load() == nil)
        }
    }
}
