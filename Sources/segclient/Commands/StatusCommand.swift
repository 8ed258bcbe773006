import ArgumentParser
import SegmentsClient
import SegmentsNDJSON
import SegmentsWire

/// `segclient status`: what the store reports about itself.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Print the store's change-log head, clock and sizes."
    )

    @OptionGroup var connection: ConnectionOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        try await self.connection.withClient { client in
            let info = try await client.storeInfo()
            if self.json {
                Output.json(
                    .object([
                        ("head_seq", .number(Double(info.headSeq))),
                        ("now", .string(Output.time(info.nowMs))),
                        ("manual_clock", .bool(info.manualClock)),
                        ("users", .number(Double(info.userCount))),
                        ("events", .number(Double(info.eventCount))),
                        ("version", .string(info.version)),
                    ])
                )
            } else {
                Output.line("store \(client.configuration.storeSocketPath) (version \(info.version))")
                Output.line("  change log head: \(info.headSeq)")
                Output.line("  clock: \(Output.time(info.nowMs))\(info.manualClock ? " (manual)" : "")")
                Output.line("  users: \(info.userCount), events: \(info.eventCount)")
            }
        }
    }
}
