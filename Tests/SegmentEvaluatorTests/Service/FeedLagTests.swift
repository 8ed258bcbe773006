import Testing

@testable import SegmentEvaluator

/// The evaluator's lag in time: the age of the first store head observed beyond the applied position.
@Suite struct FeedLagTests {
    @Test func lagIsTheAgeOfTheOldestUnappliedObservation() {
        let lag = FeedLag()
        #expect(lag.lagMs(appliedSeq: 0, nowMs: 1_000) == 0)
        lag.observe(headSeq: 10, nowMs: 1_000)
        lag.observe(headSeq: 20, nowMs: 1_500)
        lag.observe(headSeq: 15, nowMs: 1_600)  // older than what was seen: ignored
        #expect(lag.latestHead == 20)
        #expect(lag.lagMs(appliedSeq: 5, nowMs: 2_000) == 1_000)
        #expect(lag.lagMs(appliedSeq: 10, nowMs: 2_000) == 500)
        #expect(lag.lagMs(appliedSeq: 19, nowMs: 2_000) == 500)
        #expect(lag.lagMs(appliedSeq: 20, nowMs: 2_000) == 0)
        lag.observe(headSeq: 21, nowMs: 3_000)
        #expect(lag.lagMs(appliedSeq: 20, nowMs: 3_250) == 250)
        lag.reset()
        #expect(lag.latestHead == 0)
        #expect(lag.lagMs(appliedSeq: 0, nowMs: 4_000) == 0)
    }

    @Test func aFullRecordMovesItsNewestObservationForward() {
        let lag = FeedLag()
        for index in 0..<(FeedLag.capacity + 10) {
            lag.observe(headSeq: UInt64(index + 1), nowMs: Int64(index))
        }
        #expect(lag.latestHead == UInt64(FeedLag.capacity + 10))
        // The oldest observations stay exact; the last one kept the time it was first made.
        #expect(lag.lagMs(appliedSeq: 0, nowMs: 10_000) == 10_000)
        #expect(
            lag.lagMs(appliedSeq: UInt64(FeedLag.capacity - 1), nowMs: 10_000) == 10_000 - Int64(FeedLag.capacity - 1)
        )
        #expect(lag.lagMs(appliedSeq: UInt64(FeedLag.capacity + 10), nowMs: 10_000) == 0)
    }
}
