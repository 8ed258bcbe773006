import Foundation
import Logging
@_spi(SegmentsInternal) import SegmentsClient
import SegmentsPostgres
import SegmentsRPC
import SegmentsTesting
import SegmentsWire
import Synchronization
import Testing

/// Two profile stores on one PostgreSQL database, an evaluator and a client that know both: concurrent writers,
/// `kill -9` of the writer store, the standby takes over, and nothing acknowledged is lost or stored twice.
@Suite struct StoreFailoverTests {
    static let hasPostgres = TestStoreBackend.available.count > 1
    static let start = "2026-11-01T00:00:00Z"
    static let segments = [
        ("buyers", "count(buy) >= 2"),
        ("big_spenders", "sum(buy.amount) > 300"),
        ("viewers_only", #"count(view) >= 1 and not in_segment("buyers")"#),
    ]

    /// Writes acknowledged so far, and when the writer was killed and the first write after it acknowledged.
    final class Progress: Sendable {
        let state = Mutex((batches: 0, killedAt: ContinuousClock.Instant?.none, firstAfterKill: Duration?.none))
    }

    @Test(.enabled(if: Self.hasPostgres, "needs the test PostgreSQL server (SEGMENTS_TEST_POSTGRES)"))
    func aStandbyTakesOverAfterKillNineAndEveryAcknowledgedWriteIsThereOnce() async throws {
        try await TemporaryDirectory.with { directory in
            guard let server = TestStoreBackend.available.last,
                let url = try server.postgresURL(forDirectory: directory)
            else { return }
            let storeA = try await Self.startStore("a", in: directory, url: url, ["--manual-clock", Self.start])
            // Started second, and A serves already: B stands by.
            let storeB = try await Self.startStore("b", in: directory, url: url, ["--manual-clock", Self.start])
            defer {
                storeA.kill()
                _ = storeB.terminate()
            }
            let stores = "\(directory)/a.sock,\(directory)/b.sock"
            let evaluator = try await DaemonProcess.start(
                BuiltProducts.path(of: "segment-evaluator"),
                arguments: [
                    "--store", stores, "--socket", "\(directory)/e.sock", "--data-dir", "\(directory)/evaluator",
                ],
                socketPath: "\(directory)/e.sock",
                logPath: "\(directory)/evaluator.log"
            )
            defer { _ = evaluator.terminate() }
            var options = SegmentsClientConfiguration.Options(
                reconnect: .backoff(attempts: 20, maximumDelay: .milliseconds(500))
            )
            options.requestTimeout = .seconds(10)
            let client = SegmentsClient(
                configuration: .init(
                    storeSocketPath: stores,
                    evaluatorSocketPaths: ["\(directory)/e.sock"],
                    options: options
                )
            )
            defer { Task { await client.close() } }

            // A standby refuses every call, naming the writer; a client that knows only the standby follows it there.
            let connection = try await RPCConnection.connect(to: "\(directory)/b.sock")
            let refused = await #expect(throws: RPCError.self) {
                try await connection.call(ProfileStoreAPI.getInfo, .init())
            }
            await connection.close()
            #expect(refused?.code == .unavailable)
            #expect(refused?.writerAddress == "\(directory)/a.sock")
            let followsTheWriter = SegmentsClient(configuration: .init(storeSocketPath: "\(directory)/b.sock"))
            #expect(try await followsTheWriter.storeInfo().headSeq == 0)
            await followsTheWriter.close()

            var model = WorkloadModel(nowMs: ms(Self.start))
            for (name, text) in Self.segments {
                _ = try await client.putSegment(name, expression: text)
                try model.apply(.putSegment(name: name, text: text))
            }

            // Four writers, 30 batches each; every batch is sent again until it is acknowledged (its event ids make a
            // resend of a batch that was stored after all count as duplicates).
            let progress = Progress()
            let batches = try await withThrowingTaskGroup(of: [[SegmentsEvent]].self) { group in
                for writer in 0..<4 {
                    group.addTask {
                        var sent: [[SegmentsEvent]] = []
                        for batch in 0..<30 {
                            let events = (0..<5).map { index in
                                let user = "w\(writer)-u\((batch + index) % 7)"
                                let buy = (batch + index + writer) % 3 == 0
                                return SegmentsEvent(
                                    userID: user,
                                    name: buy ? "buy" : "view",
                                    atMs: ms(Self.start) - Int64(1000 * (batch * 5 + index)),
                                    properties: buy ? ["amount": .number(Double(40 + 10 * index))] : [:],
                                    id: "w\(writer)-b\(batch)-e\(index)"
                                )
                            }
                            let deadline = ContinuousClock.now + .seconds(30)
                            while true {
                                do {
                                    _ = try await client.track(events)
                                    break
                                } catch {
                                    guard ContinuousClock.now < deadline else { throw error }
                                    try await Task.sleep(for: .milliseconds(20))
                                }
                            }
                            progress.state.withLock { state in
                                state.batches += 1
                                if let killed = state.killedAt, state.firstAfterKill == nil {
                                    state.firstAfterKill = ContinuousClock.now - killed
                                }
                            }
                            sent.append(events)
                        }
                        return sent
                    }
                }
                // The writer store is killed part-way.
                group.addTask {
                    while progress.state.withLock({ $0.batches }) < 40 {
                        try await Task.sleep(for: .milliseconds(5))
                    }
                    storeA.kill()
                    progress.state.withLock { $0.killedAt = ContinuousClock.now }
                    return []
                }
                var all: [[SegmentsEvent]] = []
                for try await sent in group { all += sent }
                return all
            }
            let failover = try #require(progress.state.withLock { $0.firstAfterKill })
            print("store failover: writer killed → first acknowledged write by the new writer: \(failover)")
            #expect(failover < .seconds(5))

            // The log: numbered without gap, every acknowledged event in it exactly once.
            let info = try await client.storeInfo()
            #expect(info.eventCount == 4 * 30 * 5)
            var log: [Segments_V1_ChangeEntry] = []
            for try await batch in try await client.changes(fromSeq: 1) {
                log += batch.entries
                if log.count >= Int(info.headSeq) { break }
            }
            #expect(log.map(\.seq) == Array(1...info.headSeq))
            var stored: [String: Int] = [:]
            for entry in log {
                for event in entry.eventsTracked.events { stored[event.eventID, default: 0] += 1 }
            }
            let sent = batches.flatMap { $0 }
            #expect(stored.count == sent.count)
            #expect(stored.values.allSatisfy { $0 == 1 })
            #expect(Set(sent.compactMap(\.id)) == Set(stored.keys))

            // The evaluator followed the new writer: its members equal the reference interpreter's.
            for events in batches { try model.apply(.events(events)) }
            let expected = model.memberships(at: model.nowMs)
            for (name, _) in Self.segments {
                let members = Set(try await client.members(name, minSeq: info.headSeq))
                #expect(members == expected[name] ?? [], "\(name)")
            }
        }
    }

