import ArgumentParser
import Foundation
import SegmentLanguage
import SegmentsClient
import SegmentsJSON

/// `segclient size SEGMENT… [--from TS] [--to TS] [--every 1h] [--json] [--plot FILE.svg]`.
struct SizeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "size",
        abstract: "Print how many members segments had over time, from the transition log; --plot draws a chart.",
        discussion: """
            The count at --from, --from + --every, … up to --to. Default: the last 24 steps up to the store's \
            clock, not before the transition log's start (segclient status shows it as "history from"). \
            At most 10,000 instants.
            """
    )

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var read: ReadOptions
    @Argument(help: "One or more segments or lists.") var segments: [String]
    @Option(help: "First instant (RFC 3339).") var from: String?
    @Option(help: "Last instant (RFC 3339). Default: the store's clock.") var to: String?
    @Option(help: "Step between instants, e.g. 15m, 1h, 1d. Default 1h.") var every = "1h"
    @Option(help: "Write an SVG chart of the counts to this file.") var plot: String?
    @Flag(help: "Print NDJSON: one {\"segment\",\"at\",\"size\"} line per segment and instant.") var json = false

    func validate() throws {
        guard !self.segments.isEmpty else { throw ValidationError("name at least one segment or list") }
        guard let step = DurationText.milliseconds(self.every), step > 0 else {
            throw ValidationError("--every '\(self.every)' is not a positive duration (e.g. 15m, 1h, 1d)")
        }
        for (name, text) in [("--from", self.from), ("--to", self.to)] {
            if let text, RFC3339.parse(text) == nil {
                throw ValidationError("\(name) '\(text)' is not an RFC 3339 date-time (e.g. 2026-11-01T00:00:00Z)")
            }
        }
    }

    func run() async throws {
        let step = DurationText.milliseconds(self.every) ?? 3_600_000
        try await self.connection.withClient { client in
            var toMs = self.to.flatMap(RFC3339.parse) ?? 0
            if self.to == nil { toMs = try await client.storeInfo().nowMs }
            let fromMs: Int64
            if let given = self.from.flatMap(RFC3339.parse) {
                fromMs = given
            } else {
                // The last 24 steps, but not before every shard's log starts (a fresh store has less history).
                let start = try await client.evaluatorStatus().compactMap(\.coversFromMs).max() ?? toMs
                let steps = min(24, max(0, (toMs - start) / step))
                fromMs = toMs - steps * step
            }
            guard fromMs <= toMs else {
                throw SegmentsClientError(.invalidArgument, "--from is after --to")
            }
            var series: [SizeChart.Series] = []
            var instants: [Int64] = []
            for segment in self.segments {
                let points = try await client.sizeSeries(
                    segment,
                    from: fromMs,
                    to: toMs,
                    every: step,
                    minSeq: self.read.minSeq
                )
                instants = points.map(\.atMs)
                series.append(SizeChart.Series(name: segment, counts: points.map(\.count)))
            }
            self.print(series, at: instants)
            if let path = self.plot {
                let svg = SizeChart(instants: instants, series: series).svg()
                do {
                    try svg.write(toFile: path, atomically: true, encoding: .utf8)
                } catch {
                    throw SegmentsClientError(.invalidArgument, "cannot write \(path): \(error.localizedDescription)")
                }
            }
        }
    }

    private func print(_ series: [SizeChart.Series], at instants: [Int64]) {
        if self.json {
            for (index, instant) in instants.enumerated() {
                for line in series {
                    Output.json(
                        .object([
                            ("segment", .string(line.name)), ("at", .string(Output.time(instant))),
                            ("size", .number(Double(line.counts[index]))),
                        ])
                    )
                }
            }
            return
        }
        Output.line((["time"] + series.map(\.name)).joined(separator: "\t"))
        for (index, instant) in instants.enumerated() {
            Output.line(([Output.time(instant)] + series.map { "\($0.counts[index])" }).joined(separator: "\t"))
        }
    }
}
