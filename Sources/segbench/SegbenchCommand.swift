import ArgumentParser
import Foundation
import SegmentsBenchKit

/// `segbench`: a reproducible performance suite for Segments, with a naive-SQL baseline.
@main
struct SegbenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "segbench",
        abstract:
            "Measures Segments (import, catch-up, live ingest, freshness, time-driven lateness, queries, back-fill, restart, memory) next to a naive SQL baseline.",
        discussion: """
            Starts profile-store and segment-evaluator (found next to segbench, or in --bin-dir) on temporary \
            sockets and directories, loads deterministic data, runs every phase and writes DIR/results.json, \
            DIR/results.md and DIR/chart.svg. Example: swift run -c release segbench --scale small --out /tmp/bench
            """
    )

    @Option(help: "small (10k users / 200k events), medium (100k / 2M) or large (1M / 20M).")
    var scale: String = "small"

    @Option(help: "Seed of the data generator.")
    var seed: UInt64 = 42

    @Option(
        help: ArgumentHelp(
            "Redraw DIR/chart.svg and DIR/results.md from an existing results.json, without running anything.",
            valueName: "results.json"
        )
    )
    var replot: String?

    @Option(help: "Directory for results.json, results.md and chart.svg (created if missing).")
    var out: String

    @Flag(help: "Shorter timed phases and fewer samples (smoke tests).")
    var quick = false

    @Option(
        name: .customLong("bin-dir"),
        help: "Directory holding profile-store and segment-evaluator. Default: segbench's own directory."
    )
    var binDir: String?

    @Option(
        name: .customLong("store-socket"),
        help:
            "Use a running store (with --evaluator-socket) instead of starting one; restart and memory are then skipped. The store should be empty."
    )
    var storeSocket: String?

    @Option(name: .customLong("evaluator-socket"), help: "The running evaluator's socket (with --store-socket).")
    var evaluatorSocket: String?

    @Option(name: .customLong("work-dir"), help: "Where the temporary sockets and data go. Default: /tmp.")
    var workDir: String = "/tmp"

    @Flag(help: "Keep the temporary directory (daemon logs and data).")
    var keep = false

    @Option(help: "Store durability: full or normal.")
    var durability: String = "full"

    @Option(
        help: """
            Run the store on this PostgreSQL database instead of SQLite (postgres://USER@HOST:PORT/DATABASE); \
            the database must be empty. The store's disk figure is then left out.
            """
    )
    var postgres: String?

    @Option(
        name: .customLong("baseline-segments"),
        help: "How many segments the SQL baseline computes whole (0 = all; large scale defaults to 16)."
    )
    var baselineSegments: Int?

    func validate() throws {
        guard BenchScale.all.contains(where: { $0.name == self.scale }) else {
            throw ValidationError("--scale must be small, medium or large, not '\(self.scale)'")
        }
        guard (self.storeSocket == nil) == (self.evaluatorSocket == nil) else {
            throw ValidationError("--store-socket and --evaluator-socket go together")
        }
        guard ["full", "normal"].contains(self.durability) else {
            throw ValidationError("--durability must be full or normal")
        }
        if let baselineSegments, baselineSegments < 0 {
            throw ValidationError("--baseline-segments must be 0 or more")
        }
    }

    func run() async throws {
        if let replot {
            let results: BenchResults
            do {
                results = try JSONDecoder().decode(
                    BenchResults.self,
                    from: Data(contentsOf: URL(fileURLWithPath: replot))
                )
            } catch {
                throw SegbenchError(.invalidArgument, "cannot read \(replot): \(error)")
            }
            try FileManager.default.createDirectory(atPath: self.out, withIntermediateDirectories: true)
            try Data(ResultsTable.markdown(results).utf8).write(to: URL(fileURLWithPath: self.out + "/results.md"))
            try Data(ResultsChart.svg(results).utf8).write(to: URL(fileURLWithPath: self.out + "/chart.svg"))
            FileHandle.standardOutput.write(Data(ResultsTable.text(results).utf8))
            return
        }
        let scale = try BenchScale.named(self.scale)
        let ownDirectory = URL(
            fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
                ?? CommandLine.arguments[0]
        )
        .deletingLastPathComponent().path
        let options = BenchOptions(
            scale: scale,
            seed: self.seed,
            outputDirectory: self.out,
            quick: self.quick,
            binDirectory: self.binDir ?? ownDirectory,
            storeSocket: self.storeSocket,
            evaluatorSocket: self.evaluatorSocket,
            workDirectory: self.workDir,
            keep: self.keep,
            durability: self.durability,
            postgres: self.postgres,
            baselineSegments: self.baselineSegments ?? (scale.users >= 1_000_000 ? 16 : 0),
            commandLine: CommandLine.arguments.joined(separator: " ")
        )
        do {
            try FileManager.default.createDirectory(atPath: self.out, withIntermediateDirectories: true)
        } catch {
            throw SegbenchError(.output, "cannot create \(self.out): \(error)")
        }
        let runner = try BenchRunner(options: options)
        let results = try await runner.run()
        try Self.write(results, to: self.out)
        FileHandle.standardOutput.write(Data(ResultsTable.text(results).utf8))
        FileHandle.standardError.write(Data("wrote \(self.out)/results.json, results.md, chart.svg\n".utf8))
    }

    static func write(_ results: BenchResults, to directory: String) throws(SegbenchError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            try encoder.encode(results).write(to: URL(fileURLWithPath: directory + "/results.json"))
            try Data(ResultsTable.markdown(results).utf8).write(to: URL(fileURLWithPath: directory + "/results.md"))
            try Data(ResultsChart.svg(results).utf8).write(to: URL(fileURLWithPath: directory + "/chart.svg"))
        } catch {
            throw SegbenchError(.output, "cannot write results to \(directory): \(error)")
        }
    }
}
