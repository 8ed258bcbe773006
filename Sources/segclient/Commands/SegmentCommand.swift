import ArgumentParser
import SegmentsClient
import SegmentsJSON
import SegmentsNDJSON

/// `segclient segment create|update|list|show|delete`.
struct SegmentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "segment",
        abstract: "Define, list and delete dynamic segments.",
        subcommands: [Create.self, Update.self, List.self, Show.self, Delete.self, Preview.self]
    )

    static func json(_ segment: SegmentsDefinition) -> JSONValue {
        .object([
            ("name", .string(segment.name)),
            ("expression", .string(segment.expression)),
            ("created_seq", .number(Double(segment.createdSeq))),
            ("updated_seq", .number(Double(segment.updatedSeq))),
            ("created_at", .string(Output.time(segment.createdAtMs))),
            ("updated_at", .string(Output.time(segment.updatedAtMs))),
        ])
    }
}

extension SegmentCommand {
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a segment; refused if the name exists or the expression is invalid.",
            discussion:
                #"Example: segclient segment create lapsed 'count(purchase) >= 1 and count(purchase within 30d) = 0'"#
        )

        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "Segment name: letters, digits, '_', '.', '-'.") var name: String
        @Argument(help: "The expression (see docs/segment-language.md).") var expression: String
        @Flag(help: "Print the saved segment as JSON.") var json = false

        func run() async throws {
            try await self.connection.withClient { client in
                let segment = try await client.putSegment(self.name, expression: self.expression, mode: .create)
                SegmentCommand.reportSaved(segment, json: self.json, verb: "created")
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Replace a segment's expression.")

        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "Segment name.") var name: String
        @Argument(help: "The new expression.") var expression: String
        @Flag(help: "Print the saved segment as JSON.") var json = false

        func run() async throws {
            try await self.connection.withClient { client in
                let segment = try await client.putSegment(self.name, expression: self.expression, mode: .update)
                SegmentCommand.reportSaved(segment, json: self.json, verb: "updated")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List segments: name, then expression.")

        @OptionGroup var connection: ConnectionOptions
        @Flag(help: "Print JSON (an array).") var json = false

        func run() async throws {
            try await self.connection.withClient { client in
                let segments = try await client.segments()
                if self.json {
                    Output.json(.array(segments.map(SegmentCommand.json)))
                } else {
                    for segment in segments {
                        Output.line("\(segment.name)\t\(segment.expression)")
                    }
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one segment in canonical form.")

        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "Segment name.") var name: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await self.connection.withClient { client in
                let segment = try await client.segment(self.name)
                if self.json {
                    Output.json(SegmentCommand.json(segment))
                } else {
                    Output.line("name:       \(segment.name)")
                    Output.line("expression: \(segment.expression)")
                    Output.line("created:    \(Output.time(segment.createdAtMs)) (seq \(segment.createdSeq))")
                    Output.line("updated:    \(Output.time(segment.updatedAtMs)) (seq \(segment.updatedSeq))")
                }
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a segment no other segment uses.")

        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "Segment name.") var name: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await self.connection.withClient { client in
                let result = try await client.deleteSegment(self.name)
                if self.json {
                    Output.json(.object([("seq", .number(Double(result.seq)))]))
                } else {
                    Output.line("\(self.name): deleted (seq \(result.seq))")
                }
            }
        }
    }

    struct Preview: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Count who would be in an expression now, with a sample; nothing is saved."
        )

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var read: ReadOptions
        @Argument(help: "The expression.") var expression: String
        @Option(help: "How many member ids to show.") var sample = 10
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await self.connection.withClient { client in
                let preview = try await client.preview(
                    self.expression,
                    sampleSize: self.sample,
                    minSeq: self.read.minSeq
                )
                if self.json {
                    Output.json(
                        .object([
                            ("count", .number(Double(preview.count))),
                            ("sample", .array(preview.sample.map(JSONValue.string))),
                        ])
                    )
                } else {
                    Output.line("\(preview.count) members")
                    for user in preview.sample { Output.line("  \(user)") }
                }
            }
        }
    }

    static func reportSaved(_ segment: SegmentsDefinition, json: Bool, verb: String) {
        if json {
            Output.json(Self.json(segment))
        } else {
            Output.line("\(segment.name): \(verb) (seq \(segment.updatedSeq))")
            Output.line("  \(segment.expression)")
        }
    }
}
