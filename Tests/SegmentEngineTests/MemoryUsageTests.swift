import SegmentLanguage
import Testing

@testable import SegmentEngine

/// The engine's memory estimate and the layout it describes: one entry array per user, shared by the user's
/// windowed aggregates.
@Suite struct EngineMemoryUsageTests {
    /// Entries are counted once per aggregate that keeps them, leave with the window, and a user's entries of
    /// several aggregates share one array (interleaved arrivals stay sorted per aggregate).
    @Test func windowEntriesAreCountedAndLeaveWithTheWindow() throws {
        let h = EngineHarness()
        try h.put("visits", "count(visit within 1d) >= 2")
        try h.put("spend", "sum(purchase.amount within 2d) > 10")
        let empty = h.engine.memoryUsage()
        #expect(empty.windowEntryCount == 0)
        for i in 0..<3 {
            h.track("u1", "visit", at: baseMs - Int64(3 - i) * msHour)
            h.track("u1", "purchase", at: baseMs - Int64(5 - i) * msHour, ["amount": .number(4)])
        }
        // A late arrival goes before the others of its aggregate, not after the other aggregate's.
        h.track("u1", "visit", at: baseMs - 10 * msHour)
        let loaded = h.engine.memoryUsage()
        #expect(loaded.windowEntryCount == 7)
        #expect(loaded.windowEntries > 0 && loaded.aggregateStates > 0 && loaded.userRecords > 0)
        #expect(loaded.total > empty.total)
        #expect(h.engine.isMember(userID: "u1", segment: "visits").member)
        #expect(h.engine.isMember(userID: "u1", segment: "spend").member)

        h.advance(to: baseMs + msDay)
        // The visits have left their day (entries that no longer matter may stay until the user's next wake-up);
        // the purchases are inside their two days still.
        #expect(!h.engine.isMember(userID: "u1", segment: "visits").member)
        #expect(h.engine.isMember(userID: "u1", segment: "spend").member)
        #expect((3...4).contains(h.engine.memoryUsage().windowEntryCount))

        // A new visit wakes the visits' state, which drops what has left: one entry of its own remains.
        h.track("u1", "visit", at: baseMs + msDay)
        h.advance(to: baseMs + 3 * msDay)
        #expect(!h.engine.isMember(userID: "u1", segment: "spend").member)
        #expect(h.engine.memoryUsage().windowEntryCount <= 1)
    }

    /// Deleting a segment drops its aggregate's entries and keeps the other aggregate's, which still count.
    @Test func droppingOneAggregateKeepsTheOthersEntries() throws {
        let h = EngineHarness()
        try h.put("visits", "count(visit within 1d) >= 2")
        try h.put("buyers", "count(purchase within 1d) >= 2")
        for i in 0..<2 {
            h.track("u1", "visit", at: baseMs - Int64(i + 1) * msHour)
            h.track("u1", "purchase", at: baseMs - Int64(i + 1) * msHour)
        }
        #expect(h.engine.memoryUsage().windowEntryCount == 4)
        _ = h.deleteSegment("visits")
        #expect(h.engine.memoryUsage().windowEntryCount == 2)
        h.track("u1", "purchase", at: baseMs)
        #expect(h.engine.memoryUsage().windowEntryCount == 3)
        h.advance(to: baseMs + msDay - 2 * msHour + 1)
        // One purchase left the day: two remain, still a member.
        #expect(h.engine.isMember(userID: "u1", segment: "buyers").member)
        #expect(h.engine.memoryUsage().windowEntryCount == 2)
    }

    /// A membership is 12 bytes and keeps every instant, negative and beyond 32 bits included.
    @Test func aMembershipIsTwelveBytesAndKeepsItsInstant() {
        #expect(MemoryLayout<MemberEntry>.stride == 12)
        for instant: Int64 in [0, -1, 1, Int64(Int32.max) + 1, -(1 << 40) - 7, baseMs, .max, .min] {
            var entry = MemberEntry(segment: 3, sinceMs: instant)
            #expect(entry.sinceMs == instant && entry.segment == 3)
            entry.sinceMs = ~instant
            #expect(entry.sinceMs == ~instant)
        }
    }

    /// What the engine keeps for good is in allocations of its own, not the caller's (in the evaluator the caller
    /// is the feed's decoder, on another thread and glibc arena): long user ids, string and list attribute values,
    /// and the properties of raw events. Short strings are inline and need no copy.
    @Test func keptStringsAreTheEnginesOwnAllocations() throws {
        let h = EngineHarness()
        try h.put("tagged", #"tags contains "a-tag-longer-than-fifteen-bytes""#)
        try h.put("named", #"nickname = "a nickname longer than fifteen bytes""#)
        try h.put("recent", #"count(visit where page = "/a/page/path/longer/than/fifteen" and seen_at > 1d ago) >= 1"#)
        let id = "a-user-id-longer-than-fifteen-bytes"
        let tag = "a-tag-longer-than-fifteen-bytes"
        let nickname = "a nickname longer than fifteen bytes"
        let page = "/a/page/path/longer/than/fifteen"
        h.profile(id, ["tags": .stringList([tag, "short"]), "nickname": .string(nickname)])
        h.track(id, "visit", at: baseMs, ["page": .string(page), "seen_at": .timestamp(baseMs)])
        #expect(h.members("tagged") == [id] && h.members("named") == [id] && h.members("recent") == [id])

        let user = h.engine.users[Int(try #require(h.engine.userIndex.slot(of: id, in: h.engine.users)))]
        #expect(storage(user.id) != storage(id))
        var keptTag: String?
        var keptNickname: String?
        for entry in user.attrs {
            switch entry.value {
            case .stringList(let list): keptTag = list.first
            case .string(let s): keptNickname = s
            default: break
            }
        }
        let (storedTag, storedNickname) = (try #require(keptTag), try #require(keptNickname))
        #expect(storedTag == tag && storage(storedTag) != storage(tag))
        #expect(storedNickname == nickname && storage(storedNickname) != storage(nickname))
        let raw = try #require(user.aggs.first { !$0.raw.isEmpty }?.raw.first)
        guard case .string(let keptPage) = raw.properties["page"] else {
            Issue.record("the raw event lost its property")
            return
        }
        #expect(keptPage == page && storage(keptPage) != storage(page))
    }
}

/// Where a string's UTF-8 bytes are stored.
private func storage(_ s: String) -> UnsafePointer<UInt8>? {
    s.utf8.withContiguousStorageIfAvailable { $0.baseAddress } ?? nil
}
