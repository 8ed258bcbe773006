import SegmentLanguage
import Testing

@testable import SegmentEngine

@Suite struct EnginePersistenceTests {
    /// A harness with a bit of everything: windows, pending future events, first/last with a filter, raw (time
    /// filter) events, lists, memberships, a pending back-fill.
    func populated() throws -> EngineHarness {
        let h = EngineHarness()
        try h.put("recent", "count(visit within 1d) >= 2")
        try h.put("lapsed", #"last(purchase where amount > 5) < 30d ago"#)
        try h.put("delivering", "count(order where delivery_at > now) >= 1")
        try h.put("big", "sum(purchase.amount) > 100 and avg(purchase.amount) >= 10")
        h.record(h.engine.createList(name: "staff", seq: h.nextSeq()))
        try h.put("new", #"signup_at > 14d ago and not in_segment("staff")"#)
        try h.put("funnel", "visit then purchase where amount > 5 within 7d")
        try h.put("waiting", "visit not followed by purchase within 2d in last 30d")
        h.profile("u1", ["signup_at": .string("2026-01-01T00:00:00Z"), "ignored": .number(1)])
        h.profile("é", ["signup_at": .number(Double(baseMs / 1_000 - 86_400))])
        h.record(h.engine.addToList(name: "staff", userIDs: ["é", "u3"], seq: h.nextSeq()))
        h.track("u1", "visit", at: baseMs - msHour)
        h.track("u1", "visit", at: baseMs + 2 * msHour)
        h.track("u1", "purchase", at: baseMs - 40 * msDay, ["amount": .number(120), "note": .string("x")])
        h.track("u1", "purchase", at: baseMs + 3 * msDay, ["amount": .number(7.25)])
        h.track("é", "order", at: baseMs, ["delivery_at": .string("2026-01-03T00:00:00Z")])
        h.advance(to: baseMs + 30 * 60_000)
        return h
    }

    /// The changed users' records taken in one go (as the daemon saves them) are those looked up one by one,
    /// including a deleted user (no record) and a user deleted and created again (its new record).
    @Test func dirtyUserStatesMatchTheRecordsLookedUpOneByOne() throws {
        let a = try populated()
        let b = try populated()
        for h in [a, b] {
            h.record(h.engine.deleteUser(userID: "u3", seq: h.nextSeq()))
            h.record(h.engine.deleteUser(userID: "é", seq: h.nextSeq()))
            h.profile("é", ["signup_at": .number(1)])
        }
        let lookedUp = Dictionary(
            uniqueKeysWithValues: a.engine.takeDirtyUsers().map { ($0, a.engine.encodeUserState($0)) }
        )
        let taken = b.engine.takeDirtyUserStates()
        #expect(taken.count == lookedUp.count)
        #expect(taken.contains { $0.userID == "u3" && $0.state == nil })
        #expect(b.engine.takeDirtyUserStates().isEmpty)
        // A taken state is encoded later, off the engine's lock: what the engine does meanwhile does not change it.
        b.profile("u1", ["plan": .string("changed")])
        b.track("u2", "purchase", ["amount": .number(1)])
        _ = b.engine.advance(to: baseMs + 40 * msDay)
        for (userID, state) in taken {
            #expect(lookedUp[userID] == .some(state?.encoded()), "record of \(userID)")
        }
    }

    /// A complete save's states are every user's, deleted users left out, and nothing stays changed after it.
    @Test func allUserStatesAreEveryUsersRecord() throws {
        let h = try populated()
        _ = h.engine.takeDirtyUserStates()
        h.record(h.engine.deleteUser(userID: "u3", seq: h.nextSeq()))
        h.profile("u1", ["plan": .string("changed")])
        let all = h.engine.takeAllUserStates()
        #expect(all.map(\.userID).sorted() == ["u1", "é"])
        for (userID, state) in all {
            #expect(state?.encoded() == h.engine.encodeUserState(userID), "record of \(userID)")
        }
        #expect(h.engine.takeDirtyUserStates().isEmpty)
    }

    @Test func encodeRestoreGivesIdenticalFutureBehaviour() throws {
        let a = try populated()
        let b = try populated()
        let restored = try MembershipEngine.restore(
            catalog: b.engine.encodeCatalog(),
            users: b.engine.takeDirtyUsers().compactMap { b.engine.encodeUserState($0) }
        )
        #expect(restored.nowMs == a.engine.nowMs)
        #expect(restored.appliedSeq == a.engine.appliedSeq)
        #expect(restored.userCount == a.engine.userCount)
        #expect(restored.nextDueMs() == a.engine.nextDueMs())
        for name in ["recent", "lapsed", "delivering", "big", "new", "staff", "funnel", "waiting"] {
            #expect(restored.members(of: name) == a.engine.members(of: name))
            #expect(restored.memberCount(of: name) == a.engine.memberCount(of: name))
            for user in ["u1", "é", "u3"] {
                #expect(
                    restored.isMember(userID: user, segment: name) == a.engine.isMember(userID: user, segment: name)
                )
            }
        }
        #expect(restored.explain(userID: "u1", segment: "big") == a.engine.explain(userID: "u1", segment: "big"))
        // The same future, step for step.
        var seq = a.seq
        for step in 1...40 {
            let t = baseMs + Int64(step) * 20 * msHour
            #expect(restored.advance(to: t) == a.engine.advance(to: t))
            seq += 1
            let event = EventRecord(
                name: step % 2 == 0 ? "visit" : "purchase",
                atMs: t,
                properties: ["amount": .number(3)]
            )
            #expect(restored.addEvents([("u1", event)], seq: seq) == a.engine.addEvents([("u1", event)], seq: seq))
        }
        #expect(restored.encodeCatalog() == a.engine.encodeCatalog())
        for user in ["u1", "é", "u3"] { #expect(restored.encodeUserState(user) == a.engine.encodeUserState(user)) }
    }

    @Test func dirtyUsersAreExactlyTheChangedOnes() throws {
        let h = EngineHarness()
        try h.put("pro", #"plan = "pro""#)
        h.profile("a", ["plan": .string("pro")])
        h.profile("b", ["plan": .string("free")])
        #expect(h.engine.takeDirtyUsers() == ["a", "b"])
        #expect(h.engine.takeDirtyUsers().isEmpty)
        h.profile("a", ["plan": .string("pro"), "unused": .bool(true)])
        #expect(h.engine.takeDirtyUsers().isEmpty)
        h.deleteUser("b")
        #expect(h.engine.takeDirtyUsers() == ["b"])
        #expect(h.engine.encodeUserState("b") == nil)
    }

    @Test func corruptRecordsAreRefusedNotTrapped() throws {
        let h = try populated()
        let catalog = h.engine.encodeCatalog()
        let user = try #require(h.engine.encodeUserState("u1"))
        for cut in [0, 1, 3, catalog.count / 2, catalog.count - 1] {
            #expect(throws: MembershipEngineError.self) {
                try MembershipEngine(restoringCatalog: Array(catalog[0..<cut]))
            }
        }
        let engine = try MembershipEngine(restoringCatalog: catalog)
        for cut in [0, 1, 5, user.count / 2, user.count - 1] {
            #expect(throws: MembershipEngineError.self) { try engine.restoreUser(Array(user[0..<cut])) }
        }
        var flipped = user
        flipped[0] ^= 0xFF
        #expect(throws: MembershipEngineError.self) { try engine.restoreUser(flipped) }
        try engine.restoreUser(user)
        #expect(throws: MembershipEngineError.self) { try engine.restoreUser(user) }
        // Random garbage never traps.
        var r = EngineRandom(seed: 7)
        for _ in 0..<2_000 {
            var bytes = user
            for _ in 0..<r.int(1...4) { bytes[r.int(0...(bytes.count - 1))] = UInt8(r.int(0...255)) }
            let fresh = try MembershipEngine(restoringCatalog: catalog)
            _ = try? fresh.restoreUser(bytes)
            var c = catalog
            c[r.int(0...(c.count - 1))] = UInt8(r.int(0...255))
            _ = try? MembershipEngine(restoringCatalog: c)
        }
    }
}
