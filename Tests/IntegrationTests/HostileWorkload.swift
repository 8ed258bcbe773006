import Foundation
import SegmentLanguage
@_spi(SegmentsInternal) import SegmentsClient
import SegmentsTesting
import SegmentsWire
import Synchronization
import Testing

// A seeded, hostile, concurrent workload against the real daemons (issue 10): several clients
// interleave bulk imports (library and `segclient import` with bad lines), single tracks, profile
// merges and deletions, bursts of segment creates/updates/deletes, list changes and snapshots,
// webhook registrations, clock moves and reads, while watchers read slowly or hang up and the
// evaluator and the store are stopped (SIGTERM) or killed (kill -9) and started again. After every
// phase the clients stop and the run checks that the evaluator reaches the store's head within a
// bound, that every segment's members equal the reference interpreter's answer over a snapshot of
// the store's data at that head, and that each segment's transition log, replayed from empty,
// alternates enter/exit and ends at its members. At the end of each epoch (a fresh pair of
// daemons) a watch from the first transition must equal the recorded log.
//
// The actions are a function of the seed; how the clients' writes interleave is not, and need not
// be: the reference is computed from what the store holds, not from what the clients sent.

/// How big a hostile run is.
struct HostileSettings: Sendable {
    var seed: UInt64
    /// Phases per epoch (fresh daemons), and the epochs.
    var phasesPerEpoch = 10
    var epochs = 2
    /// Keep starting epochs until this much time has passed (the soak); `nil`: `epochs`.
    var soakDuration: Duration?
    var clients = 3
    var actionsPerClient = 20
    /// How long the evaluator may take to reach the store's head after a phase.
    var catchUpBound: Duration = .seconds(60)
}

/// What a run did.
struct HostileReport: Sendable, CustomStringConvertible {
    var epochs = 0
    var phases = 0
    var operations = 0
    /// Requests the daemons refused as invalid in their state (expected: random deletes of
    /// segments still referenced, unknown users, …).
    var refused = 0
    /// Calls repeated because a daemon was restarting.
    var retried = 0
    var restarts: [String: Int] = [:]
    var watchBatches = 0
    var eventsSent = 0
    var segmentChecks = 0
    var maxCatchUp: Duration = .zero
    var seeds: [UInt64] = []

    mutating func merge(_ other: HostileReport) {
        self.operations += other.operations
        self.refused += other.refused
        self.retried += other.retried
        self.restarts.merge(other.restarts, uniquingKeysWith: +)
        self.watchBatches += other.watchBatches
        self.eventsSent += other.eventsSent
    }

    var description: String {
        let restarts = self.restarts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        return """
            \(self.epochs) epochs, \(self.phases) phases, seeds \(self.seeds.map(String.init).joined(separator: ","))
            \(self.operations) operations (\(self.eventsSent) events), \(self.refused) refused as expected, \
            \(self.retried) retried across restarts
            restarts: \(restarts.isEmpty ? "none" : restarts)
            \(self.watchBatches) watch batches read; \(self.segmentChecks) segment checks against the reference; \
            slowest catch-up \(self.maxCatchUp)
            """
    }
}

/// A report that concurrent clients add to.
final class HostileCounters: Sendable {
    private let state = Mutex(HostileReport())

    /// Updates the report.
    func count(_ body: (inout HostileReport) -> Void) {
        self.state.withLock { body(&$0) }
    }

    var report: HostileReport { self.state.withLock { $0 } }
}

/// One client request of the workload.
enum HostileAction: Sendable {
    case track([SegmentsEvent])
    case importNDJSON(String)
    case profile(String, [String: SegmentsValue?])
    case deleteUser(String)
    case putSegments([(name: String, text: String)])
    case deleteSegment(String)
    case changeList(String, add: [String], remove: [String])
    case snapshotList(segment: String, into: String)
    case deleteList(String)
    case addWebhook(segments: [String])
    case removeWebhook
    case advanceClock(Int64)
    case read(user: String, segment: String)
}

struct HostileWorkload {
    let settings: HostileSettings
    let generator: WorkloadGenerator
    static let lists = ["l0", "l1"]
    static let start = "2026-11-01T00:00:00Z"

    init(settings: HostileSettings) {
        self.settings = settings
        var generator = WorkloadGenerator()
        generator.segmentCount = 10
        generator.userIDs = (0..<40).map { "u\($0)" } + ["é", "Zoë"]
        self.generator = generator
    }

