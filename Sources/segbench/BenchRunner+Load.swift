import Foundation
import SegmentsBenchKit
import SegmentsClient
import SegmentsWire

// MARK: - Segments, import, catch-up, live ingest

extension BenchRunner {
    func saveSegments() async throws(SegbenchError) {
        let extra = [Self.freshSegment, Self.lateSegment, Self.burstSegment]
        do {
            for segment in SegmentMix.segments {
                try await self.client.putSegment(segment.name, expression: segment.expression)
                self.segmentNames.append(segment.name)
            }
            for (name, expression) in extra {
                try await self.client.putSegment(name, expression: expression)
                self.segmentNames.append(name)
            }
        } catch {
            throw Self.fail("saving segments", error)
        }
        self.results.run.segments = self.segmentNames.count
        self.note(
            "saved \(self.segmentNames.count) segments (\(SegmentMix.segments.count) in the mix + \(extra.count) for timed phases)"
        )
    }

    /// Sends `count` batches built by `make`, keeping `inFlight` calls outstanding.
    static func pipelined<Batch: Sendable>(
        inFlight: Int,
        count: Int,
        make: (Int) -> Batch,
        send: @escaping @Sendable (Batch) async throws -> UInt64
    ) async throws -> UInt64 {
        try await withThrowingTaskGroup(of: UInt64.self) { group in
            var maxSeq: UInt64 = 0
            var pending = 0
            for index in 0..<count {
                if pending >= inFlight, let seq = try await group.next() {
                    maxSeq = max(maxSeq, seq)
                    pending -= 1
                }
                let batch = make(index)
                group.addTask { try await send(batch) }
                pending += 1
            }
            for try await seq in group { maxSeq = max(maxSeq, seq) }
            return maxSeq
        }
    }

    func bulkImport() async throws(SegbenchError) {
        let users = self.options.scale.users
        let generator = self.generator
        let client = self.client
        let profileBatch = 2000
        let eventBatch = 10_000
        let inFlight = 2
        let clock = ContinuousClock()
        do {
            let start = clock.now
            _ = try await Self.pipelined(
                inFlight: inFlight,
                count: (users + profileBatch - 1) / profileBatch,
                make: { batch in
                    (batch * profileBatch..<min(users, (batch + 1) * profileBatch)).map { index in
                        (
                            userID: DataGenerator.userID(index),
                            attributes: generator.attributes(index).mapValues { Optional($0) }
                        )
                    }
                },
                send: { patches in
                    let result = try await client.upsertProfiles(patches)
                    guard result.rejected.isEmpty else {
                        throw SegbenchError(.phase, "the store refused profiles: \(result.rejected.first!.error)")
                    }
                    return result.seq
                }
            )
            let profileSeconds = (clock.now - start).seconds
            self.note("imported \(users) profiles in \(String(format: "%.2f", profileSeconds)) s")

            // Event batches: whole users until the batch holds at least `eventBatch` events.
            var boundaries: [Int] = [0]
            var running = 0
            for index in 0..<users {
                running += Int(generator.eventCounts[index])
                if running >= eventBatch {
                    boundaries.append(index + 1)
                    running = 0
                }
            }
            if boundaries.last != users { boundaries.append(users) }
            let storeCPU = self.store?.cpuSeconds ?? 0
            let eventStart = clock.now
            _ = try await Self.pipelined(
                inFlight: inFlight,
                count: boundaries.count - 1,
                make: { batch in
                    var events: [SegmentsEvent] = []
                    events.reserveCapacity(eventBatch + 500)
                    for index in boundaries[batch]..<boundaries[batch + 1] {
                        let id = DataGenerator.userID(index)
                        for event in generator.events(index) { events.append(event.clientEvent(userID: id)) }
                    }
                    return events
                },
                send: { events in
                    let result = try await client.track(events)
                    guard result.rejected.isEmpty else {
                        throw SegbenchError(.phase, "the store refused events: \(result.rejected.first!.error)")
                    }
                    return result.seq
                }
            )
            let eventSeconds = (clock.now - eventStart).seconds
            self.results.bulkImport = BenchResults.Import(
                profiles: users,
                profileSeconds: profileSeconds,
                events: self.options.scale.events,
                eventSeconds: eventSeconds,
                batchSize: eventBatch,
                inFlight: inFlight,
                storeCPUSeconds: (self.store?.cpuSeconds ?? 0) - storeCPU
            )
            self.note(
                "imported \(self.options.scale.events) events in \(String(format: "%.2f", eventSeconds)) s (\(ResultsTable.int(self.results.bulkImport!.eventsPerSecond))/s)"
            )
        } catch {
            throw Self.fail("bulk import", error)
        }
    }

