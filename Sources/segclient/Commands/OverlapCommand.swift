import ArgumentParser
import Foundation
import SegmentsClient
import SegmentsJSON
import SegmentsNDJSON

/// `segclient overlap SEG SEG…`.
struct OverlapCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "overlap",
        abstract: "Sizes, pairwise intersections and Jaccard indexes of 2–20 segments or lists.",
        discussion: "Exact, from the current membership. Example: segclient overlap vip lapsed newsletter"
    )

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var read: ReadOptions
    @Argument(help: "2 to 20 distinct segment or list names.") var names: [String]
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        guard (2...20).contains(self.names.count) else {
            throw ValidationError("give 2 to 20 segments or lists, not \(self.names.count)")
        }
        guard Set(self.names).count == self.names.count else {
            throw ValidationError("each segment or list may be named once")
        }
    }

    func run() async throws {
        try await self.connection.withClient { client in
            let started = Date()
            let overlap = try await client.overlap(self.names, minSeq: self.read.minSeq)
            let milliseconds = Date().timeIntervalSince(started) * 1000
            if self.json {
                Output.json(Self.json(overlap, milliseconds: milliseconds))
            } else {
                Self.printTable(overlap)
                Output.diagnostic("computed in \(String(format: "%.1f", milliseconds)) ms")
            }
        }
    }

    static func json(_ overlap: SegmentsOverlap, milliseconds: Double) -> JSONValue {
        .object([
            (
                "sizes",
                .object(zip(overlap.names, overlap.sizes).map { ($0, JSONValue.number(Double($1))) })
            ),
            (
                "pairs",
                .array(
                    overlap.pairs.map {
                        .object([
                            ("a", .string(overlap.names[$0.first])),
                            ("b", .string(overlap.names[$0.second])),
                            ("intersection", .number(Double($0.intersection))),
                            ("jaccard", .number($0.jaccard)),
                        ])
                    }
                )
            ),
            ("milliseconds", .number(milliseconds)),
        ])
    }

    /// Two aligned tables: each name's size, then each pair.
    static func printTable(_ overlap: SegmentsOverlap) {
        let width = max(overlap.names.map(\.count).max() ?? 0, 7)
        func pad(_ text: String, _ count: Int) -> String {
            text.count >= count ? text : text + String(repeating: " ", count: count - text.count)
        }
        Output.line(pad("segment", width) + "  size")
        for (name, size) in zip(overlap.names, overlap.sizes) {
            Output.line(pad(name, width) + "  \(size)")
        }
        Output.line("")
        Output.line(pad("a", width) + "  " + pad("b", width) + "  both      jaccard")
        for pair in overlap.pairs {
            Output.line(
                pad(overlap.names[pair.first], width) + "  " + pad(overlap.names[pair.second], width) + "  "
                    + pad("\(pair.intersection)", 8) + "  " + String(format: "%.4f", pair.jaccard)
            )
        }
    }
}
