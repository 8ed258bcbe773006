import ArgumentParser
import Foundation
import SegmentsBenchKit
import SegmentsClient
import SegmentsRPC
import SegmentsWire

/// `segload`: a load test of the daemons' connection handling. While a steady client measures its latency and a
/// writer keeps memberships changing, it opens thousands of connections and slow watchers, then closes them, and
/// reports the steady client's latency and the daemons' memory before, during and after.
@main
struct SegloadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "segload",
        abstract: "Opens thousands of connections and slow watchers against running daemons and measures the effect.",
        discussion: """
            Phases: seed (users and a segment), baseline, loaded (idle connections to both daemons, slow watchers \
            that take one batch every --watcher-pause seconds, and connections beyond the daemons' limit, which \
            must be refused), after (everything closed). In every phase a steady client checks membership and \
            reads profiles back to back, and a writer changes memberships at --write-rate. Memory is read from \
            /proc for --store-pid and --evaluator-pid. Run by dev/load-test.sh, which starts release daemons.
            """
    )

    @Option(help: "The store's socket.") var store: String
    @Option(help: "The evaluator's socket.") var evaluator: String
    @Option(name: .customLong("store-pid"), help: "The store's process id, to read its memory.") var storePid: Int32?
    @Option(name: .customLong("evaluator-pid"), help: "The evaluator's process id.") var evaluatorPid: Int32?
    @Option(help: "Idle connections opened to each daemon.") var connections = 2000
    @Option(help: "Connections attempted beyond --connections, to each daemon.") var beyond = 0
    @Option(help: "Slow watch streams opened on the evaluator.") var watchers = 200
    @Option(name: .customLong("watcher-pause"), help: "Seconds a slow watcher waits between batches.")
    var watcherPause = 10
    @Option(help: "Seconds of each measured phase (baseline and after take half).") var seconds = 30
    @Option(help: "Users seeded.") var users = 10000
    @Option(name: .customLong("write-rate"), help: "Profile changes per second during the phases.")
    var writeRate = 200
    @Option(help: "Write the results as JSON to this file.") var json: String?

    mutating func run() async throws {
        let configuration = SegmentsClientConfiguration(
            storeSocketPath: self.store,
            evaluatorSocketPaths: [self.evaluator],
            options: .init(requestTimeout: .seconds(30))
        )
        let client = SegmentsClient(configuration: configuration)
        let load = LoadRun(command: self, client: client)
        try await load.seed()
        var phases = [try await load.measure("baseline", seconds: max(self.seconds / 2, 5))]
        let opened = try await load.openLoad()
        phases.append(try await load.measure("loaded", seconds: self.seconds, holding: opened))
        let refused = try await load.openBeyondLimit()
        await opened.close()
        try await Task.sleep(for: .seconds(1))
        phases.append(try await load.measure("after", seconds: max(self.seconds / 2, 5)))
        load.report(phases: phases, opened: opened, refused: refused)
        if let path = self.json {
            try load.json(phases: phases, opened: opened, refused: refused).write(
                toFile: path,
                atomically: true,
                encoding: .utf8
            )
        }
        await client.close()
    }
}

/// Prints a line and flushes it, so a run's progress shows as it happens even when output goes to a file.
func say(_ line: String) {
    print(line)
    fflush(nil)
}