    /// The resident memory of the evaluator with nothing loaded: started over the empty store (and a data
    /// directory of its own, removed after), read once it has followed the store's head for a second, then
    /// stopped. The memory figure per user counts what the evaluator holds above this.
    func measureIdleEvaluator() async throws(SegbenchError) {
        let directory = self.workDirectory + "/evaluator-idle"
        let evaluator = try await self.startEvaluator(dataDirectory: directory)
        do {
            _ = try await self.waitForEvaluator(seq: try await self.storeHead(), timeout: .seconds(60))
            try? await Task.sleep(for: .seconds(1))
        } catch {
            evaluator.kill()
            throw error
        }
        self.evaluatorIdleRSS = evaluator.rssBytes
        let status = evaluator.terminate()
        guard status == 0 else {
            throw SegbenchError(.daemon, "the idle evaluator exited with status \(status); log: \(evaluator.logTail)")
        }
        try? FileManager.default.removeItem(atPath: directory)
        self.note("idle evaluator: \(self.evaluatorIdleRSS / 1024) KiB resident")
    }

    func catchUp() async throws(SegbenchError) {
        let head = try await self.storeHead()
        let storeCPU = self.store?.cpuSeconds ?? 0
        let start = ContinuousClock.now
        let evaluator = try await self.startEvaluator()
        self.evaluator = evaluator
        let done = try await self.waitForEvaluator(seq: head, timeout: .seconds(3600), poll: .milliseconds(5))
        let seconds = (done - start).seconds
        self.results.catchUp = BenchResults.CatchUp(
            seconds: seconds,
            events: self.options.scale.events,
            evaluatorCPUSeconds: evaluator.cpuSeconds,
            storeCPUSeconds: (self.store?.cpuSeconds ?? 0) - storeCPU
        )
        self.evaluatorRSSAtHead = evaluator.rssBytes
        self.note("evaluator caught up with seq \(head) in \(String(format: "%.2f", seconds)) s")
    }

    /// One live-ingest run: what was written and how the evaluator followed.
    struct LiveRun {
        var events: Int
        var writeSeconds: Double
        var evaluatorSeconds: Double
        var maxLagBatches: Int
        var drainMilliseconds: Double
        var evaluatorCPUSeconds: Double
    }

    /// Writes for `live-seconds` as fast as the store takes them, then paced at 80 %, 70 %, … 30 %
    /// of the rate the evaluator reached, stopping at the first it sustains with bounded lag. (Steps
    /// of 80/50/30 % made a faster evaluator report less: a higher unpaced rate whose 80 % was just
    /// out of reach fell to the 50 % step.)
    func liveIngest() async throws(SegbenchError) {
        let batchSize = 1000
        let blast = try await self.liveRun(
            batchSize: batchSize,
            seconds: self.options.liveSeconds,
            rate: nil,
            stream: 1
        )
        var result = BenchResults.LiveIngest(
            seconds: blast.writeSeconds,
            events: blast.events,
            batchSize: batchSize,
            evaluatorSeconds: blast.evaluatorSeconds,
            maxLagEvents: blast.maxLagBatches * batchSize,
            drainMilliseconds: blast.drainMilliseconds,
            evaluatorCPUSeconds: blast.evaluatorCPUSeconds
        )
        self.note(
            "live ingest, unpaced: \(blast.events) events in \(String(format: "%.2f", blast.writeSeconds)) s, drained \(String(format: "%.1f", blast.drainMilliseconds)) ms after"
        )
        // Paced runs at falling fractions of the unpaced rate until the evaluator keeps up
        // (drains within 500 ms of the last write).
        let ceiling = min(result.evaluatorEventsPerSecond, result.storeEventsPerSecond)
        for (attempt, fraction) in [0.8, 0.7, 0.6, 0.5, 0.4, 0.3].enumerated() {
            let target = fraction * ceiling
            let paced = try await self.liveRun(
                batchSize: batchSize,
                seconds: self.options.liveSeconds,
                rate: target,
                stream: UInt64(2 + attempt)
            )
            result.pacedTargetEventsPerSecond = target
            result.pacedEventsPerSecond = Double(paced.events) / max(paced.writeSeconds, 1e-9)
            result.pacedMaxLagEvents = paced.maxLagBatches * batchSize
            result.pacedDrainMilliseconds = paced.drainMilliseconds
            self.note(
                "live ingest, paced at \(Int(target))/s: \(Int(result.pacedEventsPerSecond ?? 0))/s written, max lag \(paced.maxLagBatches * batchSize) events, drained \(String(format: "%.1f", paced.drainMilliseconds)) ms after"
            )
            if paced.drainMilliseconds < 500 { break }
        }
        self.results.liveIngest = result
    }

