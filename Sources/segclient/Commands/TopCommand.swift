import ArgumentParser
import Foundation
import SegmentsClient

/// `segclient top`: the deployment's progress, refreshed live, one line per evaluator shard with rates per second.
struct TopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "top",
        abstract: "Show the store and each evaluator shard live: positions, lag and rates per second.",
        discussion: """
            On a terminal the screen is redrawn at each refresh; otherwise each refresh is printed after the \
            previous one. Rates are measured between two refreshes, so the first shows none.
            """
    )

    @OptionGroup var connection: ConnectionOptions
    @Option(help: "Time between refreshes (1s, 500ms).") var interval = "1s"
    @Option(help: "Stop after this many refreshes (0: until interrupted).") var count = 0
    @Option(help: "How long to wait for each daemon's answer (5s, 500ms); one that does not answer is unreachable.")
    var timeout = "5s"

    func validate() throws {
        guard let ms = DurationText.milliseconds(self.interval), ms >= 100 else {
            throw ValidationError("--interval '\(self.interval)' must be a duration of at least 100ms, e.g. 1s")
        }
        guard self.count >= 0 else { throw ValidationError("--count must not be negative") }
        _ = try StatusReport.timeout(self.timeout)
    }

    func run() async throws {
        let intervalMs = DurationText.milliseconds(self.interval) ?? 1000
        let terminal = isatty(STDOUT_FILENO) == 1
        let client = try StatusReport.client(self.connection, timeout: self.timeout)
        do {
            try await self.refresh(client, everyMs: intervalMs, redrawing: terminal)
            await client.close()
        } catch {
            await client.close()
            throw error
        }
    }

    private func refresh(_ client: SegmentsClient, everyMs intervalMs: Int64, redrawing terminal: Bool) async throws {
        let clock = ContinuousClock()
        var previous: (report: StatusReport, at: ContinuousClock.Instant)?
        var refreshes = 0
        while self.count == 0 || refreshes < self.count {
            if refreshes > 0 {
                try await Task.sleep(for: .milliseconds(intervalMs))
            }
            let report = await StatusReport.read(from: client)
            let now = clock.now
            let lines = Self.lines(report, since: previous)
            // On a terminal: home the cursor and clear the screen, then draw. Written at once, unbuffered, so
            // that a pipe sees each refresh as it happens.
            let text = (terminal ? "\u{1B}[H\u{1B}[2J" : "") + lines.joined(separator: "\n") + "\n"
            FileHandle.standardOutput.write(Data(text.utf8))
            previous = (report, now)
            refreshes += 1
        }
    }

    /// One header line for the store, then one line per shard, with rates since `previous`.
    static func lines(
        _ report: StatusReport,
        since previous: (report: StatusReport, at: ContinuousClock.Instant)?
    ) -> [String] {
        let seconds = previous.map { (ContinuousClock.now - $0.at) / .seconds(1) }
        func rate(_ now: UInt64, _ before: UInt64?) -> String {
            guard let before, let seconds, seconds > 0, now >= before else { return "-" }
            return String(Int((Double(now - before) / seconds).rounded()))
        }
        var lines: [String] = []
        switch report.store {
        case .success(let info):
            let before = previous.flatMap { try? $0.report.store.get().headSeq }
            lines.append(
                "\(Output.time(Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))))  store head \(info.headSeq)  writes/s \(rate(info.headSeq, before))"
                    + "  users \(info.userCount)  events \(info.eventCount)"
            )
        case .failure(let error):
            lines.append(
                "\(Output.time(Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))))  store unreachable: \(error.message)"
            )
        }
        for (index, shard) in report.shards.enumerated() {
            guard case .success(let status) = shard.status else {
                if case .failure(let error) = shard.status {
                    lines.append("shard \(index)  unreachable: \(error.message)")
                }
                continue
            }
            // Rates only against the same process (a restart starts the counters over).
            let before = previous.flatMap { previous -> SegmentsEvaluatorStatus? in
                guard index < previous.report.shards.count,
                    case .success(let earlier) = previous.report.shards[index].status,
                    earlier.startedAtMs == status.startedAtMs
                else { return nil }
                return earlier
            }
            lines.append(
                "shard \(status.shardIndex)/\(status.shardCount)  applied \(status.appliedSeq)"
                    + "  lag \(status.lagEntries(storeHead: report.storeHead)) (\(Output.duration(status.lagMs)))"
                    + "  entries/s \(rate(status.entriesApplied, before?.entriesApplied))"
                    + "  events/s \(rate(status.eventsApplied, before?.eventsApplied))"
                    + "  transitions/s \(rate(status.transitionsRecorded, before?.transitionsRecorded))"
                    + "  users \(status.userCount)  wake-ups \(status.scheduledWakeups)"
                    + "  backlog \(status.webhookBacklog)  rss \(Output.bytes(status.residentBytes))"
            )
        }
        return lines
    }
}
