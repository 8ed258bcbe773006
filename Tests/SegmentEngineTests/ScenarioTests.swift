import SegmentLanguage
import Testing

@testable import SegmentEngine

@Suite struct EngineScenarioTests {
    @Test func lapsedBuyerEntersExactlyThirtyDaysAfterLastPurchaseAndLeavesOnANewOne() throws {
        let h = EngineHarness()
        try h.put("lapsed", "count(purchase) >= 1 and count(purchase within 30d) = 0")
        try h.put("lapsed2", "last(purchase) < 30d ago")
        #expect(h.track("u1", "purchase", at: baseMs).isEmpty)
        #expect(h.engine.nextDueMs() == baseMs + 30 * msDay)
        #expect(h.advance(to: baseMs + 30 * msDay - 1).isEmpty)
        #expect(
            h.advance(to: baseMs + 40 * msDay) == [
                entered("lapsed", "u1", baseMs + 30 * msDay), entered("lapsed2", "u1", baseMs + 30 * msDay + 1),
            ]
        )
        #expect(h.engine.isMember(userID: "u1", segment: "lapsed") == (true, baseMs + 30 * msDay))
        #expect(
            h.track("u1", "purchase") == [
                exited("lapsed", "u1", baseMs + 40 * msDay), exited("lapsed2", "u1", baseMs + 40 * msDay),
            ]
        )
        #expect(
            h.advance(to: baseMs + 71 * msDay) == [
                entered("lapsed", "u1", baseMs + 70 * msDay), entered("lapsed2", "u1", baseMs + 70 * msDay + 1),
            ]
        )
    }

    @Test func cartAbandoner() throws {
        let h = EngineHarness()
        try h.put("abandoner", "count(add_to_cart within 2d) >= 1 and count(purchase within 2d) = 0")
        #expect(h.track("u1", "add_to_cart") == [entered("abandoner", "u1", baseMs)])
        h.advance(to: baseMs + msHour)
        #expect(h.track("u1", "purchase") == [exited("abandoner", "u1", baseMs + msHour)])
        // The purchase leaves the window before the cart does: still no entry, both gone.
        #expect(h.advance(to: baseMs + 3 * msDay).isEmpty)
        #expect(h.engine.nextDueMs() == nil)
        #expect(h.track("u1", "add_to_cart") == [entered("abandoner", "u1", baseMs + 3 * msDay)])
        #expect(h.advance(to: baseMs + 10 * msDay) == [exited("abandoner", "u1", baseMs + 5 * msDay)])
    }

    /// The abandoned cart as a sequence: scheduled to enter exactly at cart + 2h, leaves on a purchase, a new cart
    /// restarts the wait, a purchase back-dated before the cart does not count.
    @Test func abandonedCartSequence() throws {
        let h = EngineHarness()
        try h.put("abandoned", "add_to_cart not followed by purchase within 2h")
        #expect(h.track("u1", "add_to_cart").isEmpty)
        #expect(h.engine.nextDueMs() == baseMs + 2 * msHour)
        #expect(h.advance(to: baseMs + 2 * msHour - 1).isEmpty)
        #expect(h.advance(to: baseMs + 3 * msHour) == [entered("abandoned", "u1", baseMs + 2 * msHour)])
        #expect(h.track("u1", "purchase", at: baseMs - 1).isEmpty)
        #expect(h.track("u1", "purchase") == [exited("abandoned", "u1", baseMs + 3 * msHour)])
        h.advance(to: baseMs + 4 * msHour)
        #expect(h.track("u1", "add_to_cart").isEmpty)
        #expect(h.advance(to: baseMs + 5 * msHour).isEmpty)
        // A newer cart restarts the wait.
        #expect(h.track("u1", "add_to_cart").isEmpty)
        #expect(h.advance(to: baseMs + 8 * msHour) == [entered("abandoned", "u1", baseMs + 7 * msHour)])
        // What is kept: the latest cart only.
        let state = try #require(h.engine.users.first { $0.id == "u1" }?.aggs.first)
        #expect(state.raw.map(\.atMs) == [baseMs + 5 * msHour])
        // A purchase back-dated after the latest cart takes the user out at once.
        #expect(h.track("u1", "purchase", at: baseMs + 6 * msHour) == [exited("abandoned", "u1", baseMs + 8 * msHour)])
    }

    /// A 3-step funnel enters when its last step arrives (a future-dated one at its own instant), and, with
    /// `in last`, leaves when the first step ages out.
    @Test func funnelSequence() throws {
        let h = EngineHarness()
        try h.put("funnel", #"view where page = "/pricing" then add_to_cart then purchase within 1d in last 7d"#)
        h.track("u1", "view", ["page": .string("/home")])
        h.advance(to: baseMs + msHour)
        h.track("u1", "view", ["page": .string("/pricing")])
        #expect(h.track("u1", "add_to_cart", at: baseMs + 2 * msHour).isEmpty)
        #expect(h.track("u1", "purchase", at: baseMs + 3 * msHour).isEmpty)
        #expect(h.advance(to: baseMs + 4 * msHour) == [entered("funnel", "u1", baseMs + 3 * msHour)])
        #expect(h.advance(to: baseMs + 30 * msDay) == [exited("funnel", "u1", baseMs + 7 * msDay + msHour)])
        #expect(h.engine.nextDueMs() == nil)
    }

    /// A `then` without `in last` keeps its steps' events until a chain holds, then only that chain, and takes no
    /// event after it (it holds for good); a future-dated last step completes it when it settles.
    @Test func thenSequenceKeepsOnlyItsChainOnceItHolds() throws {
        let h = EngineHarness()
        try h.put("converted", "page_view then purchase within 1h")
        for minute in 0..<5 { h.track("u1", "page_view", at: baseMs + Int64(minute) * 60_000) }
        h.advance(to: baseMs + 10 * 60_000)
        #expect(h.track("u1", "purchase", at: baseMs + 20 * 60_000).isEmpty)
        func kept() -> Int { h.engine.users.first { $0.id == "u1" }?.aggs.first?.raw.count ?? 0 }
        #expect(kept() == 6)
        #expect(h.advance(to: baseMs + 30 * 60_000) == [entered("converted", "u1", baseMs + 20 * 60_000)])
        #expect(kept() == 2)
        for _ in 0..<3 { h.track("u1", "page_view") }
        #expect(kept() == 2)
        #expect(h.members("converted") == ["u1"])
    }

    @Test func windowedSumCrossesThresholdAsOldPurchasesAgeOut() throws {
        let h = EngineHarness()
        try h.put("big", "sum(purchase.amount within 90d) > 500")
        h.track("u1", "purchase", at: baseMs, ["amount": .number(300)])
        h.advance(to: baseMs + 10 * msDay)
        #expect(h.track("u1", "purchase", ["amount": .number(250)]) == [entered("big", "u1", baseMs + 10 * msDay)])
        h.advance(to: baseMs + 20 * msDay)
        h.track("u1", "purchase", ["amount": .number(100)])
        // At 90d the first purchase leaves: 350 <= 500.
        #expect(h.advance(to: baseMs + 200 * msDay) == [exited("big", "u1", baseMs + 90 * msDay)])
        #expect(h.engine.nextDueMs() == nil)
    }

    @Test func timestampAttributeCrossingFourteenDaysAgo() throws {
        let h = EngineHarness()
        try h.put("new", "signup_at > 14d ago")
        try h.put("old", "signup_at < 14d ago")
        #expect(h.profile("rfc", ["signup_at": .string("2026-01-01T00:00:00Z")]) == [entered("new", "rfc", baseMs)])
        #expect(h.profile("unix", ["signup_at": .number(Double(baseMs / 1_000))]) == [entered("new", "unix", baseMs)])
        #expect(
            h.advance(to: baseMs + 15 * msDay) == [
                exited("new", "rfc", baseMs + 14 * msDay), exited("new", "unix", baseMs + 14 * msDay),
                entered("old", "rfc", baseMs + 14 * msDay + 1), entered("old", "unix", baseMs + 14 * msDay + 1),
            ]
        )
    }

    @Test func inSegmentChainUpdatesInOneStep() throws {
        let h = EngineHarness()
        try h.put("pro", #"plan = "pro""#)
        try h.put("adult_pro", #"in_segment("pro") and age >= 18"#)
        try h.put("others", #"not in_segment("adult_pro")"#)
        #expect(h.profile("u1", ["age": .number(20)]) == [entered("others", "u1", baseMs)])
        #expect(
            h.profile("u1", ["plan": .string("pro")]) == [
                entered("pro", "u1", baseMs), entered("adult_pro", "u1", baseMs), exited("others", "u1", baseMs),
            ]
        )
        #expect(
            h.profile("u1", [:], removed: ["plan"]) == [
                exited("pro", "u1", baseMs), exited("adult_pro", "u1", baseMs), entered("others", "u1", baseMs),
            ]
        )
    }

    @Test func timeDrivenChangeOfADependencyReEvaluatesDependentsAtTheSameInstant() throws {
        let h = EngineHarness()
        try h.put("recent", "count(visit within 1d) >= 1")
        try h.put("gone", #"exists(plan) and not in_segment("recent")"#)
        h.profile("u1", ["plan": .string("x")])
        #expect(h.track("u1", "visit", at: baseMs) == [entered("recent", "u1", baseMs), exited("gone", "u1", baseMs)])
        #expect(
            h.advance(to: baseMs + 2 * msDay) == [
                exited("recent", "u1", baseMs + msDay), entered("gone", "u1", baseMs + msDay),
            ]
        )
    }

    @Test func deletingAUserExitsEverything() throws {
        let h = EngineHarness()
        try h.put("a", "exists(plan)")
        try h.put("b", #"in_segment("a")"#)
        try h.put("c", "count(purchase) >= 1")
        h.profile("u1", ["plan": .string("x")])
        h.track("u1", "purchase")
        #expect(
            h.deleteUser("u1") == [exited("a", "u1", baseMs), exited("b", "u1", baseMs), exited("c", "u1", baseMs)]
        )
        #expect(!h.engine.knowsUser("u1"))
        #expect(h.engine.userCount == 0)
        #expect(h.members("a").isEmpty)
        #expect(h.engine.nextDueMs() == nil)
        // A later write starts a fresh user.
        #expect(h.track("u1", "other").isEmpty)
        #expect(h.engine.segments(of: "u1").isEmpty)
    }

    @Test func changingAndDeletingASegment() throws {
        let h = EngineHarness()
        try h.put("s", #"plan = "pro""#)
        h.profile("u1", ["plan": .string("pro")])
        h.profile("u2", ["plan": .string("free")])
        h.profile("u3", ["plan": .string("pro")])
        #expect(h.members("s") == ["u1", "u3"])
        let outcome = try h.put("s", #"plan = "free" or plan = "pro""#)
        #expect(outcome.transitions == [entered("s", "u2", baseMs)])
        #expect(h.engine.isMember(userID: "u1", segment: "s") == (true, baseMs))
        h.advance(to: baseMs + msDay)
        #expect(
            try h.put("s", #"plan = "free""#).transitions == [
                exited("s", "u1", baseMs + msDay), exited("s", "u3", baseMs + msDay),
            ]
        )
        #expect(h.deleteSegment("s") == [exited("s", "u2", baseMs + msDay)])
        #expect(h.engine.memberCount(of: "s") == 0)
        #expect(h.engine.retention.isEmpty)
    }

    @Test func futureDatedEventCountsFromItsOwnInstant() throws {
        let h = EngineHarness()
        try h.put("buyer", "count(purchase) >= 1")
        try h.put("recent", "count(purchase within 1d) >= 1")
        #expect(h.track("u1", "purchase", at: baseMs + 5 * msDay).isEmpty)
        #expect(h.engine.nextDueMs() == baseMs + 5 * msDay)
        #expect(
            h.advance(to: baseMs + 10 * msDay) == [
                entered("buyer", "u1", baseMs + 5 * msDay), entered("recent", "u1", baseMs + 5 * msDay),
                exited("recent", "u1", baseMs + 6 * msDay),
            ]
        )
    }

    @Test func lateEventsCountOnlyWhileInsideTheirWindow() throws {
        let h = EngineHarness(nowMs: baseMs + 10 * msDay)
        try h.put("recent", "count(visit within 1d) >= 1")
        try h.put("ever", "count(visit) >= 1")
        #expect(h.track("u1", "visit", at: baseMs + 8 * msDay) == [entered("ever", "u1", baseMs + 10 * msDay)])
        #expect(
            h.track("u1", "visit", at: baseMs + 10 * msDay - 12 * msHour) == [
                entered("recent", "u1", baseMs + 10 * msDay)
            ]
        )
        #expect(h.advance(to: baseMs + 20 * msDay) == [exited("recent", "u1", baseMs + 10 * msDay + 12 * msHour)])
    }

    @Test func staticListsInInSegment() throws {
        let h = EngineHarness()
        h.record(h.engine.createList(name: "employees", seq: h.nextSeq()))
        try h.put("new_customers", #"signup_at > 14d ago and not in_segment("employees")"#)
        h.profile("alice", ["signup_at": .string("2026-01-01T00:00:00Z")])
        h.profile("bob", ["signup_at": .string("2026-01-01T00:00:00Z")])
        #expect(h.members("new_customers") == ["alice", "bob"])
        #expect(
            h.engine.addToList(name: "employees", userIDs: ["bob", "carol"], seq: h.nextSeq()) == [
                exited("new_customers", "bob", baseMs)
            ]
        )
        #expect(h.members("employees") == ["bob", "carol"])
        #expect(h.engine.memberCount(of: "employees") == 2)
        #expect(h.engine.isMember(userID: "carol", segment: "employees").member)
        #expect(
            h.engine.removeFromList(name: "employees", userIDs: ["bob"], seq: h.nextSeq()) == [
                entered("new_customers", "bob", baseMs)
            ]
        )
        h.engine.addToList(name: "employees", userIDs: ["alice"], seq: h.nextSeq())
        #expect(h.engine.deleteList(name: "employees", seq: h.nextSeq()) == [entered("new_customers", "alice", baseMs)])
    }

    /// `in_segment` names are resolved to slots once, when a segment or list appears or goes away: each such change
    /// must re-point them, including to a list in a slot freed by another.
    @Test func inSegmentFollowsSegmentsAndListsDefinedAndDeletedLater() throws {
        let h = EngineHarness()
        try h.put("planned", "exists(plan)")  // keeps `plan`, so that `staff` below needs no back-fill
        try h.put("fans", #"in_segment("vip") or in_segment("staff")"#)
        h.profile("alice", ["plan": .string("free")])
        h.profile("bob", ["plan": .string("staff")])
        #expect(h.members("fans").isEmpty)
        h.record(h.engine.createList(name: "vip", seq: h.nextSeq()))
        #expect(
            h.engine.addToList(name: "vip", userIDs: ["alice"], seq: h.nextSeq()) == [entered("fans", "alice", baseMs)]
        )
        try h.put("staff", #"plan = "staff""#)
        #expect(h.members("staff") == ["bob"])
        #expect(h.members("fans") == ["alice", "bob"])
        #expect(h.engine.deleteList(name: "vip", seq: h.nextSeq()) == [exited("fans", "alice", baseMs)])
        // A new list takes the freed slot: `fans` does not read it.
        h.record(h.engine.createList(name: "other", seq: h.nextSeq()))
        #expect(h.engine.addToList(name: "other", userIDs: ["alice"], seq: h.nextSeq()).isEmpty)
        h.deleteSegment("staff")
        #expect(h.members("fans").isEmpty)
        // The name comes back as a list.
        h.record(h.engine.createList(name: "staff", seq: h.nextSeq()))
        #expect(
            h.engine.addToList(name: "staff", userIDs: ["alice"], seq: h.nextSeq()) == [
                entered("fans", "alice", baseMs)
            ]
        )
        #expect(h.members("fans") == ["alice"])
    }

    /// A new user is evaluated for the segments reading its data and for those that may be true for a user without
    /// data (`segmentsToEvaluateForNewUsers`), not for every segment: a segment true without data, a segment reading
    /// it, and a clock comparison that becomes true later must still come out as if every segment were evaluated,
    /// also for a user created at a later instant than the one the list was made at.
    @Test func newUsersEnterSegmentsTrueWithoutTheirData() throws {
        let h = EngineHarness()
        try h.put("no_buys", "count(purchase) = 0")
        try h.put("buyers", #"not in_segment("no_buys")"#)
        try h.put("after_launch", "now > 2026-01-02T00:00:00Z")
        try h.put("planned", "exists(plan)")
        #expect(h.track("a", "page_view") == [entered("no_buys", "a", baseMs)])
        #expect(h.track("b", "purchase") == [entered("buyers", "b", baseMs)])
        #expect(
            h.advance(to: baseMs + 2 * msDay) == [
                entered("after_launch", "a", baseMs + msDay + 1), entered("after_launch", "b", baseMs + msDay + 1),
            ]
        )
        let later = baseMs + 2 * msDay
        #expect(
            h.profile("c", ["plan": .string("pro")]) == [
                entered("after_launch", "c", later), entered("no_buys", "c", later), entered("planned", "c", later),
            ]
        )
        #expect(h.members("buyers") == ["b"])
    }

    @Test func advanceProcessesUsersInDueThenUserIDOrder() throws {
        let h = EngineHarness()
        try h.put("recent", "count(visit within 1h) >= 1")
        h.track("b", "visit", at: baseMs)
        h.track("a", "visit", at: baseMs)
        h.track("c", "visit", at: baseMs - 30 * 60_000)
        #expect(
            h.advance(to: baseMs + msDay) == [
                exited("recent", "c", baseMs + 30 * 60_000), exited("recent", "a", baseMs + msHour),
                exited("recent", "b", baseMs + msHour),
            ]
        )
    }

    /// Thousands of users due over one move, many at the same instants and several times each: the bulk path
    /// (`advanceInBulk`) and the one-instant-at-a-time loop give the same transitions in the same order, the same
    /// scheduler and the same saved states.
    @Test func bulkAdvanceEqualsOneInstantAtATime() throws {
        let bulk = EngineHarness()
        let stepwise = EngineHarness()
        bulk.engine.bulkAdvanceMinimum = 100
        stepwise.engine.bulkAdvanceMinimum = .max
        for h in [bulk, stepwise] {
            try h.put("recent", "count(visit within 1h) >= 1")
            try h.put("regular", "count(visit within 6h) >= 3")
            try h.put("lapsed", "last(visit) < 2h ago")
            try h.put("lapsed_regular", "in_segment(\"lapsed\") and count(visit) >= 2")
            // 3,000 users; visits on a 10-minute grid, so that many users fall due at each instant.
            var r = EngineRandom(seed: 7)
            for i in 0..<3_000 {
                for _ in 0...r.int(0...4) {
                    h.track("user-\(i % 7)-\(i)", "visit", at: baseMs - r.int64(0...36) * 10 * 60_000)
                }
            }
        }
        #expect(bulk.engine.scheduledWakeupCount == stepwise.engine.scheduledWakeupCount)
        // The walk of the scheduler's due subtree finds exactly the due entries, and stops at its limit.
        for t in [baseMs, baseMs + 20 * 60_000, baseMs + 3 * msHour, baseMs + msDay] {
            let scanned = Set(bulk.engine.heap.filter { $0.due <= t }.map(\.user))
            #expect(Set(bulk.engine.dueUsers(by: t)) == scanned)
            #expect(bulk.engine.countDueUsers(by: t, limit: 10) == min(10, scanned.count))
            #expect(bulk.engine.countDueUsers(by: t, limit: .max) == scanned.count)
        }
        for t in [baseMs + 20 * 60_000, baseMs + 3 * msHour, baseMs + msDay] {
            let (woken, moves) = (bulk.engine.statistics.dueWakeups, bulk.engine.statistics.bulkAdvances)
            let (a, b) = (bulk.advance(to: t), stepwise.advance(to: t))
            // Done in bulk on one side only; far more wake-ups than the threshold, and many transitions.
            #expect(bulk.engine.statistics.bulkAdvances == moves + 1)
            #expect(stepwise.engine.statistics.bulkAdvances == 0)
            #expect(bulk.engine.statistics.dueWakeups - woken > 300)
            #expect(a.count > 500)
            #expect(a == b)
            #expect(bulk.engine.nextDueMs() == stepwise.engine.nextDueMs())
            #expect(bulk.engine.scheduledWakeupCount == stepwise.engine.scheduledWakeupCount)
        }
        #expect(bulk.engine.takeDirtyUsers() == stepwise.engine.takeDirtyUsers())
        for i in 0..<3_000 {
            let id = "user-\(i % 7)-\(i)"
            #expect(bulk.engine.encodeUserState(id) == stepwise.engine.encodeUserState(id))
        }
    }

    @Test func olderSequenceNumbersAreIgnored() throws {
        let h = EngineHarness()
        try h.put("a", "exists(plan)")
        let seq = h.nextSeq()
        #expect(h.engine.upsertProfile(userID: "u1", set: ["plan": .string("x")], seq: seq).count == 1)
        #expect(h.engine.upsertProfile(userID: "u2", set: ["plan": .string("x")], seq: seq - 1).isEmpty)
        #expect(!h.engine.knowsUser("u2"))
    }
}
