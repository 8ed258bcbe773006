import Foundation
import SegmentsBenchKit
import SegmentsSQLite
import SegmentsWire

// MARK: - The naive SQL baseline

extension BenchRunner {
    func loadBaseline() throws(SegbenchError) {
        let baseline = try SQLBaseline(path: self.baselineSQLPath)
        self.baseline = baseline
        let (load, index) = try baseline.load(self.generator)
        self.baselineLoad = (load, index)
        self.note("SQL copy loaded in \(String(format: "%.2f", load)) s, indexed in \(String(format: "%.2f", index)) s")
    }

    /// Whole-segment counts (compared with the evaluator's), members, and per-user recomputes.
    func baselinePerUser() throws(SegbenchError) {
        guard let baseline = self.baseline else { return }
        var segments = SegmentMix.segments
        if self.options.baselineSegments > 0 && self.options.baselineSegments < segments.count {
            let step = Double(segments.count) / Double(self.options.baselineSegments)
            segments = (0..<self.options.baselineSegments).map { segments[Int(Double($0) * step)] }
        }
        var times: [Double] = []
        var agreeing = 0
        var differing: [String] = []
        for segment in segments {
            let (count, seconds) = try baseline.count(segment.condition, nowMs: self.countsReadAtMs)
            times.append(seconds * 1000)
            if self.evaluatorCounts[segment.name] == count {
                agreeing += 1
            } else {
                differing.append(segment.name)
                self.note(
                    "SQL count of \(segment.name) is \(count), the evaluator said \(self.evaluatorCounts[segment.name] ?? -1)"
                )
            }
        }
        self.note(
            "SQL whole segments: \(segments.count) queries, \(String(format: "%.2f", times.reduce(0, +) / 1000)) s in total"
        )

        var rows = 0
        var membersSeconds = 0.0
        let conditions = SegmentMix.conditionsByName
        for name in self.largestSegments {
            guard let condition = conditions[name] else { continue }
            let (count, seconds) = try baseline.members(condition, nowMs: Int64(Self.wallMs()))
            rows += count
            membersSeconds += seconds
        }

        // Recompute every segment of one user, as a system without incremental state must after each change.
        let statements = try baseline.perUserStatements(SegmentMix.segments)
        var rng = SplitMix64(seed: self.options.seed, stream: 2, purpose: 30)
        let clock = ContinuousClock()
        var recompute: [Double] = []
        var single: [Double] = []
        for _ in 0..<self.options.baselineUserSamples {
            let user = DataGenerator.userID(rng.below(self.options.scale.users))
            let nowMs = Int64(Self.wallMs())
            let start = clock.now
            for statement in statements {
                _ = try SQLBaseline.evaluate(statement, userID: user, nowMs: nowMs)
            }
            recompute.append((clock.now - start).seconds * 1e6)
            let statement = statements[rng.below(statements.count)]
            let t0 = clock.now
            _ = try SQLBaseline.evaluate(
                statement,
                userID: DataGenerator.userID(rng.below(self.options.scale.users)),
                nowMs: nowMs
            )
            single.append((clock.now - t0).seconds * 1e6)
        }
        let sorted = times.sorted()
        self.results.baseline = .init(
            loadSeconds: self.baselineLoad.load,
            indexSeconds: self.baselineLoad.index,
            segmentsQueried: segments.count,
            wholeSegmentMedianMs: LatencySummary.percentile(sorted, 0.5),
            wholeSegmentMaxMs: sorted.last ?? 0,
            wholeSegmentTotalSeconds: times.reduce(0, +) / 1000,
            segmentsAgreeing: agreeing,
            segmentsDiffering: differing,
            recomputeUser: LatencySummary(microseconds: recompute),
            checkOneSegment: LatencySummary(microseconds: single),
            membersRowsPerSecond: Double(rows) / max(membersSeconds, 1e-9)
        )
        self.note(
            "SQL per user: recompute all \(statements.count) segments p50 \(Int(self.results.baseline!.recomputeUser.p50Us)) µs"
        )
    }
}
