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
            store.save(.init(catalog: [1], users: [("u1", state["u1"]), ("u2", state["u2"])]), atSeq: 5)
            store.save(.init(catalog: [2], users: [("u1", nil), ("u3", state["u3"])]), atSeq: 9)
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

    /// The states of users with a profile each, taken from an engine.
    static func userStates(_ ids: [String]) -> [String: UserStateSnapshot] {
        let engine = MembershipEngine(nowMs: 0)
        for (i, id) in ids.enumerated() {
            engine.upsertProfile(userID: id, set: ["rank": .number(Double(i))], removed: [], seq: UInt64(i + 1))
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
            log.engineState.save(.init(catalog: [1], users: [("u1", Self.userStates(["u1"])["u1"])]), atSeq: 3)
            try log.reset()
            #expect(log.stateSeq == 0)
            #expect(try log.engineState.load() == nil)
        }
    }
}
