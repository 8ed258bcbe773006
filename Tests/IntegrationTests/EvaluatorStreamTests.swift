import Foundation
import SegmentLanguage
import SegmentsClient
import SegmentsTesting
import SegmentsWire
import Synchronization
import Testing

/// Back-fill while writes keep flowing, and the watch stream: live, in log order, resumable
/// exactly, filtered, and harmless when its reader is slow.
@Suite struct EvaluatorStreamTests {
    // MARK: - Back-fill under writes

    @Test func backfillWhileAWriterKeepsWritingHasNoGapAndNoDoubleCount() async throws {
        try await withDaemons { daemons in
            let client = daemons.client
            let users = (0..<24).map { "v\($0 < 10 ? "0" : "")\($0)" }
            // Data before any segment reads it.
            var seeded: [SegmentsEvent] = []
            for (index, user) in users.enumerated() {
                for k in 0..<(index % 5) {
                    seeded.append(
                        SegmentsEvent(
                            userID: user,
                            name: "view",
                            atMs: ms("2026-10-20T00:00:00Z") + Int64(k),
                            properties: ["n": .number(1)]
                        )
                    )
                }
            }
            _ = try await client.track(seeded)
            let shared = WriterLog(seeded)
            // The writer: small batches of past-dated views, as fast as the store takes them.
            let writer = Task { [shared] in
                var r = WorkloadRandom(seed: 42)
                for _ in 0..<300 {
                    let batch = (0..<r.int(1...3)).map { _ in
                        SegmentsEvent(
                            userID: r.pick(users),
                            name: "view",
                            atMs: ms("2026-10-25T00:00:00Z") + r.int64(0...1_000_000),
                            properties: ["n": .number(Double(r.int(0...3)))]
                        )
                    }
                    let seq = try await client.track(batch).seq
                    shared.written.withLock { $0.append((seq, batch)) }
                    shared.progress.withLock { $0 += 1 }
                }
            }
            func waitForWriter(_ count: Int) async throws {
                while shared.progress.withLock({ $0 }) < count { try await Task.sleep(for: .milliseconds(2)) }
            }
            func counts(upTo seq: UInt64, where filter: (SegmentsEvent) -> Bool = { _ in true }) -> [String: Int] {
                var out: [String: Int] = [:]
                for (s, batch) in shared.written.withLock({ $0 }) where s <= seq {
                    for event in batch where filter(event) { out[event.userID, default: 0] += 1 }
                }
                return out
            }

            try await waitForWriter(60)
            let viewersSeq = try await client.putSegment("viewers", expression: "count(view) >= 8").updatedSeq
            // Read your writes on the new segment: at least its state as of the put, already back-filled.
            let early = Set(try await client.members("viewers", minSeq: viewersSeq))
            try await waitForWriter(150)
            let heavySeq = try await client.putSegment("heavy", expression: "sum(view.n where n >= 2) >= 10").updatedSeq
            let earlyHeavy = Set(try await client.members("heavy", minSeq: heavySeq))
            // Both puts landed while the writer was writing.
            #expect(shared.progress.withLock { $0 } < 300)
            try await writer.value
            let lastSeq = shared.written.withLock { $0.map(\.seq).max() ?? 0 }

            // Monotone segments: what the evaluator showed after each put lies between the truth at
            // the put and the final truth.
            let viewersAtPut = Set(counts(upTo: viewersSeq).filter { $0.value >= 8 }.keys)
            let viewersFinal = Set(counts(upTo: lastSeq).filter { $0.value >= 8 }.keys)
            #expect(
                viewersAtPut.isSubset(of: early) && early.isSubset(of: viewersFinal),
                "after the put (seq \(viewersSeq)): \(early.sorted()); true at the put: \(viewersAtPut.sorted())"
            )
            #expect(!viewersAtPut.isEmpty, "the workload should make viewers before the put")
            func heavySums(upTo seq: UInt64) -> [String: Double] {
                var out: [String: Double] = [:]
                for (s, batch) in shared.written.withLock({ $0 }) where s <= seq {
                    for event in batch {
                        if case .number(let n)? = event.properties["n"], n >= 2 { out[event.userID, default: 0] += n }
                    }
                }
                return out
            }
            let heavyAtPut = Set(heavySums(upTo: heavySeq).filter { $0.value >= 10 }.keys)
            let heavyFinal = Set(heavySums(upTo: lastSeq).filter { $0.value >= 10 }.keys)
            #expect(
                heavyAtPut.isSubset(of: earlyHeavy) && earlyHeavy.isSubset(of: heavyFinal),
                "after the put (seq \(heavySeq)): \(earlyHeavy.sorted()); true at the put: \(heavyAtPut.sorted())"
            )

