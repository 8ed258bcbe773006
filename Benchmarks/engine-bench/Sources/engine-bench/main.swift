// engine-bench: a deterministic benchmark of the evaluator's in-memory membership engine.
//
// Data: `--users` users (default 100k) with plan/country/age/signup_at/tags, `--events` events (default 2M) spread
// over the 180 days before a fixed end instant, long-tailed per user (page_view ≫ email_open > add_to_cart >
// purchase), and ~50 mixed segments (attribute-only, windowed counts and sums, lapsed buyers, cart abandoners,
// timestamp attributes, in_segment chains). Everything comes from a seeded generator (`--seed`).
//
// Phases, each timed in CPU time of the process (getrusage user+system), not wall time:
//   1. import: clock at the end instant, segments saved, profiles upserted, events applied in batches (late events);
//      memory per user is measured here (malloc in-use bytes, mallinfo2, before/after).
//   2. sweep: the clock advances 30 days in 1-minute steps: due wake-ups and transitions per second.
//   3. isMember: random (user, segment) lookups.
//   3b. live: events stamped at the clock's instant for random users, batches of 1,000 (`--live`).
//   4. new segment: a segment over aggregates the engine keeps, put on the loaded data (wall time, `--puts`).
//   5. replay (unless --no-replay): a fresh engine follows the log as if live, the clock moving with the events for
//      180 days, so windows expire while events arrive.

import CMallocStats
import Glibc
import SegmentEvaluatorEngine
import SegmentLanguage

// MARK: - Options

struct Options {
    var users = 100_000
    var events = 2_000_000
    var seed: UInt64 = 42
    var batch = 500
    var replay = true
    var lookups = 2_000_000
    /// Only the first N segments of the mix (the first 8 are attribute-only), to see what each kind costs.
    var segmentLimit = Int.max
    /// New segments put over the loaded data (phase 4), one after the other, each deleted after it is timed.
    var puts = 5
    /// Live events (phase 3b): stamped at the clock's instant, for users drawn at random, in batches of 1,000.
    var live = 300_000
}

var options = Options()
var argv = CommandLine.arguments.dropFirst()
while let arg = argv.popFirst() {
    switch arg {
    case "--users": options.users = Int(argv.popFirst() ?? "") ?? options.users
    case "--events": options.events = Int(argv.popFirst() ?? "") ?? options.events
    case "--seed": options.seed = UInt64(argv.popFirst() ?? "") ?? options.seed
    case "--batch": options.batch = Int(argv.popFirst() ?? "") ?? options.batch
    case "--lookups": options.lookups = Int(argv.popFirst() ?? "") ?? options.lookups
    case "--no-replay": options.replay = false
    case "--puts": options.puts = Int(argv.popFirst() ?? "") ?? options.puts
    case "--segments": options.segmentLimit = Int(argv.popFirst() ?? "") ?? options.segmentLimit
    case "--live": options.live = Int(argv.popFirst() ?? "") ?? options.live
    default:
        print(
            "usage: engine-bench [--users N] [--events N] [--seed S] [--batch N] [--lookups N] [--segments N] "
                + "[--puts N] [--live N] [--no-replay]"
        )
        exit(2)
    }
}

// MARK: - Measurement

/// CPU seconds (user + system) used by the process so far.
func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let user = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
    let system = Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    return user + system
}

/// Bytes handed out by malloc and not yet freed.
func mallocInUse() -> Int {
    Int(bench_malloc_in_use())
}

/// Resident set size in bytes, from /proc/self/statm.
func residentBytes() -> Int {
    guard let f = fopen("/proc/self/statm", "r") else { return 0 }
    defer { fclose(f) }
    var size = 0
    var resident = 0
    _ = withUnsafeMutablePointer(to: &size) { s in
        withUnsafeMutablePointer(to: &resident) { r in
            withVaList([s, r]) { vfscanf(f, "%ld %ld", $0) }
        }
    }
    return resident * Int(sysconf(Int32(_SC_PAGESIZE)))
}

