import Foundation
import SegmentsTesting
import Testing

/// The evaluator keeps following the store's log in what a new user does first — load data,
/// then define segments, in a burst — and when it is paused or the store stops answering
/// (issue 10). Real daemon processes, driven with `segclient`.
@Suite(.serialized, .timeLimit(.minutes(5))) struct FeedStallTests {
    /// Events for `users` users dated in October 2026 (before the manual clock), with what each
    /// user ends up with.
    struct Data {
        var ndjson = ""
        /// Each user's page views' amounts.
        var pageViews: [String: [Int]] = [:]
        var purchases: [String: Int] = [:]

        init(events: Int, users: Int, seed: UInt64) {
            var random = WorkloadRandom(seed: seed)
            for _ in 0..<events {
                let user = "u\(random.int(0...users - 1))"
                let name = random.pick(["page_view", "page_view", "purchase", "signup"])
                let day = random.int(1...31)
                let amount = random.int(0...99)
                self.ndjson += """
                    {"user":"\(user)","event":"\(name)","at":"2026-10-\(day < 10 ? "0" : "")\(day)T10:00:00Z",\
                    "properties":{"amount":\(amount)}}

                    """
                if name == "page_view" { self.pageViews[user, default: []].append(amount) }
                if name == "purchase" { self.purchases[user, default: 0] += 1 }
            }
        }

        /// Segment `i` of the burst: each counts page views with a filter of its own, which no
        /// earlier segment kept, so each needs a back-fill from the store's log.
        static func expression(_ i: Int) -> String {
            "count(page_view where amount >= \(i * 2)) > \(i % 3) and count(purchase) >= 1"
        }

        /// How many users segment `i` holds.
        func expectedCount(_ i: Int) -> Int {
            self.purchases.keys.filter { user in
                (self.pageViews[user] ?? []).filter { $0 >= i * 2 }.count > i % 3
            }.count
        }
    }

    /// The store's head, from `segclient status --json` (which exits 1 while the evaluator is paused: it does
    /// not answer within the timeout, and is reported unreachable).
    static func headSeq(_ pair: DaemonPair) async throws -> UInt64 {
        let json = try await pair.segclient(["status", "--json", "--timeout", "300ms"]).stdout
        let object = try JSONSerialization.jsonObject(with: Foundation.Data(json.utf8)) as? [String: Any]
        return try #require((object?["head_seq"] as? NSNumber)?.uint64Value)
    }

    /// `segclient members NAME --count --min-seq SEQ`, asked again while the evaluator has not
    /// applied `seq` within its read timeout (10 s), for up to `limit`: a slow evaluator (a debug
    /// build on a busy machine) gets there, a stalled one never does.
    static func count(
        _ pair: DaemonPair,
        _ segment: String,
        minSeq: UInt64,
        within limit: Duration = .seconds(120)
    ) async throws -> Int? {
        let deadline = ContinuousClock.now + limit
        while true {
            let arguments = ["members", segment, "--count", "--min-seq", "\(minSeq)"]
            let result = try await pair.segclient(arguments)
            if result.status == 0 {
                return Int(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            guard result.stderr.contains("not yet"), ContinuousClock.now < deadline else {
                throw DaemonProcessError(message: "segclient \(arguments.joined(separator: " ")): \(result.stderr)")
            }
        }
    }

    /// The reproduction from issue 10, without timing: segments created while the evaluator is
    /// stopped pile up unread on its feed; once it runs again it must back-fill every one and
    /// reach the head. Before per-stream flow control it stopped at the first back-fill, for good.
    @Test func segmentsCreatedWhileTheEvaluatorIsPausedAreAllBackfilled() async throws {
        try await DaemonPair.with { pair in
            let data = Data(events: 100, users: 20, seed: 10)
            try await pair.segclientOK(["import", "events", "-"], input: data.ndjson)
            try await pair.segclientOK(["segment", "create", "s0", Data.expression(0)])
            #expect(try await Self.count(pair, "s0", minSeq: Self.headSeq(pair)) == data.expectedCount(0))

            pair.pauseEvaluator(true)
            for i in 1...20 {
                try await pair.segclientOK(["segment", "create", "s\(i)", Data.expression(i)])
            }
            pair.pauseEvaluator(false)
            let head = try await Self.headSeq(pair)
            for i in [20, 0, 7, 13] {
                #expect(try await Self.count(pair, "s\(i)", minSeq: head) == data.expectedCount(i), "s\(i)")
            }
        }
    }

    /// The burst from issue 10: 20,000 events, then 40 segments created back to back, each
    /// needing a back-fill; the evaluator reaches the head and every segment holds the right users.
    @Test func aBurstOfSegmentsOverLoadedDataIsFollowedToTheHead() async throws {
        try await DaemonPair.with { pair in
            let data = Data(events: 20_000, users: 2_000, seed: 11)
            try await pair.segclientOK(["import", "events", "-"], input: data.ndjson)
            for i in 1...40 {
                try await pair.segclientOK(["segment", "create", "s\(i)", Data.expression(i)])
            }
            let head = try await Self.headSeq(pair)
            #expect(try await Self.count(pair, "s40", minSeq: head) == data.expectedCount(40))
            for i in 1...39 {
                #expect(try await Self.count(pair, "s\(i)", minSeq: head) == data.expectedCount(i), "s\(i)")
            }
        }
    }

    /// When the store stops answering while it is ahead, the evaluator says so within its stall
    /// timeout — naming what it waits on — and tries again; once the store answers, it catches up.
    @Test func aStalledFeedIsReportedAndRecoveredFrom() async throws {
        let options = DaemonPair.Options(evaluatorArguments: ["--stall-timeout-ms", "1000"])
        try await DaemonPair.with(options: options) { pair in
            try await pair.segclientOK(["segment", "create", "pro", #"plan = "pro""#])
            _ = try await Self.count(pair, "pro", minSeq: Self.headSeq(pair))

            // Behind: the evaluator misses 60 writes, of which at most its feed's window arrives
            // once it runs again, because by then the store does not answer.
            pair.pauseEvaluator(true)
            for i in 0..<60 {
                try await pair.segclientOK(["profile", "set", "u\(i)", #"{"plan":"pro"}"#])
            }
            let head = try await Self.headSeq(pair)
            pair.pauseStore(true)
            pair.pauseEvaluator(false)

            let deadline = ContinuousClock.now + .seconds(20)
            while !pair.evaluator.log.contains("while the store is ahead; resubscribing"),
                ContinuousClock.now < deadline
            {
                try await Task.sleep(for: .milliseconds(100))
            }
            pair.pauseStore(false)
            let log = pair.evaluator.log
            #expect(log.contains("the evaluator has received nothing from the store while the store is ahead"))
            #expect(log.contains("waiting-on="), "the warning names what the evaluator waits on")
            #expect(log.contains("store-head=\(head)"))
            #expect(try await Self.count(pair, "pro", minSeq: head) == 60)
        }
    }
}
