import ArgumentParser
import SegmentsClient
import SegmentsJSON
import SegmentsNDJSON

/// `segclient status`: what the store reports about itself.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Print the store's change-log head, clock, sizes and feed subscribers."
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
                        ("held_entries", .number(Double(info.heldEntryCount))),
                        (
                            "feed_subscribers",
                            .array(
                                info.feedSubscribers.map { subscriber in
                                    .object([
                                        ("id", .string(subscriber.id)),
                                        ("name", .string(subscriber.name)),
                                        ("durable_seq", .number(Double(subscriber.durableSeq))),
                                        ("seen_at", .string(Output.time(subscriber.seenAtMs))),
                                    ])
                                }
                            )
                        ),
                    ])
                )
            } else {
                Output.line("store \(client.configuration.storeSocketPath) (version \(info.version))")
                Output.line("  change log head: \(info.headSeq)")
                Output.line("  clock: \(Output.time(info.nowMs))\(info.manualClock ? " (manual)" : "")")
                Output.line("  users: \(info.userCount), events: \(info.eventCount)")
                for subscriber in info.feedSubscribers {
                    Output.line(
                        "  feed subscriber \(subscriber.name) (\(subscriber.id)): durable at \(subscriber.durableSeq), "
                            + "seen \(Output.time(subscriber.seenAtMs))"
                    )
                }
                if info.heldEntryCount > 0 {
                    Output.line("  entries held for deleted users' replay: \(info.heldEntryCount)")
                }
            }
        }
    }
}
