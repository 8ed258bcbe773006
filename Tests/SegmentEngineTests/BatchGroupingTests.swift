import SegmentLanguage
import Testing

@testable import SegmentEngine

/// A batch of events is applied user by user, in order of first appearance; known users are grouped by their slot,
/// new ones by their id's bytes.
@Suite struct BatchGroupingTests {
    @Test func knownAndNewUsersInterleavedAreAppliedUserByUserInOrderOfFirstAppearance() throws {
        let h = EngineHarness()
        try h.put("twice", "count(click within 1d) >= 2")
        try h.put("viewed", "count(view) >= 1")
        h.profile("a", ["plan": .string("pro")])
        h.profile("b", ["plan": .string("pro")])
        h.profile("gone", ["plan": .string("pro")])
        // A freed slot, which one of the batch's new users takes.
        h.deleteUser("gone")
        let nfc = "caf\u{E9}"
        let nfd = "cafe\u{301}"
        let click = EventRecord(name: "click", atMs: baseMs)
        let view = EventRecord(name: "view", atMs: baseMs)
        let batch: [(userID: String, event: EventRecord)] = [
            ("a", click), ("new", click), ("b", click), (nfd, click), ("a", click), ("new", view), (nfc, click),
            ("b", view), (nfd, click), ("new", click), ("a", view),
        ]
        let out = h.record(h.engine.addEvents(batch, seq: h.nextSeq()))
        #expect(
            out == [
                entered("twice", "a", baseMs), entered("viewed", "a", baseMs),
                entered("twice", "new", baseMs), entered("viewed", "new", baseMs),
                entered("viewed", "b", baseMs),
                entered("twice", nfd, baseMs),
            ]
        )
        // The two spellings of "café" are two users: one click for one, two for the other.
        #expect(h.engine.userCount == 5)
        #expect(h.engine.isMember(userID: nfc, segment: "twice").member == false)
        #expect(h.engine.isMember(userID: nfd, segment: "twice").member)
        #expect(h.members("twice") == ["a", nfd, "new"].sorted { utf8Less($0, $1) })
    }

    /// The names of a batch are matched to the aggregates reading them by their bytes: an event named with another
    /// spelling of an aggregate's event name does not count for it, even after the same batch met the other one.
    @Test func eventNamesAreMatchedByTheirBytesWithinABatch() throws {
        let h = EngineHarness()
        try h.put("cafe", "count(\"caf\u{E9}\") >= 1")
        let batch: [(userID: String, event: EventRecord)] = [
            ("u1", EventRecord(name: "cafe\u{301}", atMs: baseMs)),
            ("u2", EventRecord(name: "caf\u{E9}", atMs: baseMs)),
            ("u3", EventRecord(name: "cafe\u{301}", atMs: baseMs)),
        ]
        #expect(h.record(h.engine.addEvents(batch, seq: h.nextSeq())) == [entered("cafe", "u2", baseMs)])
    }
}
