import DaemonSupport
import Foundation
import SegmentsBenchKit
import SegmentsClient
import SegmentsRPC
import SegmentsWire
import Synchronization

/// What one measured phase saw.
struct PhaseFigures: Sendable {
    var name: String
    var seconds: Double
    /// The steady client's membership checks (evaluator) and profile reads (store).
    var check: LatencySummary
    var profileRead: LatencySummary
    /// Calls of the steady client that failed.
    var failures: Int
    /// Profile changes the writer made.
    var writes: Int
    /// Resident memory of each daemon, lowest and highest sample of the phase, in bytes (0: not measured).
    var storeRSS: ClosedRange<UInt64>
    var evaluatorRSS: ClosedRange<UInt64>
    /// Batches the slow watchers took during the phase.
    var watcherBatches: Int
}

/// The connections and watchers held open during the loaded phase.
final class OpenedLoad: Sendable {
    let connections: [RPCConnection]
    let watchers: [Task<Void, Never>]
    /// Connections opened to each daemon, and watch streams started (the evaluator may refuse some beyond its
    /// `--max-watchers`).
    let storeConnections: Int
    let evaluatorConnections: Int
    let watchStreams: Int
    /// Batches taken by the slow watchers, and watch streams that ended with an error, by message.
    let batches = Atomic<Int>(0)
    let watchEnds = Mutex<[String: Int]>([:])
    /// How long opening took.
    let openSeconds: Double

    init(
        connections: [RPCConnection],
        watchers: [Task<Void, Never>],
        storeConnections: Int,
        evaluatorConnections: Int,
        watchStreams: Int,
        openSeconds: Double
    ) {
        self.connections = connections
        self.watchers = watchers
        self.storeConnections = storeConnections
        self.evaluatorConnections = evaluatorConnections
        self.watchStreams = watchStreams
        self.openSeconds = openSeconds
    }

    func close() async {
        for watcher in self.watchers { watcher.cancel() }
        for connection in self.connections { await connection.close() }
    }
}

/// Connections beyond the limit: how many were refused, and with what.
struct Refusals: Sendable {
    var attempted = 0
    var refused = 0
    var messages: Set<String> = []
}

/// The load test's steps (see ``SegloadCommand``).
struct LoadRun: Sendable {
    let command: SegloadCommand
    let client: SegmentsClient
    static let segment = "segload_pro"