    func liveRun(
        batchSize: Int,
        seconds duration: Double,
        rate: Double?,
        stream: UInt64
    ) async throws(SegbenchError) -> LiveRun {
        let users = self.options.scale.users
        let inFlight = 4
        let client = self.client
        let maxAcked = Shared<UInt64>(0)
        let stop = Shared<Bool>(false)
        let evaluatorCPU = self.evaluator?.cpuSeconds ?? 0
        let statusClient = self.newClient()
        let clock = ContinuousClock()
        let start = clock.now
        do {
            // Sample the lag every 50 ms while writing.
            async let lagSamples: Int = {
                var maxLag = 0
                while !stop.value && !Task.isCancelled {
                    if let status = try? await statusClient.evaluatorStatus().first {
                        let acked = maxAcked.value
                        maxLag = max(maxLag, Int(acked > status.appliedSeq ? acked - status.appliedSeq : 0))
                    }
                    try? await Task.sleep(for: .milliseconds(50))
                }
                return maxLag
            }()
            var batches = 0
            var rng = SplitMix64(seed: self.options.seed, stream: stream, purpose: 10)
            let deadline = start + .milliseconds(Int(duration * 1000))
            try await withThrowingTaskGroup(of: Void.self) { group in
                var pending = 0
                while clock.now < deadline {
                    if let rate {
                        let due = start + .microseconds(Int64(Double(batches * batchSize) / rate * 1e6))
                        if due > clock.now { try await Task.sleep(until: due, clock: clock) }
                    }
                    if pending >= inFlight {
                        try await group.next()
                        pending -= 1
                    }
                    let nowMs = Int64(Self.wallMs())
                    var events: [SegmentsEvent] = []
                    events.reserveCapacity(batchSize)
                    for _ in 0..<batchSize {
                        let kind = rng.pick([0.68, 0.15, 0.11, 0.06])
                        var properties: [String: SegmentsValue] = [:]
                        if kind == 0 {
                            properties["url"] = .string(DataGenerator.urls[rng.below(DataGenerator.urls.count)])
                        }
                        if kind >= 2 { properties["amount"] = .number(Double(rng.below(20_000)) / 100) }
                        events.append(
                            SegmentsEvent(
                                userID: DataGenerator.userID(rng.below(users)),
                                name: DataGenerator.eventNames[kind],
                                atMs: nowMs,
                                properties: properties,
                                id: "live-\(stream)-\(batches)-\(events.count)"
                            )
                        )
                    }
                    batches += 1
                    group.addTask {
                        let result = try await client.track(events)
                        maxAcked.withLock { $0 = max($0, result.seq) }
                    }
                    pending += 1
                }
                try await group.waitForAll()
            }
            let writesDone = clock.now
            let applied = try await self.waitForEvaluator(
                seq: maxAcked.value,
                timeout: .seconds(600),
                poll: .milliseconds(1)
            )
            stop.withLock { $0 = true }
            let maxLagBatches = await lagSamples
            await statusClient.close()
            return LiveRun(
                events: batches * batchSize,
                writeSeconds: (writesDone - start).seconds,
                evaluatorSeconds: (applied - start).seconds,
                maxLagBatches: maxLagBatches,
                drainMilliseconds: (applied - writesDone).seconds * 1000,
                evaluatorCPUSeconds: (self.evaluator?.cpuSeconds ?? 0) - evaluatorCPU
            )
        } catch {
            stop.withLock { $0 = true }
            await statusClient.close()
            throw Self.fail("live ingest", error)
        }
    }
}
