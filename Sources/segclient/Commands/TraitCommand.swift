import ArgumentParser
import SegmentsClient
import SegmentsJSON
import SegmentsNDJSON

/// `segclient trait create|update|list|show|delete` and `segclient traits USER`.
struct TraitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trait",
        abstract:
            "Define, list and delete computed traits: named values per user, read by segments as trait(\"name\").",
        subcommands: [Create.self, Update.self, List.self, Show.self, Delete.self]
    )

    /// Prints a saved trait like a saved segment, with the write's change-log number (the segments re-saved with
    /// it come last).
    static func reportSaved(_ write: SegmentsTraitWrite, json: Bool, verb: String) {
        if json {
            var fields = [(key: String, value: JSONValue)]()
            if case .object(let saved) = SegmentCommand.json(write.trait) { fields = saved }
            fields.append(("seq", .number(Double(write.seq))))
            Output.json(.object(fields))
        } else {
            Output.line("\(write.trait.name): \(verb) (seq \(write.seq))")
            Output.line("  \(write.trait.expression)")
        }
    }
}

extension TraitCommand {
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a trait; refused if the name exists or the expression is invalid.",
            discussion:
                "Example: segclient trait create engagement "
                + "'2 * count(page_view within 7d) + 10 * count(purchase within 30d)'"
        )

        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "Trait name: letters, digits, '_', '.', '-' (not a segment's or list's name).") var name: String
        @Argument(help: "The expression: a value (see docs/segment-language.md).") var expression: String
        @Flag(help: "Print the saved trait as JSON.") var json = false

        func run() async throws {
            try await self.connection.withClient { client in
                let trait = try await client.putTrait(self.name, expression: self.expression, mode: .create)
                TraitCommand.reportSaved(trait, json: self.json, verb: "created")
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replace a trait's expression; the segments reading it follow."
        )

        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "Trait name.") var name: String
        @Argument(help: "The new expression.") var expression: String
        @Flag(help: "Print the saved trait as JSON.") var json = false

        func run() async throws {
            try await self.connection.withClient { client in
                let trait = try await client.putTrait(self.name, expression: self.expression, mode: .update)
                TraitCommand.reportSaved(trait, json: self.json, verb: "updated")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List traits: name, then expression.")

        @OptionGroup var connection: ConnectionOptions
        @Flag(help: "Print JSON (an array).") var json = false

        func run() async throws {
            try await self.connection.withClient { client in
                let traits = try await client.traits()
                if self.json {
                    Output.json(.array(traits.map(SegmentCommand.json)))
                } else {
                    for trait in traits { Output.line("\(trait.name)\t\(trait.expression)") }
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one trait in canonical form.")

        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "Trait name.") var name: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await self.connection.withClient { client in
                let trait = try await client.trait(self.name)
                if self.json {
                    Output.json(SegmentCommand.json(trait))
                } else {
                    Output.line("name:       \(trait.name)")
                    Output.line("expression: \(trait.expression)")
                    Output.line("created:    \(Output.time(trait.createdAtMs)) (seq \(trait.createdSeq))")
                    Output.line("updated:    \(Output.time(trait.updatedAtMs)) (seq \(trait.updatedSeq))")
                }
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a trait no segment or trait reads.")

        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "Trait name.") var name: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await self.connection.withClient { client in
                let result = try await client.deleteTrait(self.name)
                if self.json {
                    Output.json(.object([("seq", .number(Double(result.seq)))]))
                } else {
                    Output.line("\(self.name): deleted (seq \(result.seq))")
                }
            }
        }
    }
}

/// `segclient traits USER`: every trait's value for a user now.
struct TraitsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "traits",
        abstract: "Print every computed trait's value for a user, now (the store's clock).",
        discussion:
            "A missing value (an absent attribute, an average of no events, a division by zero) prints as 'missing'."
    )

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The user id.") var user: String
    @Flag(help: "Print JSON: an object with the user, the instant and the values (null when missing).") var json = false

    func run() async throws {
        try await self.connection.withClient { client in
            let result = try await client.traitValues(of: self.user)
            if self.json {
                let values = result.values.map { ($0.name, $0.value.map(NDJSONRecords.json) ?? .null) }
                Output.json(
                    .object([
                        ("user", .string(self.user)), ("at", .string(Output.time(result.nowMs))),
                        ("seq", .number(Double(result.seq))), ("traits", .object(values)),
                    ])
                )
            } else {
                for item in result.values {
                    Output.line("\(item.name) = \(item.value.map(Output.text) ?? "missing")")
                }
            }
        }
    }
}