    /// Runs every epoch; records an issue for every mismatch.
    func run() async throws -> HostileReport {
        var report = HostileReport()
        let began = ContinuousClock.now
        var epoch = 0
        while true {
            if let soak = self.settings.soakDuration {
                guard ContinuousClock.now - began < soak else { break }
            } else if epoch >= self.settings.epochs {
                break
            }
            let seed = self.settings.seed &+ UInt64(epoch) &* 0x9E37_79B9
            report.seeds.append(seed)
            try await self.runEpoch(seed: seed, report: &report)
            report.epochs += 1
            epoch += 1
        }
        return report
    }

    private func runEpoch(seed: UInt64, report: inout HostileReport) async throws {
        let options = DaemonPair.Options(
            manualClock: Self.start,
            evaluatorArguments: ["--stall-timeout-ms", "5000"]
        )
        try await WebhookReceiver.with { receiver in
            try await DaemonPair.with(options: options) { pair in
                for list in Self.lists {
                    try await pair.client.createList(list)
                }
                var random = WorkloadRandom(seed: seed)
                var clockMs = ms(Self.start)
                for phase in 0..<self.settings.phasesPerEpoch {
                    let context = "seed \(seed) phase \(phase)"
                    let plans = (0..<self.settings.clients).map { client in
                        self.actions(&random, clockMs: &clockMs, tag: "\(phase)-\(client)")
                    }
                    // Every kind of restart in turn (evaluator SIGTERM, kill -9, store SIGTERM,
                    // kill -9), and a phase without one, each at a random moment of the phase.
                    let restart = phase % 5 < 4 ? phase % 5 : nil
                    let restartAfter = Duration.milliseconds(random.int(0...250))
                    let phaseReport = try await self.runPhase(
                        pair,
                        plans: plans,
                        restart: restart.map { ($0, restartAfter) },
                        webhookURL: receiver.url()
                    )
                    report.merge(phaseReport)
                    try await self.check(pair, context: context, report: &report)
                    report.phases += 1
                }
                try await self.checkWatchFromStart(pair, context: "seed \(seed)")
            }
        }
    }

    // MARK: - Actions

    /// A client's actions for one phase.
    private func actions(_ r: inout WorkloadRandom, clockMs: inout Int64, tag: String) -> [HostileAction] {
        var out: [HostileAction] = []
        for index in 0..<self.settings.actionsPerClient {
            let user = r.pick(self.generator.userIDs)
            switch r.int(0...99) {
            case 0..<10:
                let count = r.int(20...200)
                out.append(
                    .track(
                        (0..<count).map { _ in
                            self.generator.event(&r, user: r.pick(self.generator.userIDs), now: clockMs)
                        }
                    )
                )
            case 10..<14:
                out.append(.importNDJSON(self.ndjson(&r, now: clockMs)))
            case 14..<30:
                out.append(.track([self.generator.event(&r, user: user, now: clockMs)]))
            case 30..<46:
                var patch: [String: SegmentsValue?] = [:]
                for _ in 0..<r.int(1...3) {
                    let name = r.pick(["plan", "age", "signup_at", "tags", "vip", "first name", "unused"])
                    patch[name] = .some(self.generator.value(name, &r, now: clockMs))
                }
                out.append(.profile(user, patch))
            case 46..<50:
                out.append(.deleteUser(user))
            case 50..<58:
                let burst = (0..<r.int(1...5)).map { _ -> (name: String, text: String) in
                    let index = r.int(0...self.generator.segmentCount - 1)
                    let references = (0..<index).map { "s\($0)" } + Self.lists
                    return ("s\(index)", self.generator.expressions.expression(&r, references: references))
                }
                out.append(.putSegments(burst))
            case 58..<61:
                out.append(.deleteSegment("s\(r.int(0...self.generator.segmentCount - 1))"))
            case 61..<69:
                let pick = { (r: inout WorkloadRandom) in (0..<r.int(0...4)).map { _ in r.pick(self.generator.userIDs) }
                }
                out.append(.changeList(r.pick(Self.lists), add: pick(&r), remove: pick(&r)))
            case 69..<72:
                out.append(
                    .snapshotList(
                        segment: "s\(r.int(0...self.generator.segmentCount - 1))",
                        into: "snap\(tag)-\(index)"
                    )
                )
            case 72..<74:
                out.append(.deleteList("snap\(tag)-\(r.int(0...index))"))
            case 74..<76:
                out.append(.addWebhook(segments: r.chance(0.5) ? [] : ["s\(r.int(0...3))"]))
            case 76..<78:
                out.append(.removeWebhook)
            case 78..<88:
                let advance: Int64
                switch r.int(0...3) {
                case 0: advance = r.int64(1...3_600) * workloadSecond
                case 1: advance = r.int64(1...36) * workloadHour
                case 2: advance = r.int64(1...3) * workloadDay
                default: advance = r.int64(1...120) * workloadMinute
                }
                clockMs += advance
                out.append(.advanceClock(advance))
            default:
                out.append(.read(user: user, segment: "s\(r.int(0...self.generator.segmentCount - 1))"))
            }
        }
        return out
    }