    /// Seeds users (half of them "pro") and a segment, and waits until the evaluator has applied them.
    func seed() async throws {
        let started = ContinuousClock.now
        var last: UInt64 = 0
        for start in stride(from: 0, to: self.command.users, by: 5000) {
            let patches = (start..<min(start + 5000, self.command.users)).map { index in
                (
                    userID: "u\(index)",
                    attributes: ["plan": Optional(SegmentsValue.string(index % 2 == 0 ? "pro" : "free"))]
                )
            }
            last = try await self.client.upsertProfiles(patches).seq
        }
        try await self.client.putSegment(Self.segment, expression: #"plan = "pro""#)
        let head = try await self.client.storeInfo().headSeq
        _ = try await self.client.check("u0", in: Self.segment, minSeq: max(head, last))
        say("seeded \(self.command.users) users and segment \(Self.segment) in \(Self.seconds(since: started)) s")
    }

    /// Runs the steady client, the writer and the memory sampler for `seconds`.
    func measure(_ name: String, seconds: Int, holding load: OpenedLoad? = nil) async throws -> PhaseFigures {
        let end = ContinuousClock.now + .seconds(seconds)
        let batchesBefore = load?.batches.load(ordering: .relaxed) ?? 0
        let users = self.command.users
        let client = self.client
        async let probe = Self.probe(client, users: users, until: end)
        async let writes = Self.write(client, users: users, rate: self.command.writeRate, until: end)
        async let memory = Self.sampleMemory(
            storePid: self.command.storePid,
            evaluatorPid: self.command.evaluatorPid,
            until: end
        )
        let (checks, reads, failures) = await probe
        let written = await writes
        let (store, evaluator) = await memory
        let figures = PhaseFigures(
            name: name,
            seconds: Double(seconds),
            check: LatencySummary(microseconds: checks),
            profileRead: LatencySummary(microseconds: reads),
            failures: failures,
            writes: written,
            storeRSS: store,
            evaluatorRSS: evaluator,
            watcherBatches: (load?.batches.load(ordering: .relaxed) ?? 0) - batchesBefore
        )
        say(
            "\(name): check p50 \(Int(figures.check.p50Us)) µs p99 \(Int(figures.check.p99Us)) µs, "
                + "profile read p50 \(Int(figures.profileRead.p50Us)) µs p99 \(Int(figures.profileRead.p99Us)) µs, "
                + "\(failures) failures, \(written) writes, store RSS \(Self.mib(store)), "
                + "evaluator RSS \(Self.mib(evaluator))"
        )
        return figures
    }

    /// Opens the idle connections (each makes one call, so it is known to be served) and the slow watchers.
    func openLoad() async throws -> OpenedLoad {
        let started = ContinuousClock.now
        let stores = try await Self.open(self.command.connections, to: self.command.store, probe: Self.storeCall)
        let evaluators = try await Self.open(
            self.command.connections,
            to: self.command.evaluator,
            probe: Self.evaluatorCall
        )
        var connections = stores + evaluators
        var watchers: [Task<Void, Never>] = []
        let pause = self.command.watcherPause
        var watchConnections: [RPCConnection] = []
        for _ in 0..<self.command.watchers {
            watchConnections.append(try await RPCConnection.connect(to: self.command.evaluator))
        }
        connections += watchConnections
        // The tasks report into the load object, made first.
        let holder = LoadHolder()
        for connection in watchConnections {
            watchers.append(
                Task {
                    do {
                        var request = Segments_V1_WatchRequest()
                        request.fromSeq = 1
                        for try await _ in connection.stream(EvaluatorAPI.watch, request, window: 2) {
                            holder.load?.batches.add(1, ordering: .relaxed)
                            try await Task.sleep(for: .seconds(pause))
                        }
                    } catch is CancellationError {
                    } catch {
                        holder.load?.watchEnds.withLock { $0["\(error)", default: 0] += 1 }
                    }
                }
            )
        }
        let load = OpenedLoad(
            connections: connections,
            watchers: watchers,
            storeConnections: stores.count,
            evaluatorConnections: evaluators.count,
            watchStreams: watchConnections.count,
            openSeconds: Self.seconds(since: started)
        )
        holder.load = load
        say(
            "opened \(stores.count) store and \(evaluators.count) evaluator connections and \(watchConnections.count) "
                + "slow watchers in \(load.openSeconds) s"
        )
        return load
    }

    /// Tries `--beyond` more connections to each daemon; every one should be refused with the limit's reason.
    func openBeyondLimit() async throws -> Refusals {
        var refusals = Refusals()
        guard self.command.beyond > 0 else { return refusals }
        for (socket, probe) in [
            (self.command.store, Self.storeCall), (self.command.evaluator, Self.evaluatorCall),
        ] {
            // All held at once: each one closed before the next would make room for it.
            var extra: [RPCConnection] = []
            for _ in 0..<self.command.beyond {
                extra.append(try await RPCConnection.connect(to: socket))
            }
            for connection in extra {
                refusals.attempted += 1
                do {
                    try await probe(connection)
                } catch {
                    refusals.refused += 1
                    refusals.messages.insert("\(error)")
                }
            }
            for connection in extra { await connection.close() }
        }
        say("beyond the limit: \(refusals.refused) of \(refusals.attempted) refused: \(refusals.messages.sorted())")
        return refusals
    }

    // MARK: - Report

    func report(phases: [PhaseFigures], opened: OpenedLoad, refused: Refusals) {
        say("")
        say(
            "| phase | check p50 / p99 µs | profile read p50 / p99 µs | failures | writes | store RSS MiB | evaluator RSS MiB | watcher batches |"
        )
        say("|---|---|---|---|---|---|---|---|")
        for phase in phases {
            say(
                "| \(phase.name) | \(Int(phase.check.p50Us)) / \(Int(phase.check.p99Us)) | "
                    + "\(Int(phase.profileRead.p50Us)) / \(Int(phase.profileRead.p99Us)) | \(phase.failures) | "
                    + "\(phase.writes) | \(Self.mib(phase.storeRSS)) | \(Self.mib(phase.evaluatorRSS)) | "
                    + "\(phase.watcherBatches) |"
            )
        }
        let ends = opened.watchEnds.withLock { $0 }
        say("")
        say(
            "held: \(opened.storeConnections) store + \(opened.evaluatorConnections) evaluator connections, "
                + "\(opened.watchStreams) slow watchers (ended early: \(ends.isEmpty ? "none" : "\(ends)"))"
        )
        if refused.attempted > 0 {
            say("beyond the limit: \(refused.refused) of \(refused.attempted) refused")
        }
    }

    func json(phases: [PhaseFigures], opened: OpenedLoad, refused: Refusals) -> String {
        func range(_ range: ClosedRange<UInt64>) -> String { "[\(range.lowerBound), \(range.upperBound)]" }
        let rows = phases.map { phase in
            """
            {"phase":"\(phase.name)","seconds":\(phase.seconds),"check_p50_us":\(phase.check.p50Us),\
            "check_p99_us":\(phase.check.p99Us),"check_samples":\(phase.check.samples),\
            "profile_read_p50_us":\(phase.profileRead.p50Us),"profile_read_p99_us":\(phase.profileRead.p99Us),\
            "failures":\(phase.failures),"writes":\(phase.writes),"store_rss_bytes":\(range(phase.storeRSS)),\
            "evaluator_rss_bytes":\(range(phase.evaluatorRSS)),"watcher_batches":\(phase.watcherBatches)}
            """
        }
        return """
            {"store_connections":\(opened.storeConnections),"evaluator_connections":\(opened.evaluatorConnections),\
            "watchers":\(opened.watchStreams),"beyond_attempted":\(refused.attempted),\
            "beyond_refused":\(refused.refused),"phases":[\(rows.joined(separator: ","))]}

            """
    }

    // MARK: - Workers

    /// A store call every idle connection makes once.
    static let storeCall: @Sendable (RPCConnection) async throws -> Void = { connection in
        _ = try await connection.call(ProfileStoreAPI.getInfo, Segments_V1_GetInfoRequest(), timeout: .seconds(30))
    }

    /// An evaluator call every idle connection makes once.
    static let evaluatorCall: @Sendable (RPCConnection) async throws -> Void = { connection in
        var request = Segments_V1_CountMembersRequest()
        request.segment = segment
        _ = try await connection.call(EvaluatorAPI.countMembers, request, timeout: .seconds(30))
    }

    /// Opens `count` connections to `socket`, 64 at a time, each making one call.
    static func open(
        _ count: Int,
        to socket: String,
        probe: @escaping @Sendable (RPCConnection) async throws -> Void
    ) async throws -> [RPCConnection] {
        var opened: [RPCConnection] = []
        opened.reserveCapacity(count)
        var next = 0
        while next < count {
            let wave = min(64, count - next)
            next += wave
            opened += try await withThrowingTaskGroup(of: RPCConnection.self) { group in
                for _ in 0..<wave {
                    group.addTask {
                        let connection = try await RPCConnection.connect(to: socket)
                        try await probe(connection)
                        return connection
                    }
                }
                var wave: [RPCConnection] = []
                for try await connection in group { wave.append(connection) }
                return wave
            }
        }
        return opened
    }

    /// Membership checks and profile reads back to back (one read every ten checks) until `end`.
    static func probe(
        _ client: SegmentsClient,
        users: Int,
        until end: ContinuousClock.Instant
    ) async -> (checks: [Double], reads: [Double], failures: Int) {
        var random = SplitMix64(seed: 7)
        var checks: [Double] = []
        var reads: [Double] = []
        var failures = 0
        var round = 0
        while ContinuousClock.now < end {
            let user = "u\(random.next() % UInt64(users))"
            let started = ContinuousClock.now
            do {
                if round % 10 == 9 {
                    _ = try await client.profile(user)
                    reads.append(Self.microseconds(since: started))
                } else {
                    _ = try await client.check(user, in: Self.segment)
                    checks.append(Self.microseconds(since: started))
                }
            } catch {
                failures += 1
            }
            round += 1
        }
        return (checks, reads, failures)
    }

    /// Flips users between "pro" and "free" at `rate` changes per second until `end`.
    static func write(
        _ client: SegmentsClient,
        users: Int,
        rate: Int,
        until end: ContinuousClock.Instant
    ) async -> Int {
        guard rate > 0 else { return 0 }
        var random = SplitMix64(seed: 11)
        var written = 0
        let started = ContinuousClock.now
        while ContinuousClock.now < end {
            let due = started + .seconds(Double(written) / Double(rate))
            if due > ContinuousClock.now { try? await Task.sleep(until: due) }
            let user = "u\(random.next() % UInt64(users))"
            let plan = random.next() % 2 == 0 ? "pro" : "free"
            if (try? await client.setProfile(user, ["plan": .string(plan)])) != nil { written += 1 }
        }
        return written
    }

    /// Samples both daemons' resident memory every 250 ms until `end`: lowest and highest.
    static func sampleMemory(
        storePid: Int32?,
        evaluatorPid: Int32?,
        until end: ContinuousClock.Instant
    ) async -> (store: ClosedRange<UInt64>, evaluator: ClosedRange<UInt64>) {
        var store: ClosedRange<UInt64>?
        var evaluator: ClosedRange<UInt64>?
        func widen(_ range: ClosedRange<UInt64>?, _ value: UInt64) -> ClosedRange<UInt64> {
            guard let range else { return value...value }
            return min(range.lowerBound, value)...max(range.upperBound, value)
        }
        while ContinuousClock.now < end {
            if let pid = storePid { store = widen(store, Self.residentBytes(of: pid)) }
            if let pid = evaluatorPid { evaluator = widen(evaluator, Self.residentBytes(of: pid)) }
            try? await Task.sleep(for: .milliseconds(250))
        }
        return (store ?? 0...0, evaluator ?? 0...0)
    }

    /// VmRSS of a process, from /proc; 0 when it cannot be read.
    static func residentBytes(of pid: Int32) -> UInt64 {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let kilobytes = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first
            return (kilobytes.flatMap { UInt64($0) } ?? 0) * 1024
        }
        return 0
    }

    static func mib(_ range: ClosedRange<UInt64>) -> String {
        guard range.upperBound > 0 else { return "—" }
        let low = Double(range.lowerBound) / 1_048_576
        let high = Double(range.upperBound) / 1_048_576
        return String(format: "%.0f–%.0f", low, high)
    }

    static func microseconds(since start: ContinuousClock.Instant) -> Double {
        Double((ContinuousClock.now - start).inNanoseconds) / 1000
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        (Double((ContinuousClock.now - start).inNanoseconds) / 1e6).rounded() / 1000
    }
}

/// Lets the watcher tasks reach the load object made after them.
private final class LoadHolder: @unchecked Sendable {
    // @unchecked: set once, before the load phase is measured; read by the watchers afterwards.
    var load: OpenedLoad?
}
