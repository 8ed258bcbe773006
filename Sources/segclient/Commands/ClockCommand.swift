import ArgumentParser
import SegmentLanguage
import SegmentsClient
import SegmentsJSON
import SegmentsNDJSON

/// `segclient clock set|advance`: move the store's manual clock (test mode).
struct ClockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clock",
        abstract: "Move the manual clock of a store started with --manual-clock.",
        subcommands: [Set.self, Advance.self, Show.self]
    )
}

extension ClockCommand {
    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set the clock to an instant (never backwards).")

        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "RFC 3339 date-time, e.g. 2026-12-01T00:00:00Z.") var time: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            guard let ms = RFC3339.parse(self.time) else {
                throw ValidationError("'\(self.time)' is not an RFC 3339 date-time (e.g. 2026-12-01T00:00:00Z)")
            }
            try await self.connection.withClient { client in
                ClockCommand.report(try await client.setClock(toMs: ms), json: self.json)
            }
        }
    }

    struct Advance: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Advance the clock, e.g. by 30d, 12h, 90s or 1h30m.")

        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "A duration: integers with units ms, s, m, h, d, w.") var duration: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            guard let ms = DurationText.milliseconds(self.duration) else {
                throw ValidationError("'\(self.duration)' is not a duration (e.g. 30d, 12h, 90s, 1h30m)")
            }
            try await self.connection.withClient { client in
                ClockCommand.report(try await client.advanceClock(byMs: ms), json: self.json)
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the store's clock.")

        @OptionGroup var connection: ConnectionOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await self.connection.withClient { client in
                let info = try await client.storeInfo()
                if self.json {
                    Output.json(
                        .object([("now", .string(Output.time(info.nowMs))), ("manual", .bool(info.manualClock))])
                    )
                } else {
                    Output.line("\(Output.time(info.nowMs))\(info.manualClock ? " (manual)" : "")")
                }
            }
        }
    }

    static func report(_ response: SegmentsClockReading, json: Bool) {
        if json {
            Output.json(
                .object([("now", .string(Output.time(response.nowMs))), ("seq", .number(Double(response.seq)))])
            )
        } else {
            Output.line(Output.time(response.nowMs))
        }
    }
}
