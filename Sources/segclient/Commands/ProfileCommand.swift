import ArgumentParser
import SegmentsClient
import SegmentsJSON
import SegmentsNDJSON

/// `segclient profile set|get|events|delete`.
struct ProfileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile",
        abstract: "Set, read or delete a user's profile.",
        subcommands: [Set.self, Get.self, Events.self, Export.self, Delete.self]
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
        /// An event as one import line.
        static func json(_ event: SegmentsEvent) -> JSONValue {
            let names = event.properties.keys.sorted()
            var fields: [(key: String, value: JSONValue)] = [
                ("user", .string(event.userID)), ("event", .string(event.name)),
                ("at", .string(Output.time(event.atMs ?? 0))),
            ]
            if !names.isEmpty {
                fields.append(("properties", .object(names.map { ($0, NDJSONRecords.json(event.properties[$0]!)) })))
            }
            if let id = event.id { fields.append(("id", .string(id))) }
            return .object(fields)
        }

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
                        Output.json(Self.json(event))
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

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print everything held about a user as one JSON document (the \"right to know\").",
            discussion: """
                The document holds the attributes, every stored event (in the order stored, in the import format), the \
                segments and lists the user is in, the whole enter/exit history, the computed traits' values (null \
                when missing), and the webhooks that were sent \
                the user's transitions. After `profile delete` it fails with status 3: nothing is left.
                """
        )

        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The user id.") var user: String

        func run() async throws {
            try await self.connection.withClient { client in
                let export = try await client.exportProfile(self.user)
                let names = export.profile.attributes.keys.sorted()
                let attributes: [(key: String, value: JSONValue)] = names.map { name in
                    (name, NDJSONRecords.json(export.profile.attributes[name]!))
                }
                let deliveries: [JSONValue] = export.webhookDeliveries.map { delivery in
                    let transitions: [JSONValue] = delivery.transitions.map(WatchCommand.json)
                    return .object([
                        ("webhook", .string(delivery.webhook.id)), ("url", .string(delivery.webhook.url)),
                        ("transitions", .array(transitions)),
                    ])
                }
                let events: [JSONValue] = export.events.map(Events.json)
                let history: [JSONValue] = export.history.map(WatchCommand.json)
                var document: [(key: String, value: JSONValue)] = [("user", .string(export.profile.userID))]
                document.append(("attributes", .object(attributes)))
                document.append(("created_seq", .number(Double(export.profile.createdSeq))))
                document.append(("updated_seq", .number(Double(export.profile.updatedSeq))))
                document.append(("events", .array(events)))
                document.append(("segments", .array(export.segments.map(JSONValue.string))))
                document.append(("lists", .array(export.lists.map(JSONValue.string))))
                document.append(("history", .array(history)))
                let traits = export.traits.map { ($0.name, $0.value.map(NDJSONRecords.json) ?? .null) }
                document.append(("traits", .object(traits)))
                document.append(("webhook_deliveries", .array(deliveries)))
                Output.json(.object(document))
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Forget a user: attributes, events, memberships, and their name in the enter/exit history."
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