            // Afterwards: exactly the truth.
            #expect(Set(try await client.members("viewers", minSeq: lastSeq)) == viewersFinal)
            #expect(Set(try await client.members("heavy", minSeq: lastSeq)) == heavyFinal)
            // And every user's count is exact (a gap or a double count would show here).
            let finalCounts = counts(upTo: lastSeq)
            let finalSums = heavySums(upTo: lastSeq)
            for user in users {
                let viewers = try await client.explain(user, in: "viewers", minSeq: lastSeq)
                #expect(viewers.root.children.first?.value == "\(finalCounts[user] ?? 0)", "\(user) count")
                let heavy = try await client.explain(user, in: "heavy", minSeq: lastSeq)
                let sum = finalSums[user] ?? 0
                #expect(heavy.root.children.first?.value == "\(Int(sum))", "\(user) sum")
            }
            // Each member entered exactly once and never left.
            for segment in ["viewers", "heavy"] {
                let history = try await client.history(ofSegment: segment)
                #expect(history.allSatisfy { $0.kind == .enter })
                #expect(history.map(\.userID).sorted() == (segment == "viewers" ? viewersFinal : heavyFinal).sorted())
            }
        }
    }

    // MARK: - Watch

    @Test func watchDeliversLiveInLogOrderAndResumesExactly() async throws {
        try await withDaemons { daemons in
            let client = daemons.client
            try await client.putSegment("buyers", expression: "count(purchase) >= 1")
            try await client.putSegment("recent", expression: "count(purchase within 1d) >= 1")
            let chain = try await client.putSegment(
                "lapsed",
                expression: #"in_segment("buyers") and not in_segment("recent")"#
            )
            _ = try await client.memberCount("lapsed", minSeq: chain.updatedSeq)
            let head = try await client.evaluatorStatus()[0].transitionSeq
            let live = Collector(try await client.watch(fromSeq: head + 1))

            var seq: UInt64 = 0
            for index in 0..<12 {
                let at = ms("2026-11-01T00:00:00Z") - Int64(index) * 3 * workloadHour
                seq = try await client.event("w\(index)", "purchase", at: RFC3339.format(at))
                if index == 5 {
                    // Live: what is recorded so far has already arrived, before any further write.
                    _ = try await client.memberCount("buyers", minSeq: seq)
                    let recorded = try await client.evaluatorStatus()[0].transitionSeq
                    try await live.wait(forCount: Int(recorded - head))
                }
            }
            seq = try await client.clock("2026-11-01T20:00:00Z")
            seq = try await client.event("w3", "purchase", at: "2026-11-01T20:00:00Z")
            seq = try await client.deleteProfile("w4").seq
            seq = try await client.clock("2026-11-03T00:00:00Z")
            _ = try await client.memberCount("buyers", minSeq: seq)

            let log = try await Self.fullLog(client, segments: ["buyers", "recent", "lapsed"])
            let suffix = log.filter { $0.seq > head }
            #expect(suffix.count > 40)
            try await live.wait(forCount: suffix.count)
            try await Task.sleep(for: .milliseconds(200))
            // Exactly the log after `head`: in order, no gap, nothing twice, nothing more.
            #expect(live.items.map(\.seq) == Array((head + 1)...(head + UInt64(suffix.count))))
            // w4's transitions went out live under its id; since its deletion the log names them after the deletion
            // (`erased-N`), and that is the only difference.
            let renamed = live.items.map { item in
                var item = item
                if item.userID == "w4", let recorded = suffix.first(where: { $0.seq == item.seq }),
                    recorded.userID.hasPrefix("erased-")
                {
                    item.userID = recorded.userID
                }
                return item
            }
            #expect(renamed == suffix)
            live.cancel()

            // Resuming from earlier seqs gives exactly the suffix of the log.
            for from in [UInt64(1), head + 1, head + 17, log.last!.seq, log.last!.seq + 1] {
                let resumed = Collector(try await client.watch(fromSeq: from))
                let expected = log.filter { $0.seq >= from }
                try await resumed.wait(forCount: expected.count)
                try await Task.sleep(for: .milliseconds(100))
                #expect(resumed.items == expected, "from \(from)")
                resumed.cancel()
            }

            // Filtered by segment: exactly that segment's transitions, in log order, from seq 1.
            let filtered = Collector(try await client.watch(segments: ["lapsed", "recent"], fromSeq: 1))
            let expected = log.filter { $0.segment == "lapsed" || $0.segment == "recent" }
            try await filtered.wait(forCount: expected.count)
            // One more lapsed transition arrives live through the filter; a buyers-only one does not.
            _ = try await client.event("w9", "purchase", at: "2026-11-03T00:00:00Z")
            _ = try await client.event("fresh", "purchase", at: "2026-10-01T00:00:00Z")
            try await filtered.wait(forCount: expected.count + 3)
            try await Task.sleep(for: .milliseconds(100))
            let tail = filtered.items.suffix(from: expected.count).map { "\($0.kind) \($0.segment) \($0.userID)" }
            #expect(Array(filtered.items.prefix(expected.count)) == expected)
            #expect(tail == ["enter recent w9", "exit lapsed w9", "enter lapsed fresh"])
            filtered.cancel()
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aSlowWatchReaderDoesNotHoldUpTheEvaluatorAndGetsEverythingInOrder() async throws {
        try await withDaemons { daemons in
            let client = daemons.client
            try await client.putSegment("active", expression: "count(ping within 1h) >= 1")
            let head = try await client.evaluatorStatus()[0].transitionSeq
            // The reader reads one batch, then stops reading for a while. It shares the client
            // whose reads are timed below: a stalled watch holds up only its own connection,
            // neither the evaluator nor the client's other calls.
            let paused = Mutex(true)
            let reader = Collector(try await client.watch(fromSeq: head + 1)) { count in
                if count >= 1 {
                    while paused.withLock({ $0 }) { try? await Task.sleep(for: .milliseconds(10)) }
                }
            }
            // Many transitions: 3 × 1000 users enter, then all exit an hour later; eight times.
            // That is 48 batches of 1000, well past what the paused stream buffers (16 batches on
            // the client, plus the socket's buffers), so the watch connection really stalls.
            let rounds = 8
            let total = UInt64(rounds * 6000)
            var seq: UInt64 = 0
            var slowest = Duration.zero
            for round in 0..<rounds {
                for batch in 0..<3 {
                    let events = (0..<1000).map { SegmentsEvent(userID: "p\(batch)-\($0)", name: "ping") }
                    seq = try await client.track(events).seq
                    // The evaluator keeps answering promptly while the reader is stalled.
                    let started = ContinuousClock.now
                    #expect(try await client.check("p\(batch)-7", in: "active", minSeq: seq).member)
                    slowest = max(slowest, ContinuousClock.now - started)
                }
                seq = try await client.advanceClock(byMs: workloadHour).seq
                let started = ContinuousClock.now
                #expect(try await client.memberCount("active", minSeq: seq) == 0)
                slowest = max(slowest, ContinuousClock.now - started)
                _ = round
            }
            #expect(slowest < .seconds(5), "a read waited \(slowest) behind the slow reader")
            let recorded = try await client.evaluatorStatus()[0].transitionSeq
            #expect(recorded - head == total)
            #expect(reader.items.count < Int(total) / 2, "the reader was supposed to be far behind")
            paused.withLock { $0 = false }
            try await reader.wait(forCount: Int(total), timeout: .seconds(60))
            #expect(reader.items.map(\.seq) == Array((head + 1)...recorded))
            let log = try await client.history(ofSegment: "active").filter { $0.seq > head }
            #expect(reader.items == log.sorted { $0.seq < $1.seq })
            reader.cancel()
        }
    }

    // MARK: - Helpers

    /// Every transition of `segments`, in seq order.
    static func fullLog(_ client: SegmentsClient, segments: [String]) async throws -> [SegmentsTransition] {
        var all: [SegmentsTransition] = []
        for segment in segments { all += try await client.history(ofSegment: segment) }
        return all.sorted { $0.seq < $1.seq }
    }
}

/// What the back-fill test's writer wrote, by change-log number.
final class WriterLog: Sendable {
    let written: Mutex<[(seq: UInt64, events: [SegmentsEvent])]>
    let progress = Mutex(0)

    init(_ seeded: [SegmentsEvent]) { self.written = Mutex([(0, seeded)]) }
}

/// Reads a watch stream in the background, keeping what arrived.
final class Collector: Sendable {
    private let received = Mutex<[SegmentsTransition]>([])
    private let failure = Mutex<(any Error)?>(nil)
    private let task: Mutex<Task<Void, Never>?> = Mutex(nil)

    /// Starts reading `stream`; `afterBatch` runs after each batch with the number received so far
    /// (a slow reader sleeps there).
    init(
        _ stream: sending SegmentsTransitionStream,
        afterBatch: @escaping @Sendable (Int) async -> Void = { _ in }
    ) {
        let task = Task { [self] in
            do {
                for try await batch in stream {
                    let count = self.received.withLock {
                        $0 += batch
                        return $0.count
                    }
                    await afterBatch(count)
                }
            } catch {
                if !Task.isCancelled { self.failure.withLock { $0 = error } }
            }
        }
        self.task.withLock { $0 = task }
    }

    var items: [SegmentsTransition] { self.received.withLock { $0 } }

    /// Waits until at least `count` transitions arrived.
    func wait(forCount count: Int, timeout: Duration = .seconds(20)) async throws {
        let deadline = ContinuousClock.now + timeout
        while self.items.count < count {
            if let error = self.failure.withLock({ $0 }) { throw error }
            guard ContinuousClock.now < deadline else {
                Issue.record("watch delivered \(self.items.count) of \(count) transitions in \(timeout)")
                return
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    func cancel() {
        self.task.withLock { $0?.cancel() }
    }
}
