import Foundation
import SegmentsBenchKit
import SegmentsClient
import SegmentsWire

// MARK: - Queries, members, back-fill, restart, footprint

extension BenchRunner {
    /// Reads every mix segment's member count, remembering when, for the baseline comparison.
    func compareCounts() async throws(SegbenchError) {
        self.countsReadAtMs = Int64(Self.wallMs())
        do {
            for segment in SegmentMix.segments {
                self.evaluatorCounts[segment.name] = Int(try await self.client.memberCount(segment.name))
            }
        } catch {
            throw Self.fail("member counts", error)
        }
        self.largestSegments = self.evaluatorCounts.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(3).map(
            \.key
        )
        self.note("read member counts of \(self.evaluatorCounts.count) segments")
    }

    func queryLatency() async throws(SegbenchError) {
        let users = self.options.scale.users
        let names = SegmentMix.segments.map(\.name)
        let seconds = self.options.queryPhaseSeconds
        let store = self.storeSocket
        let evaluatorSocket = self.evaluatorSocket
        let seed = self.options.seed
        for query in ["check", "segments-of"] {
            for clients in self.options.concurrencies {
                let clock = ContinuousClock()
                do {
                    let (latencies, elapsed) = try await withThrowingTaskGroup(of: [Double].self) { group in
                        let start = clock.now + .milliseconds(300)
                        let end = start + .milliseconds(Int(seconds * 1000))
                        for worker in 0..<clients {
                            group.addTask {
                                let client = SegmentsClient(
                                    configuration: .init(
                                        storeSocketPath: store,
                                        evaluatorSocketPaths: [evaluatorSocket]
                                    )
                                )
                                var rng = SplitMix64(seed: seed, stream: UInt64(worker), purpose: 20)
                                var samples: [Double] = []
                                samples.reserveCapacity(100_000)
                                do {
                                    // Warm up (connect, caches) until the common start.
                                    while clock.now < start {
                                        _ = try await client.check(DataGenerator.userID(rng.below(users)), in: names[0])
                                    }
                                    while clock.now < end {
                                        let user = DataGenerator.userID(rng.below(users))
                                        let t0 = clock.now
                                        if query == "check" {
                                            _ = try await client.check(user, in: names[rng.below(names.count)])
                                        } else {
                                            _ = try await client.segments(of: user)
                                        }
                                        samples.append((clock.now - t0).seconds * 1e6)
                                    }
                                } catch {
                                    await client.close()
                                    throw error
                                }
                                await client.close()
                                return samples
                            }
                        }
                        var all: [Double] = []
                        for try await samples in group { all += samples }
                        return (all, (clock.now - start).seconds)
                    }
                    let summary = LatencySummary(microseconds: latencies)
                    self.results.queries.append(
                        .init(
                            query: query,
                            clients: clients,
                            latency: summary,
                            callsPerSecond: Double(latencies.count) / elapsed
                        )
                    )
                    self.note(
                        "\(query) ×\(clients): p50 \(Int(summary.p50Us)) µs, p99 \(Int(summary.p99Us)) µs, \(latencies.count) calls"
                    )
                } catch {
                    throw Self.fail("\(query) latency", error)
                }
            }
        }
    }

    func membersThroughput() async throws(SegbenchError) {
        let clock = ContinuousClock()
        var rows = 0
        let start = clock.now
        do {
            for name in self.largestSegments {
                rows += try await self.client.members(name).count
            }
        } catch {
            throw Self.fail("members", error)
        }
        self.results.members = .init(segments: self.largestSegments, rows: rows, seconds: (clock.now - start).seconds)
        self.note("members: \(rows) rows of \(self.largestSegments)")
    }