    /// Import lines for `segclient import events -`, one of them sometimes malformed.
    private func ndjson(_ r: inout WorkloadRandom, now: Int64) -> String {
        var lines: [String] = []
        for _ in 0..<r.int(10...80) {
            let event = self.generator.event(&r, user: r.pick(self.generator.userIDs), now: now)
            var object: [String: Any] = ["user": event.userID, "event": event.name]
            if let at = event.atMs { object["at"] = RFC3339.format(at) }
            if let amount = event.properties["amount"], case .number(let n) = amount {
                object["properties"] = ["amount": n]
            }
            if let id = event.id { object["id"] = id }
            let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            lines.append(data.map { String(decoding: $0, as: UTF8.self) } ?? "{}")
        }
        if r.chance(0.5) {
            lines.insert(
                r.pick([#"{"user":"u1","event":}"#, #"{"event":"x"}"#, "not json"]),
                at: r.int(0...lines.count)
            )
        }
        return lines.joined(separator: "\n") + "\n"
    }

    // MARK: - A phase

    private func runPhase(
        _ pair: DaemonPair,
        plans: [[HostileAction]],
        restart: (kind: Int, after: Duration)?,
        webhookURL: String
    ) async throws -> HostileReport {
        let counters = HostileCounters()
        try await withThrowingTaskGroup(of: Void.self) { watchers in
            for slow in [true, false] {
                watchers.addTask { await self.watch(pair, slow: slow, counters: counters) }
            }
            try await withThrowingTaskGroup(of: Void.self) { work in
                for plan in plans {
                    work.addTask {
                        let client = Self.client(pair)
                        do {
                            for action in plan {
                                try await self.perform(
                                    action,
                                    client: client,
                                    pair: pair,
                                    webhookURL: webhookURL,
                                    counters: counters
                                )
                            }
                        } catch {
                            await client.close()
                            throw error
                        }
                        await client.close()
                    }
                }
                if let restart {
                    work.addTask {
                        try await Task.sleep(for: restart.after)
                        let name: String
                        switch restart.kind {
                        case 0:
                            try await pair.restartEvaluator(crash: false)
                            name = "evaluator SIGTERM"
                        case 1:
                            try await pair.restartEvaluator(crash: true)
                            name = "evaluator kill -9"
                        case 2:
                            try await pair.restartStore(crash: false)
                            name = "store SIGTERM"
                        default:
                            try await pair.restartStore(crash: true)
                            name = "store kill -9"
                        }
                        counters.count { $0.restarts[name, default: 0] += 1 }
                    }
                }
                try await work.waitForAll()
            }
            watchers.cancelAll()
        }
        return counters.report
    }

    private static func client(_ pair: DaemonPair) -> SegmentsClient {
        SegmentsClient(
            configuration: .init(storeSocketPath: pair.storeSocket, evaluatorSocketPaths: [pair.evaluatorSocket])
        )
    }

    private func perform(
        _ action: HostileAction,
        client: SegmentsClient,
        pair: DaemonPair,
        webhookURL: String,
        counters: HostileCounters
    ) async throws {
        counters.count { $0.operations += 1 }
        let retry = { (body: @Sendable () async throws -> Void) in
            try await Self.retrying(counters: counters, body)
        }
        switch action {
        case .track(let events):
            counters.count { $0.eventsSent += events.count }
            try await retry { _ = try await client.track(events) }
        case .importNDJSON(let text):
            try await retry {
                let result = try await pair.segclient(["import", "events", "-"], input: text)
                // 0: all stored; 1: a bad line was reported and skipped; 4: the store is restarting.
                if result.status == 4 { throw SegmentsClientError(.unavailable, result.stderr) }
                guard result.status <= 1 else {
                    throw SegmentsClientError(
                        .internalError,
                        "segclient import exited \(result.status): \(result.stderr)"
                    )
                }
            }
        case .profile(let user, let patch):
            try await retry { _ = try await client.setProfile(user, patch) }
        case .deleteUser(let user):
            try await retry { _ = try await client.deleteProfile(user) }
        case .putSegments(let burst):
            for (name, text) in burst {
                try await retry { _ = try await client.putSegment(name, expression: text) }
            }
        case .deleteSegment(let name):
            try await retry { _ = try await client.deleteSegment(name) }
        case .changeList(let name, let add, let remove):
            try await retry { _ = try await client.changeListMembers(name, add: add, remove: remove) }
        case .snapshotList(let segment, let name):
            try await retry { _ = try await client.snapshotList(of: segment, into: name) }
        case .deleteList(let name):
            try await retry { _ = try await client.deleteList(name) }
        case .addWebhook(let segments):
            try await retry { _ = try await client.addWebhook(url: webhookURL, segments: segments, secret: "hostile") }
        case .removeWebhook:
            try await retry {
                if let webhook = try await client.webhooks().first {
                    _ = try await client.removeWebhook(webhook.id)
                }
            }
        case .advanceClock(let ms):
            try await retry { _ = try await client.advanceClock(byMs: ms) }
        case .read(let user, let segment):
            try await retry { _ = try await client.check(user, in: segment) }
        }
    }

    /// Runs `body`, again while a daemon is unreachable (restarting) for up to a minute; a refusal
    /// the workload's randomness makes expected (unknown user, referenced segment, …) is counted,
    /// anything else fails the run.
    static func retrying(counters: HostileCounters, _ body: @Sendable () async throws -> Void) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            do {
                try await body()
                return
            } catch let error as SegmentsClientError {
                switch error.code {
                case .unavailable, .cancelled, .deadlineExceeded:
                    guard ContinuousClock.now < deadline else { throw error }
                    counters.count { $0.retried += 1 }
                    try await Task.sleep(for: .milliseconds(100))
                case .invalidArgument, .failedPrecondition, .notFound, .alreadyExists:
                    counters.count { $0.refused += 1 }
                    return
                default:
                    throw error
                }
            }
        }
    }

