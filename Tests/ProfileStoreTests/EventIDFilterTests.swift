import Testing

@testable import ProfileStore

/// The Bloom filter in front of `event_ids`: never "not seen" for a pair it holds (a duplicate
/// would be stored twice), and rarely "maybe" for one it does not (each costs a lookup).
@Suite struct EventIDFilterTests {
    @Test func holdsEveryPairAndRarelyClaimsOthers() {
        let filter = EventIDFilter(capacity: 200_000)
        for i in 0..<200_000 {
            filter.insert(userKey: Int64(i % 5_000), eventID: "e-\(i)")
        }
        for i in 0..<200_000 {
            #expect(filter.mayContain(userKey: Int64(i % 5_000), eventID: "e-\(i)"))
        }
        // The same ids under other users, and other ids: about 1 % false positives at capacity.
        var claimed = 0
        for i in 0..<100_000 where filter.mayContain(userKey: Int64(i % 5_000) + 7_919, eventID: "e-\(i)") {
            claimed += 1
        }
        for i in 200_000..<300_000 where filter.mayContain(userKey: Int64(i % 5_000), eventID: "e-\(i)") {
            claimed += 1
        }
        #expect(claimed < 4_000, "\(claimed) false positives of 200,000")
    }

    @Test func emptyIDsAndExtremeKeysAreHashedLikeAnyOther() {
        let filter = EventIDFilter(capacity: 10)
        #expect(!filter.mayContain(userKey: .min, eventID: ""))
        filter.insert(userKey: .min, eventID: "")
        filter.insert(userKey: .max, eventID: "é😀")
        #expect(filter.mayContain(userKey: .min, eventID: ""))
        #expect(filter.mayContain(userKey: .max, eventID: "é😀"))
    }
}
