import ArgumentParser
import SegmentLanguage
import SegmentsClient
import SegmentsJSON
import SegmentsNDJSON

/// `segclient track USER EVENT`.
struct TrackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "track",
        abstract: "Record one event.",
        discussion:
            #"Example: segclient track u1 purchase --at 2026-11-01T10:00:00Z --props '{"amount":42.5}' --id e-17"#
    )

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The user id (created if unknown).") var user: String
    @Argument(help: "The event name.") var event: String
    @Option(help: "When it happened (RFC 3339); default: now, by the store's clock.") var at: String?
    @Option(help: "A JSON object of properties.") var props: String?
    @Option(help: "A de-duplication id; a repeated id of the same user is ignored.") var id: String?
    @Flag(help: "Print the result as JSON.") var json = false

    func run() async throws {
        var event = SegmentsEvent(userID: self.user, name: self.event, id: self.id)
        if let at {
            guard let ms = RFC3339.parse(at) else {
                throw ValidationError("--at '\(at)' is not an RFC 3339 date-time (e.g. 2026-11-01T10:00:00Z)")
            }
            event.atMs = ms
        }
        if let props {
            do {
                event.properties = try NDJSONRecords.properties(json: props)
            } catch {
                throw ValidationError("--props: \(error.reason)")
            }
        }
        try await self.connection.withClient { client in
            let result = try await client.track([event])
            if let rejection = result.rejected.first {
                throw rejection.error
            }
            if self.json {
                Output.json(
                    .object([("seq", .number(Double(result.seq))), ("duplicate", .bool(result.duplicates > 0))])
                )
            } else if result.duplicates > 0 {
                Output.line("\(self.user) \(self.event): duplicate id, ignored")
            } else {
                Output.line("\(self.user) \(self.event): recorded (seq \(result.seq))")
            }
        }
    }
}
