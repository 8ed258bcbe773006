import ArgumentParser
import SegmentsClient
import SegmentsJSON
import SegmentsNDJSON

/// `segclient profile set|get|events|delete`.
struct ProfileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile",
        abstract: "Set, read or delete a user's profile.",
        subcommands: [Set.self, Get.self, Events.self, Delete.self]
    )
}

extension ProfileCommand {
    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Merge attributes into a profile; null removes an attribute.",
            discussion: #"Example: segclient profile set u1 '{"plan":"pro","age":34,"tags":["a","b"],"old":null}'"#
        )

        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The user id.") var user: String
        @Argument(help: "A JSON object of attributes.") var attributes: String
        @Flag(help: "Print the result as JSON.") var json = false

        func run() async throws {
            let attributes: [String: SegmentsValue?]
            do {
                attributes = try NDJSONRecords.attributes(json: self.attributes)
            } catch {
                throw ValidationError("attributes: \(error.reason)")
            }
            try await self.connection.withClient { client in
                let result = try await client.setProfile(self.user, attributes)
                if self.json {
                    Output.json(.object([("seq", .number(Double(result.seq)))]))
                } else {
                    Output.line(result.seq == 0 ? "\(self.user): unchanged" : "\(self.user): saved (seq \(result.seq))")
                }
            }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a profile.")

        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The user id.") var user: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await self.connection.withClient { client in
                let profile = try await client.profile(self.user)
                let names = profile.attributes.keys.sorted()
                if self.json {
                    let attributes = names.map { ($0, NDJSONRecords.json(profile.attributes[$0]!)) }
                    Output.json(
                        .object([
                            ("id", .string(profile.userID)),
                            ("attributes", .object(attributes)),
                            ("created_seq", .number(Double(profile.createdSeq))),
                            ("updated_seq", .number(Double(profile.updatedSeq))),
                        ])
                    )
                } else {
                    Output.line("user \(profile.userID)")
                    for name in names {
                        Output.line("  \(name) = \(Output.text(profile.attributes[name]!))")
                    }
                    if names.isEmpty {
                        Output.line("  (no attributes)")
                    }
                    Output.line("created at seq \(profile.createdSeq), last changed at seq \(profile.updatedSeq)")
                }
            }
        }
    }

    struct Events: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Print a user's most recently stored events, newest first (one NDJSON import line each with --json)."
        )

        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The user id.") var user: String
        @Option(help: "Most events printed, 1 to 1000.") var limit = 20
        @Flag(help: "Print one JSON object a line, in the import format.") var json = false

        func validate() throws {
            guard (1...1000).contains(self.limit) else { throw ValidationError("--limit must be from 1 to 1000") }
        }

        func run() async throws {
            try await self.connection.withClient { client in
                for event in try await client.recentEvents(of: self.user, limit: self.limit) {
                    let names = event.properties.keys.sorted()
                    if self.json {
                        var fields: [(key: String, value: JSONValue)] = [
                            ("user", .string(event.userID)), ("event", .string(event.name)),
                            ("at", .string(Output.time(event.atMs ?? 0))),
                        ]
                        if !names.isEmpty {
                            fields.append(
                                ("properties", .object(names.map { ($0, NDJSONRecords.json(event.properties[$0]!)) }))
                            )
                        }
                        if let id = event.id { fields.append(("id", .string(id))) }
                        Output.json(.object(fields))
                    } else {
                        let properties = names.map { "\($0)=\(Output.text(event.properties[$0]!))" }
                        Output.line(
                            ([Output.time(event.atMs ?? 0), event.name] + properties).joined(separator: "  ")
                        )
                    }
                }
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Forget a user: attributes, events and memberships."
        )

        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The user id.") var user: String
        @Flag(help: "Print the result as JSON.") var json = false

        func run() async throws {
            try await self.connection.withClient { client in
                let result = try await client.deleteProfile(self.user)
                if self.json {
                    Output.json(.object([("seq", .number(Double(result.seq)))]))
                } else {
                    Output.line("\(self.user): deleted (seq \(result.seq))")
                }
            }
        }
    }
}
