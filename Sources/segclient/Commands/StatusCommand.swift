import ArgumentParser
import SegmentsClient

/// `segclient status`: the store and every evaluator shard; a health check with `--max-lag`.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Print the store's head, clock and sizes, and each evaluator shard's progress, lag and vitals.",
        discussion: """
            Exits with status 1 when the store or an evaluator shard cannot be reached, or when a shard lags more \
            than --max-lag: usable as a health check.
            """
    )

    @OptionGroup var connection: ConnectionOptions
    @Flag(help: "Print JSON.") var json = false
    @Option(
        name: .customLong("max-lag"),
        help: "Unhealthy when a shard lags more than this: store change-log entries (1000) or a time (5s, 500ms).",
        transform: { text in
            guard let limit = StatusReport.LagLimit(text) else {
                throw ValidationError("--max-lag '\(text)' must be a number of entries or a duration such as 5s")
            }
            return limit
        }
    )
    var maxLag: StatusReport.LagLimit?
    @Option(help: "How long to wait for each daemon's answer (5s, 500ms); one that does not answer is unreachable.")
    var timeout = "5s"

    func validate() throws {
        _ = try StatusReport.timeout(self.timeout)
    }

    func run() async throws {
        let client = try StatusReport.client(self.connection, timeout: self.timeout)
        let report = await StatusReport.read(from: client)
        await client.close()
        let problems = report.problems(maxLag: self.maxLag)
        if self.json {
            Output.json(report.json(maxLag: self.maxLag))
        } else {
            report.lines().forEach(Output.line)
        }
        guard problems.isEmpty else {
            problems.forEach(Output.error)
            throw ExitCode(1)
        }
    }
}