    /// A watcher for the phase: slow ones read a batch every 150 ms; the others read a few
    /// batches and hang up, again and again. Both reconnect when the evaluator restarts.
    private func watch(_ pair: DaemonPair, slow: Bool, counters: HostileCounters) async {
        let client = Self.client(pair)
        while !Task.isCancelled {
            do {
                var read = 0
                for try await _ in try await client.watch(fromSeq: slow ? 1 : 0) {
                    read += 1
                    counters.count { $0.watchBatches += 1 }
                    if slow {
                        try await Task.sleep(for: .milliseconds(150))
                    } else if read >= 3 {
                        break
                    }
                }
            } catch {
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        await client.close()
    }

    // MARK: - Checks

    /// After a phase: the evaluator reaches the store's head in time, every segment equals the
    /// reference over the store's data at that head, every transition log replays to the members.
    private func check(_ pair: DaemonPair, context: String, report: inout HostileReport) async throws {
        let client = pair.client
        let counters = HostileCounters()
        let head = try await Self.value(counters) { try await client.storeInfo() }.headSeq
        let began = ContinuousClock.now
        while true {
            let applied = try? await client.evaluatorStatus().first?.appliedSeq
            if let applied, applied >= head { break }
            guard ContinuousClock.now - began < self.settings.catchUpBound else {
                Issue.record(
                    "\(context): the evaluator did not reach the store's head \(head) within \(self.settings.catchUpBound)\n\(pair.logs)"
                )
                throw HostileFailure(message: "no catch-up")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        report.maxCatchUp = max(report.maxCatchUp, ContinuousClock.now - began)

        let snapshot = try await StoreSnapshot.read(client)
        #expect(snapshot.seq == head, "\(context): the snapshot is at the head")
        let reference = snapshot.memberships()
        for (name, expected) in reference.sorted(by: { $0.key < $1.key }) {
            let members = try await Self.value(counters) { try await client.members(name, minSeq: head) }
            report.segmentChecks += 1
            if Set(members) != expected {
                let missing = expected.subtracting(members).sorted().prefix(5)
                let extra = Set(members).subtracting(expected).sorted().prefix(5)
                Issue.record(
                    """
                    \(context): members of \(name) (\(snapshot.expressions[name] ?? "?")) differ from the \
                    reference at store change \(head): missing \(Array(missing)), extra \(Array(extra))
                    """
                )
            }
            let history = try await Self.value(counters) { try await client.history(ofSegment: name) }
            var replayed: Set<String> = []
            for transition in history.sorted(by: { $0.seq < $1.seq }) {
                let alternates: Bool
                if transition.kind == SegmentsTransition.Kind.enter {
                    alternates = replayed.insert(transition.userID).inserted
                } else {
                    alternates = replayed.remove(transition.userID) != nil
                }
                if !alternates {
                    Issue.record(
                        "\(context): \(name)'s log has a \(transition.kind) of \(transition.userID) out of turn at \(transition.seq)"
                    )
                }
            }
            if replayed != Set(members) {
                Issue.record(
                    "\(context): \(name)'s transition log replays to \(replayed.count) members, not its \(members.count)"
                )
            }
        }
        report.retried += counters.report.retried
    }

    /// At the end of an epoch: a watch from the first transition yields exactly the recorded log.
    private func checkWatchFromStart(_ pair: DaemonPair, context: String) async throws {
        let client = pair.client
        let head = try await client.evaluatorStatus().first?.transitionSeq ?? 0
        var watched: [UInt64] = []
        if head > 0 {
            for try await batch in try await client.watch(fromSeq: 1) {
                watched += batch.map(\.seq)
                if watched.last ?? 0 >= head { break }
            }
        }
        #expect(watched == (head > 0 ? Array(1...head) : []), "\(context): watch from the start")
    }

    /// Runs `body` again while a daemon is unreachable, returning its value.
    private static func value<T: Sendable>(
        _ counters: HostileCounters,
        _ body: @Sendable () async throws -> T
    ) async throws -> T {
        let result = Mutex<T?>(nil)
        try await Self.retrying(counters: counters) {
            let value = try await body()
            result.withLock { $0 = value }
        }
        guard let value = result.withLock({ $0 }) else {
            throw HostileFailure(message: "a read the checks need was refused")
        }
        return value
    }
}

/// A run that cannot go on.
struct HostileFailure: Error, CustomStringConvertible {
    var message: String
    var description: String { self.message }
}

/// The store's data as of one change, read with `ReadSnapshot`, and what the reference
/// interpreter makes of it.
struct StoreSnapshot {
    var seq: UInt64 = 0
    var nowMs: Int64 = 0
    var expressions: [String: String] = [:]
    var attributes: [String: [String: AttributeValue]] = [:]
    var events: [String: [EventRecord]] = [:]
    var lists: [String: Set<String>] = [:]

    static func read(_ client: SegmentsClient) async throws -> StoreSnapshot {
        var snapshot = StoreSnapshot()
        var first = true
        for try await chunk in try await client.snapshot() {
            if first {
                snapshot.seq = chunk.seq
                snapshot.nowMs = chunk.nowMs
                for segment in chunk.segments { snapshot.expressions[segment.name] = segment.expression }
                first = false
            }
            for profile in chunk.profiles {
                snapshot.attributes[profile.userID] = profile.attributes.compactMapValues(AttributeValue.init(wire:))
            }
            for list in chunk.lists {
                snapshot.lists[list.name, default: []].formUnion(list.userIds)
            }
            for event in chunk.events {
                snapshot.events[event.userID, default: []].append(
                    EventRecord(
                        name: event.name,
                        atMs: event.atMs,
                        properties: event.properties.compactMapValues(AttributeValue.init(wire:))
                    )
                )
            }
        }
        return snapshot
    }

    /// Every segment's members by the reference interpreter at the snapshot's instant; a segment
    /// is evaluated after the segments it reads (the workload's `s<i>` reads only `s<j>`, j < i).
    func memberships() -> [String: Set<String>] {
        var result: [String: Set<String>] = [:]
        let order = self.expressions.keys.sorted { (Int($0.dropFirst()) ?? 0) < (Int($1.dropFirst()) ?? 0) }
        for name in order {
            guard let text = self.expressions[name], let expression = try? SegmentExpression.parse(text) else {
                Issue.record("stored segment \(name) does not parse")
                continue
            }
            var members: Set<String> = []
            for (user, attributes) in self.attributes {
                let member = ReferenceInterpreter.evaluate(
                    expression,
                    attributes: attributes,
                    events: self.events[user] ?? [],
                    nowMs: self.nowMs
                ) { other in
                    if let list = self.lists[other] { return list.contains(user) }
                    return result[other]?.contains(user) ?? false
                }
                if member { members.insert(user) }
            }
            result[name] = members
        }
        return result
    }
}

extension AttributeValue {
    /// The language's view of a stored value.
    init?(wire: Segments_V1_Value) {
        switch wire.kind {
        case .stringValue(let s): self = .string(s)
        case .numberValue(let n): self = .number(n)
        case .boolValue(let b): self = .bool(b)
        case .timestampMs(let t): self = .timestamp(t)
        case .stringList(let list): self = .stringList(list.values)
        case nil: return nil
        }
    }
}