    /// A standby whose database connection is lost stands by on a new one, and still takes over when the writer dies.
    @Test(.enabled(if: Self.hasPostgres, "needs the test PostgreSQL server (SEGMENTS_TEST_POSTGRES)"))
    func aStandbyThatLosesItsConnectionReconnectsAndStillTakesOver() async throws {
        try await TemporaryDirectory.with { directory in
            guard let server = TestStoreBackend.available.last,
                let url = try server.postgresURL(forDirectory: directory)
            else { return }
            let storeA = try await Self.startStore("a", in: directory, url: url)
            let storeB = try await Self.startStore("b", in: directory, url: url)
            defer {
                storeA.kill()
                _ = storeB.terminate()
            }
            let database = try PostgresSQLConnection(address: PostgresAddress(url: url), logger: Logger(label: "test"))
            defer { database.close() }
            // The standby's session: the one that asks who the writer is and does not hold the lock.
            let standbySession = try database.prepare(
                """
                SELECT pid FROM pg_stat_activity
                WHERE datname = current_database() AND pid <> pg_backend_pid()
                AND (query LIKE '%pg_try_advisory_lock%' OR query LIKE '%FROM store_writer%')
                AND pid NOT IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory')
                """
            )
            var standbyPID: Int64?
            let deadline = ContinuousClock.now + .seconds(10)
            while standbyPID == nil, ContinuousClock.now < deadline {
                standbyPID = try standbySession.step() ? standbySession.int64(at: 0) : nil
                standbySession.reset()
                if standbyPID == nil { try await Task.sleep(for: .milliseconds(100)) }
            }
            let pid = try #require(standbyPID)
            let terminate = try database.prepare("SELECT pg_terminate_backend(CAST(? AS integer))")
            try terminate.bind(pid, at: 1)
            #expect(try terminate.step() && terminate.int64(at: 0) == 1)
            terminate.reset()
            // Two tries of the lock later, it stands by on a new connection.
            try await Task.sleep(for: .milliseconds(2500))
            #expect(storeB.isRunning)
            #expect(storeB.log.contains("lost the database connection; connecting again"))

            storeA.kill()
            let killed = ContinuousClock.now
            let client = SegmentsClient(
                configuration: .init(
                    storeSocketPath: "\(directory)/b.sock",
                    options: .init(reconnect: .backoff(attempts: 40, maximumDelay: .milliseconds(250)))
                )
            )
            defer { Task { await client.close() } }
            var written: SegmentsWriteResult?
            while written == nil, ContinuousClock.now - killed < .seconds(10) {
                written = try? await client.setProfile("u1", ["plan": .string("pro")])
                if written == nil { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(written?.seq ?? 0 > 0)
            #expect(ContinuousClock.now - killed < .seconds(5))
            #expect(storeB.log.contains("took the writer role over"))
        }
    }

    /// Starts store `name` on the database at `url`, with its socket and log in `directory`.
    private static func startStore(
        _ name: String,
        in directory: String,
        url: String,
        _ arguments: [String] = []
    ) async throws -> DaemonProcess {
        try await DaemonProcess.start(
            BuiltProducts.path(of: "profile-store"),
            arguments: ["--socket", "\(directory)/\(name).sock", "--postgres", url] + arguments,
            socketPath: "\(directory)/\(name).sock",
            logPath: "\(directory)/\(name).log"
        )
    }
}
