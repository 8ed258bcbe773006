import SegmentLanguage
import SegmentsBenchKit
import Testing

@Suite struct SegmentsBenchKitTests {
    @Test func everySegmentOfTheMixParses() throws {
        try SegmentMix.validate()
        let count = SegmentMix.segments.count
        #expect(count >= 50 && count <= 100)
        let names = Set(SegmentMix.segments.map(\.name))
        #expect(names.count == count)
    }

    @Test func everySegmentHasSQL() throws {
        let conditions = SegmentMix.conditionsByName
        for segment in SegmentMix.segments {
            let sql = try segment.condition.sql(segments: conditions)
            #expect(!sql.isEmpty)
        }
    }

    @Test func generatorIsDeterministicAndHitsTheScale() {
        let scale = BenchScale(name: "tiny", users: 500, events: 10_000)
        let a = DataGenerator(scale: scale, seed: 7, anchorMs: 1_800_000_000_000)
        let b = DataGenerator(scale: scale, seed: 7, anchorMs: 1_800_000_000_000)
        let c = DataGenerator(scale: scale, seed: 8, anchorMs: 1_800_000_000_000)
        #expect(a.user(17) == b.user(17))
        #expect(a.user(17) != c.user(17))
        let total = a.eventCounts.reduce(0) { $0 + Int($1) }
        #expect(total == 10_000)
        let user = a.user(3)
        let times = user.events.map(\.atMs)
        let ordered = times == times.sorted()
        #expect(ordered)
        let inRange = times.allSatisfy { $0 <= 1_800_000_000_000 && $0 > 1_800_000_000_000 - 181 * 86_400_000 }
        #expect(inRange)
    }

    @Test func splitMixKnownValues() {
        var rng = SplitMix64(seed: 0)
        // Reference values of SplitMix64 from seed 0.
        #expect(rng.next() == 0xE220_A839_7B1D_CDAF)
        #expect(rng.next() == 0x6E78_9E6A_A1B9_65F4)
    }

    @Test func percentilesAreNearestRank() {
        let summary = LatencySummary(microseconds: (1...100).map(Double.init))
        #expect(summary.p50Us == 50)
        #expect(summary.p99Us == 99)
        #expect(summary.maxUs == 100)
    }
}