    /// Write acknowledged → enter delivered on `watch`, one write at a time.
    func freshness() async throws(SegbenchError) {
        let watchClient = self.newClient()
        let seen = Shared<[String: ContinuousClock.Instant]>([:])
        let clock = ContinuousClock()
        let segment = Self.freshSegment.0
        var samples: [Double] = []
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    do {
                        for try await batch in try await watchClient.watch(segments: [segment]) {
                            let now = clock.now
                            seen.withLock { map in
                                for transition in batch where transition.kind != .exit {
                                    map[transition.userID] = now
                                }
                            }
                        }
                    } catch {}
                }
                // Prime: the watch is live once a first enter arrives.
                var primed = false
                for attempt in 0..<50 where !primed {
                    let user = "fresh-prime-\(attempt)"
                    try await self.client.track([SegmentsEvent(userID: user, name: "fresh_ping")])
                    let until = clock.now + .milliseconds(200)
                    while clock.now < until && !primed {
                        primed = seen.value[user] != nil
                        try await Task.sleep(for: .milliseconds(1))
                    }
                }
                guard primed else { throw SegbenchError(.phase, "watch delivered nothing for 10 s") }
                for index in 0..<self.options.freshnessSamples {
                    let user = "fresh-\(index)"
                    try await self.client.track([SegmentsEvent(userID: user, name: "fresh_ping")])
                    let acked = clock.now
                    let until = acked + .seconds(5)
                    while clock.now < until {
                        if let delivered = seen.withLock({ $0[user] }) {
                            samples.append(max(0, (delivered - acked).seconds * 1e6))
                            break
                        }
                        try await Task.sleep(for: .microseconds(100))
                    }
                }
                await watchClient.close()
                group.cancelAll()
            }
        } catch {
            await watchClient.close()
            throw Self.fail("freshness", error)
        }
        guard !samples.isEmpty else { throw SegbenchError(.phase, "freshness: no transition was delivered") }
        self.results.freshness = LatencySummary(microseconds: samples)
        self.note(
            "freshness: p50 \(Int(self.results.freshness!.p50Us)) µs over \(samples.count) writes (\(self.options.freshnessSamples - samples.count) missed)"
        )
    }

    /// Due instant → exit delivered, for users whose only event leaves a short window.
    func timeDriven() async throws(SegbenchError) {
        let lateness = try await self.watchExits(
            segment: Self.lateSegment.0,
            expected: self.options.latenessSamples,
            timeout: .seconds(30)
        ) { () async throws(SegbenchError) in
            for index in 0..<self.options.latenessSamples {
                let nowMs = Int64(Self.wallMs())
                do {
                    try await self.client.track([SegmentsEvent(userID: "late-\(index)", name: "late_ping", atMs: nowMs)]
                    )
                } catch {
                    throw Self.fail("late ping", error)
                }
                try? await Task.sleep(for: .milliseconds(15))
            }
        }
        let latenessSummary = LatencySummary(microseconds: lateness.map { $0 * 1000 })
        self.note(
            "time lateness: p50 \(Int(latenessSummary.p50Us)) µs, p99 \(Int(latenessSummary.p99Us)) µs over \(lateness.count) exits"
        )

        // A burst: many users whose windows close at the same instant.
        let count = self.options.burstUsers
        let leadMs = Int64(1500 + count / 20)
        let eventAt = Int64(Self.wallMs()) + leadMs - Self.burstWindowMs
        let burst = try await self.watchExits(
            segment: Self.burstSegment.0,
            expected: count,
            timeout: .seconds(60) + .milliseconds(leadMs)
        ) { () async throws(SegbenchError) in
            var index = 0
            while index < count {
                let events = (index..<min(count, index + 5000)).map {
                    SegmentsEvent(userID: "burst-\($0)", name: "burst_ping", atMs: eventAt)
                }
                do {
                    try await self.client.track(events)
                } catch {
                    throw Self.fail("burst events", error)
                }
                index += events.count
            }
            if Int64(Self.wallMs()) > eventAt + Self.burstWindowMs {
                self.note(
                    "warning: the burst's events were written after their exits fell due; its figure is not meaningful"
                )
            }
        }
        guard let first = burst.min(), let last = burst.max() else {
            throw SegbenchError(.phase, "time-driven burst: no exit delivered")
        }
        self.results.timeDriven = .init(
            lateness: latenessSummary,
            window: Self.lateWindow,
            burstTransitions: burst.count,
            burstFirstLatenessMs: first,
            burstLastLatenessMs: last
        )
        self.note(
            "burst: \(burst.count) exits, first \(String(format: "%.1f", first)) ms, last \(String(format: "%.1f", last)) ms after due"
        )
    }

    /// Watches `segment`, runs `drive`, and returns each exit's lateness in ms (delivery − its time).
    func watchExits(
        segment: String,
        expected: Int,
        timeout: Duration,
        drive: () async throws(SegbenchError) -> Void
    ) async throws(SegbenchError) -> [Double] {
        let watchClient = self.newClient()
        let exits = Shared<[Double]>([])
        do {
            let watching = Shared<Bool>(false)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    do {
                        let stream = try await watchClient.watch(segments: [segment])
                        watching.withLock { $0 = true }
                        for try await batch in stream {
                            let now = Self.wallMs()
                            let done = exits.withLock { list in
                                for transition in batch where transition.kind == .exit {
                                    list.append(now - Double(transition.atMs))
                                }
                                return list.count >= expected
                            }
                            if done { return }
                        }
                    } catch {}
                }
                let ready = ContinuousClock.now + .seconds(10)
                while !watching.value && ContinuousClock.now < ready {
                    try await Task.sleep(for: .milliseconds(1))
                }
                try await Task.sleep(for: .milliseconds(20))
                try await drive()
                let deadline = ContinuousClock.now + timeout
                while ContinuousClock.now < deadline && exits.value.count < expected {
                    try await Task.sleep(for: .milliseconds(5))
                }
                await watchClient.close()
                group.cancelAll()
            }
        } catch {
            await watchClient.close()
            throw Self.fail("watching \(segment)", error)
        }
        let found = exits.value
        guard !found.isEmpty else { throw SegbenchError(.phase, "no exit of \(segment) was delivered") }
        if found.count < expected {
            self.note("warning: \(found.count) of \(expected) exits of \(segment) arrived in time")
        }
        return found
    }

    func backfill() async throws(SegbenchError) {
        let name = "bench_backfill"
        let condition = Self.backfillCondition
        let clock = ContinuousClock()
        do {
            let start = clock.now
            let saved = try await self.client.putSegment(name, expression: condition.expression)
            _ = try await self.client.check(DataGenerator.userID(0), in: name, minSeq: saved.updatedSeq)
            let seconds = (clock.now - start).seconds
            let members = Int(try await self.client.memberCount(name))
            let sqlSeconds =
                try self.baseline.map { baseline throws(SegbenchError) in
                    try baseline.count(condition, nowMs: Int64(Self.wallMs())).1
                } ?? 0
            self.results.backfill = .init(
                segment: name,
                expression: condition.expression,
                members: members,
                seconds: seconds,
                baselineSQLSeconds: sqlSeconds
            )
            self.note("back-fill of \(name): \(String(format: "%.1f", seconds * 1000)) ms, \(members) members")
        } catch {
            throw Self.fail("back-fill", error)
        }
    }

    func restart() async throws(SegbenchError) {
        guard let evaluator = self.evaluator else { return }
        self.evaluatorPeakBeforeRestart = evaluator.peakRSSBytes
        let head = try await self.storeHead()
        let start = ContinuousClock.now
        let status = evaluator.terminate()
        self.evaluator = nil
        guard status == 0 else {
            throw SegbenchError(
                .daemon,
                "the evaluator exited with status \(status) on SIGTERM; log: \(evaluator.logTail)"
            )
        }
        let stopped = ContinuousClock.now
        self.evaluator = try await self.startEvaluator()
        let ready = try await self.waitForEvaluator(seq: head, timeout: .seconds(600), poll: .milliseconds(2))
        self.results.restartToReadySeconds = (ready - start).seconds
        self.evaluatorRSSAfterRestart = self.evaluator?.rssBytes ?? 0
        self.note(
            "restart: stop \(String(format: "%.0f", (stopped - start).seconds * 1000)) ms, ready at head after \(String(format: "%.0f", (ready - start).seconds * 1000)) ms"
        )
    }

    func footprint() {
        self.results.footprint = .init(
            storePeakRSSBytes: self.store?.peakRSSBytes ?? 0,
            evaluatorPeakRSSBytes: max(self.evaluatorPeakBeforeRestart, self.evaluator?.peakRSSBytes ?? 0),
            evaluatorRSSAfterCatchUpBytes: self.evaluatorRSSAfterCatchUp,
            evaluatorRSSAtHeadBytes: self.evaluatorRSSAtHead,
            evaluatorIdleRSSBytes: self.evaluatorIdleRSS,
            users: self.options.scale.users,
            events: self.options.scale.events,
            evaluatorRSSAfterRestartBytes: self.evaluatorRSSAfterRestart,
            storeDiskBytes: ProcessFigures.directoryBytes(self.storeDataDirectory),
            evaluatorDiskBytes: ProcessFigures.directoryBytes(self.evaluatorDataDirectory),
            baselineDiskBytes: ["", "-wal"].reduce(0) { total, suffix in
                total
                    + ((try? FileManager.default.attributesOfItem(atPath: self.baselineSQLPath + suffix)[.size]
                        as? NSNumber)?.uint64Value ?? 0)
            }
        )
    }
}