func fmt(_ x: Double, _ digits: Int = 0) -> String {
    var buffer = [CChar](repeating: 0, count: 64)
    _ = withVaList([x]) { vsnprintf(&buffer, 64, "%.\(digits)f", $0) }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

// MARK: - Deterministic data

/// SplitMix64: small, fast, seeded.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}

let dayMs: Int64 = 86_400_000
/// 2026-11-01T00:00:00Z.
let endMs: Int64 = 1_793_491_200_000
let startMs = endMs - 180 * dayMs

var rng = SplitMix64(state: options.seed)

func userID(_ i: Int) -> String {
    var digits = String(i)
    while digits.count < 7 { digits = "0" + digits }
    return "u" + digits
}

let userIDs = (0..<options.users).map(userID)

let countries = ["US", "US", "US", "DE", "DE", "FR", "GB", "GB", "IN", "BR", "JP", "ES"]
let plans = ["free", "free", "free", "pro", "pro", "team"]
let tagPool = ["vip", "beta", "newsletter", "churn_risk", "partner"]

var profiles: [[String: AttributeValue]] = []
profiles.reserveCapacity(options.users)
for _ in 0..<options.users {
    var attrs: [String: AttributeValue] = [:]
    attrs["plan"] = .string(plans[Int(rng.next() % UInt64(plans.count))])
    attrs["country"] = .string(countries[Int(rng.next() % UInt64(countries.count))])
    attrs["age"] = .number(Double(16 + rng.next() % 60))
    attrs["signup_at"] = .timestamp(endMs - Int64(rng.unit() * 730) * dayMs - Int64(rng.next() % UInt64(dayMs)))
    var tags: [String] = []
    for t in tagPool where rng.next() % 5 == 0 { tags.append(t) }
    if !tags.isEmpty { attrs["tags"] = .stringList(tags) }
    if rng.next() % 4 == 0 { attrs["company"] = .string("acme") }
    profiles.append(attrs)
}

/// Events sorted by instant. A user is drawn with density ∝ 1/√x over a shuffled order (long tail).
var events: [(user: Int32, event: EventRecord)] = []
events.reserveCapacity(options.events)
let urls = ["/", "/pricing", "/pricing/team", "/docs", "/blog/a", "/blog/b", "/signup"]
for _ in 0..<options.events {
    let r = rng.unit()
    let rank = Int(r * r * Double(options.users))
    let user = Int32((rank &* 48_271 &+ 11) % options.users)
    let at = startMs + Int64(rng.unit() * Double(180 * dayMs))
    let kind = rng.next() % 100
    let event: EventRecord
    switch kind {
    case 0..<70:
        event = EventRecord(
            name: "page_view",
            atMs: at,
            properties: ["url": .string(urls[Int(rng.next() % UInt64(urls.count))])]
        )
    case 70..<82: event = EventRecord(name: "email_open", atMs: at)
    case 82..<94: event = EventRecord(name: "add_to_cart", atMs: at, properties: ["sku": .string("sku-1")])
    default:
        event = EventRecord(
            name: "purchase",
            atMs: at,
            properties: ["amount": .number(Double(5 + rng.next() % 300)), "currency": .string("EUR")]
        )
    }
    events.append((user, event))
}
events.sort { $0.event.atMs < $1.event.atMs }

// MARK: - Segments

let segmentTexts: [(String, String)] = [
    // Attribute-only.
    ("pro_users", #"plan = "pro""#),
    ("eu_adults", #"plan = "pro" and country in ["DE", "FR"] and age >= 18"#),
    ("us", #"country = "US""#),
    ("thirties", "age >= 30 and age < 40"),
    ("vip", #"tags contains "vip""#),
    ("companies", "exists(company)"),
    ("paying", #"not (plan = "free")"#),
    ("beta_teams", #"plan in ["team", "pro"] and tags contains "beta""#),
    // Windowed counts.
    ("active_1d", "count(page_view within 1d) >= 1"),
    ("active_7d", "count(page_view within 7d) >= 3"),
    ("active_30d", "count(page_view within 30d) >= 10"),
    ("pricing_7d", #"count(page_view where url starts_with "/pricing" within 7d) >= 2"#),
    ("docs_14d", #"count(page_view where url = "/docs" within 14d) >= 1"#),
    ("buyers_30d", "count(purchase within 30d) >= 1"),
    ("repeat_90d", "count(purchase within 90d) >= 3"),
    ("no_email_14d", "count(email_open within 14d) = 0"),
    ("email_fans", "count(email_open within 30d) >= 3"),
    ("carters_1d", "count(add_to_cart within 1d) >= 1"),
    ("carters_3d", "count(add_to_cart within 3d) >= 2"),
    ("big_buyers_30d", "count(purchase where amount > 150 within 30d) >= 1"),
    // Sums and other windowed aggregates.
    ("spend_90d", "sum(purchase.amount within 90d) > 500"),
    ("spend_30d", "sum(purchase.amount within 30d) > 100"),
    ("avg_60d", "avg(purchase.amount within 60d) > 150"),
    ("max_180d", "max(purchase.amount within 180d) >= 290"),
    ("min_60d", "min(purchase.amount within 60d) < 10"),
    ("lifetime_spend", "sum(purchase.amount) > 1000"),
    ("lifetime_buyers", "count(purchase) >= 1"),
    // Lapsed and recency.
    ("lapsed_buyers", "last(purchase) < 30d ago"),
    ("lapsed_counts", "count(purchase) >= 1 and count(purchase within 30d) = 0"),
    ("gone_quiet", "last(page_view) < 14d ago"),
    ("new_buyers", "first(purchase) > 60d ago"),
    ("lapsed_big", "last(purchase where amount > 200) < 45d ago"),
    // Cart abandoners.
    ("abandoners_2d", "count(add_to_cart within 2d) >= 1 and count(purchase within 2d) = 0"),
    ("abandoners_1d", "count(add_to_cart within 1d) >= 1 and count(purchase within 1d) = 0"),
    ("abandoners_7d", "count(add_to_cart within 7d) >= 2 and count(purchase within 7d) = 0"),
    // Timestamp attributes.
    ("new_signups", "signup_at > 14d ago"),
    ("trial_no_buy", "signup_at > 30d ago and count(purchase) = 0"),
    ("old_free", #"signup_at < 365d ago and plan = "free""#),
    ("anniversary_soon", "signup_at < 335d ago and signup_at > 365d ago"),
    ("fresh_pro", #"signup_at > 90d ago and plan = "pro""#),
    // in_segment chains.
    ("engaged_pro", #"in_segment("pro_users") and in_segment("active_7d")"#),
    ("winback", #"in_segment("lapsed_buyers") and not in_segment("vip")"#),
    ("winback_eu", #"in_segment("winback") and country in ["DE", "FR"]"#),
    ("hot_leads", #"in_segment("pricing_7d") and not in_segment("paying")"#),
    ("hot_leads_us", #"in_segment("hot_leads") and in_segment("us")"#),
    ("vip_spenders", #"in_segment("vip") or in_segment("spend_90d")"#),
    ("at_risk", #"in_segment("paying") and in_segment("gone_quiet")"#),
    ("rescue", #"in_segment("abandoners_2d") and in_segment("email_fans")"#),
    ("signup_nurture", #"in_segment("new_signups") and not in_segment("lifetime_buyers")"#),
    ("everyone_active", #"in_segment("active_30d") or in_segment("buyers_30d") or in_segment("email_fans")"#),
]

let segments: [(String, SegmentExpression)] = segmentTexts.prefix(options.segmentLimit).map { name, text in
    do {
        return (name, try SegmentExpression.parse(text))
    } catch {
        print("segment \(name) does not parse: \(error)")
        exit(1)
    }
}

// In-window events: for each event name, the widest window over the segments' windowed aggregates; an event
// counts when it lies within that window of the end instant. (Unwindowed count/sum/first/last keep totals only.)
var widest: [String: Int64] = [:]
for (_, expression) in segments {
    for key in SegmentPlan(expression).aggregates {
        if let w = key.windowMs { widest[key.event] = max(widest[key.event] ?? 0, w) }
    }
}
let inWindowEvents = events.reduce(0) { n, e in
    guard let w = widest[e.event.name] else { return n }
    return e.event.atMs > endMs - w ? n + 1 : n
}

print(
    "engine-bench: \(options.users) users, \(events.count) events over 180 days, \(segments.count) segments, "
        + "seed \(options.seed), batch \(options.batch); \(inWindowEvents) events inside their widest window at the end"
)

// MARK: - Feeding

/// Feeds profiles then events; when `followClock`, the clock moves to each batch's last instant first.
@MainActor
func feed(
    _ engine: MembershipEngine,
    followClock: Bool,
    seq: inout UInt64
) -> (profileCPU: Double, eventCPU: Double, transitions: Int) {
    var transitions = 0
    let t0 = cpuSeconds()
    for (i, attrs) in profiles.enumerated() {
        seq += 1
        transitions += engine.upsertProfile(userID: userIDs[i], set: attrs, seq: seq).count
    }
    let t1 = cpuSeconds()
    var start = 0
    var batch: [(userID: String, event: EventRecord)] = []
    batch.reserveCapacity(options.batch)
    while start < events.count {
        let end = min(start + options.batch, events.count)
        batch.removeAll(keepingCapacity: true)
        for i in start..<end { batch.append((userIDs[Int(events[i].user)], events[i].event)) }
        if followClock { transitions += engine.advance(to: events[end - 1].event.atMs).count }
        seq += 1
        transitions += engine.addEvents(batch, seq: seq).count
        start = end
    }
    let t2 = cpuSeconds()
    return (t1 - t0, t2 - t1, transitions)
}

// MARK: - 1. Import

let mallocBefore = mallocInUse()
let rssBefore = residentBytes()
let engine = MembershipEngine(nowMs: endMs)
var seq: UInt64 = 0
let segCPU0 = cpuSeconds()
for (name, expression) in segments {
    seq += 1
    _ = engine.putSegment(name: name, expression: expression, seq: seq)
}
let segCPU = cpuSeconds() - segCPU0
let imported = feed(engine, followClock: false, seq: &seq)
let engineBytes = mallocInUse() - mallocBefore
let engineRSS = residentBytes() - rssBefore
var memberships = 0
for (name, _) in segments { memberships += engine.memberCount(of: name) }

print("")
print("1. import (clock fixed at the end; events late)")
print("   segments saved:    \(fmt(segCPU * 1000, 1)) ms CPU")
print("   profiles:          \(fmt(Double(options.users) / imported.profileCPU)) profiles/s (CPU)")
print(
    "   events:            \(fmt(Double(events.count) / imported.eventCPU)) events/s (CPU), "
        + "\(fmt(imported.eventCPU, 2)) s CPU"
)
print("   memberships:       \(memberships) after import; \(imported.transitions) transitions")
print(
    "   engine memory:     \(fmt(Double(engineBytes) / 1_048_576, 1)) MiB malloc in use "
        + "(RSS +\(fmt(Double(engineRSS) / 1_048_576, 1)) MiB)"
)
print(
    "   per user:          \(fmt(Double(engineBytes) / Double(options.users))) B "
        + "(\(fmt(Double(engineBytes) / Double(max(inWindowEvents, 1)), 1)) B per in-window event if all were events)"
)

let usage = engine.memoryUsage()
print(
    "   engine's estimate: \(fmt(Double(usage.total) / Double(options.users))) B per user; "
        + "\(usage.windowEntryCount) window entries"
)
for (name, bytes) in usage.categories where bytes > 0 {
    print(
        "     \(name + String(repeating: " ", count: max(0, 18 - name.count))) \(fmt(Double(bytes) / Double(options.users))) B/user"
    )
}

// What a complete state save costs the engine (taking every user's state) and the state thread (encoding each).
let takeCPU0 = cpuSeconds()
let allStates = engine.takeAllUserStates()
let takeCPU = cpuSeconds() - takeCPU0
var record: [UInt8] = []
var encodedBytes = 0
let encodeCPU0 = cpuSeconds()
for (_, state) in allStates {
    state?.encode(into: &record)
    encodedBytes += record.count
    record.removeAll(keepingCapacity: true)
}
let encodeCPU = cpuSeconds() - encodeCPU0
print(
    "   complete save:     take \(fmt(takeCPU * 1000, 1)) ms; encode \(fmt(encodeCPU * 1e6 / Double(allStates.count), 2)) µs "
        + "per user (\(fmt(Double(encodedBytes) / Double(allStates.count))) B, "
        + "\(fmt(Double(encodedBytes) / encodeCPU / 1_048_576)) MiB/s)"
)

// MARK: - 2. Sweep

let wakeups0 = engine.statistics.dueWakeups
let evals0 = engine.statistics.segmentEvaluations
let sweepCPU0 = cpuSeconds()
var sweepTransitions = 0
var t = endMs
let stepMs: Int64 = 60_000
while t < endMs + 30 * dayMs {
    t += stepMs
    sweepTransitions += engine.advance(to: t).count
}
let sweepCPU = cpuSeconds() - sweepCPU0
let wakeups = engine.statistics.dueWakeups - wakeups0
print("")
print("2. sweep (clock +30 days in 1-minute steps)")
print(
    "   due transitions:   \(sweepTransitions) in \(fmt(sweepCPU, 2)) s CPU = "
        + "\(fmt(Double(sweepTransitions) / sweepCPU)) transitions/s"
)
print(
    "   wake-ups:          \(wakeups) = \(fmt(Double(wakeups) / sweepCPU)) /s; "
        + "\(engine.statistics.segmentEvaluations - evals0) segment evaluations"
)

// MARK: - 3. isMember

var lookupRNG = SplitMix64(state: options.seed ^ 0xABCD)
var hits = 0
let lookupCPU0 = cpuSeconds()
for _ in 0..<options.lookups {
    let u = Int(lookupRNG.next() % UInt64(options.users))
    let s = Int(lookupRNG.next() % UInt64(segments.count))
    if engine.isMember(userID: userIDs[u], segment: segments[s].0).member { hits += 1 }
}
let lookupCPU = cpuSeconds() - lookupCPU0
print("")
print("3. isMember")
print("   \(options.lookups) lookups: \(fmt(lookupCPU * 1e9 / Double(options.lookups))) ns each (\(hits) hits)")

// MARK: - 3b. Live events

/// The live phase's work, in a function of its own so that a profiler can count it alone
/// (`valgrind --tool=callgrind --toggle-collect='*applyLiveBatches*'`).
@inline(never)
@MainActor
func applyLiveBatches(
    _ batches: [[(userID: String, event: EventRecord)]],
    to engine: MembershipEngine,
    seq: inout UInt64
) -> Int {
    var transitions = 0
    for batch in batches {
        seq += 1
        transitions += engine.addEvents(batch, seq: seq).count
    }
    return transitions
}

// What the evaluator's feed does under live load: events stamped "now" (so inside every window), for users spread
// over the whole engine, a batch of 1,000 per change-log entry — unlike the import, whose events are mostly old.
if options.live > 0 {
    var liveRNG = SplitMix64(state: options.seed ^ 0x11FE)
    let liveNames = ["page_view", "page_view", "page_view", "page_view", "email_open", "add_to_cart", "purchase"]
    var batches: [[(userID: String, event: EventRecord)]] = []
    var batch: [(userID: String, event: EventRecord)] = []
    for i in 0..<options.live {
        let name = liveNames[Int(liveRNG.next() % UInt64(liveNames.count))]
        var properties: [String: AttributeValue] = [:]
        switch name {
        case "page_view": properties["url"] = .string(urls[Int(liveRNG.next() % UInt64(urls.count))])
        case "purchase": properties["amount"] = .number(Double(5 + liveRNG.next() % 300))
        case "add_to_cart": properties["sku"] = .string("sku-1")
        default: break
        }
        let user = userIDs[Int(liveRNG.next() % UInt64(options.users))]
        batch.append((user, EventRecord(name: name, atMs: engine.nowMs, properties: properties)))
        if batch.count == 1000 || i == options.live - 1 {
            batches.append(batch)
            batch.removeAll(keepingCapacity: true)
        }
    }
    let liveEvaluations0 = engine.statistics.segmentEvaluations
    let liveCPU0 = cpuSeconds()
    let liveTransitions = applyLiveBatches(batches, to: engine, seq: &seq)
    let liveCPU = cpuSeconds() - liveCPU0
    print("")
    print("3b. live (\(options.live) events at the clock's instant, random users, batches of 1,000)")
    print(
        "   events:            \(fmt(Double(options.live) / liveCPU)) events/s (CPU), "
            + "\(fmt(liveCPU * 1e6 / Double(options.live), 2)) µs each; \(liveTransitions) transitions, "
            + "\(engine.statistics.segmentEvaluations - liveEvaluations0) segment evaluations"
    )
}

// MARK: - 4. A new segment over the loaded data

// What segbench's back-fill phase puts (its `put → readable` figure): aggregates and attributes the engine already
// keeps, so the put is one evaluation of every user. Wall time, since that evaluation runs on every processor.
if options.puts > 0 {
    var wallMs: [Double] = []
    var entered = 0
    let putCPU0 = cpuSeconds()
    for i in 0..<options.puts {
        let expression: SegmentExpression
        do {
            let text = #"sum(purchase.amount within 90d) > \#(100 + i) and not plan = "free""#
            expression = try SegmentExpression.parse(text)
        } catch {
            print("the new segment does not parse: \(error)")
            exit(1)
        }
        seq += 1
        let start = ContinuousClock.now
        entered = engine.putSegment(name: "new_segment", expression: expression, seq: seq).transitions.count
        let took = ContinuousClock.now - start
        wallMs.append(Double(took.components.seconds) * 1000 + Double(took.components.attoseconds) / 1e15)
        seq += 1
        _ = engine.deleteSegment(name: "new_segment", seq: seq)
    }
    let putCPU = cpuSeconds() - putCPU0
    wallMs.sort()
    print("")
    print("4. new segment over the loaded data (put, timed, then deleted; \(options.puts) times)")
    print(
        "   put:               \(fmt(wallMs[wallMs.count / 2], 1)) ms median wall (\(fmt(wallMs[0], 1))–"
            + "\(fmt(wallMs[wallMs.count - 1], 1))), \(entered) members; put and delete "
            + "\(fmt(putCPU * 1000 / Double(options.puts), 1)) ms CPU each"
    )
}

// MARK: - 5. Replay

if options.replay {
    let replayEngine = MembershipEngine(nowMs: startMs)
    var replaySeq: UInt64 = 0
    for (name, expression) in segments {
        replaySeq += 1
        _ = replayEngine.putSegment(name: name, expression: expression, seq: replaySeq)
    }
    let replayed = feed(replayEngine, followClock: true, seq: &replaySeq)
    print("")
    print("5. replay (a fresh engine; the clock follows the events for 180 days)")
    print(
        "   events:            \(fmt(Double(events.count) / replayed.eventCPU)) events/s (CPU), "
            + "\(fmt(replayed.eventCPU, 2)) s CPU, \(replayed.transitions) transitions, "
            + "\(replayEngine.statistics.dueWakeups) wake-ups"
    )
}
