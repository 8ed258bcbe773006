import ArgumentParser
import SegmentsClient
import SegmentsJSON
import SegmentsNDJSON

/// `segclient list create|add|remove|members|list|delete|snapshot`.
struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "Static lists: named sets of users, usable in expressions with in_segment(\"name\").",
        subcommands: [Create.self, Add.self, Remove.self, Members.self, All.self, Delete.self, Snapshot.self]
    )
}

extension ListCommand {
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an empty list.")

        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "List name: letters, digits, '_', '.', '-' (not the name of a segment).") var name: String

        func run() async throws {
            try await self.connection.withClient { client in
                let result = try await client.createList(self.name)
                Output.line("list \(self.name): created (seq \(result.seq))")
            }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add users to a list (unknown users are created).",
            discussion: """
                Ids come from the arguments, or with --file from a file or standard input (-), one id a \
                line; blank lines are skipped. An invalid id is reported as `line N: reason` (or \
                `argument N: reason`) and skipped; the exit status is then 1.
                """
        )

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var members: MemberInput
        @Argument(help: "The list.") var name: String
        @Argument(help: "User ids (or use --file).") var users: [String] = []

        func run() async throws {
            try await self.members.run(list: self.name, users: self.users, adding: true, connection: self.connection)
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove users from a list.",
            discussion: """
                Ids come from the arguments, or with --file from a file or standard input (-), one id a \
                line. Unknown users and invalid ids are reported and skipped; the exit status is then 1.
                """
        )

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var members: MemberInput
        @Argument(help: "The list.") var name: String
        @Argument(help: "User ids (or use --file).") var users: [String] = []

        func run() async throws {
            try await self.members.run(list: self.name, users: self.users, adding: false, connection: self.connection)
        }
    }

    struct Members: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a list's members as the store holds them, one id a line, sorted."
        )

        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The list.") var name: String
        @Flag(help: "Print JSON (an array).") var json = false

        func run() async throws {
            try await self.connection.withClient { client in
                let members = try await client.listMembers(self.name)
                if self.json {
                    Output.json(.array(members.map(JSONValue.string)))
                } else {
                    for member in members { Output.line(member) }
                }
            }
        }
    }

    struct All: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List the lists: name and size.",
            aliases: ["ls"]
        )

        @OptionGroup var connection: ConnectionOptions
        @Flag(help: "Print JSON (an array).") var json = false

        func run() async throws {
            try await self.connection.withClient { client in
                let lists = try await client.lists()
                if self.json {
                    Output.json(
                        .array(
                            lists.map {
                                .object([
                                    ("name", .string($0.name)),
                                    ("size", .number(Double($0.size))),
                                    ("created_seq", .number(Double($0.createdSeq))),
                                ])
                            }
                        )
                    )
                } else {
                    for list in lists { Output.line("\(list.name)\t\(list.size)") }
                }
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a list; refused while a segment refers to it."
        )

        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The list.") var name: String

        func run() async throws {
            try await self.connection.withClient { client in
                let result = try await client.deleteList(self.name)
                Output.line("list \(self.name): deleted (seq \(result.seq))")
            }
        }
    }

    struct Snapshot: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Freeze the current members of a segment into a new list.",
            discussion: """
                The members are read once, after every write acknowledged before the command started, \
                exactly as of one change-log position per evaluator shard (printed); then the list is \
                created and filled. If filling fails, the partial list is deleted.
                """
        )

        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The segment (or list) to freeze.") var segment: String
        @Argument(help: "The new list's name.") var name: String
        @Option(help: "Members per write.") var batch = 10_000
        @Flag(help: "Print the summary as JSON.") var json = false

        func run() async throws {
            guard self.batch > 0 else { throw ValidationError("--batch must be positive") }
            try await self.connection.withClient { client in
                let progress = Progress(noun: "members", verb: "writing")
                let snapshot = try await client.snapshotList(of: self.segment, into: self.name, batchSize: self.batch) {
                    progress.update(lines: $0)
                }
                progress.clear()
                if self.json {
                    Output.json(
                        .object([
                            ("list", .string(self.name)),
                            ("members", .number(Double(snapshot.members))),
                            ("positions", .array(snapshot.positions.map { .number(Double($0)) })),
                            ("seq", .number(Double(snapshot.seq))),
                        ])
                    )
                } else {
                    let positions = snapshot.positions.map(String.init).joined(separator: ", ")
                    Output.line(
                        "list \(self.name): \(snapshot.members) members of \(self.segment) as of change-log "
                            + "position \(positions)"
                    )
                }
            }
        }
    }
}

/// Where `list add` / `list remove` take ids from, and how they send them.
struct MemberInput: ParsableArguments {
    @Option(help: "Read ids from this file, or - for standard input, one a line.") var file: String?
    @Option(help: "Ids per write.") var batch = 10_000

    /// Sends the ids in batches, reporting bad ones, and prints a summary.
    func run(list: String, users: [String], adding: Bool, connection: ConnectionOptions) async throws {
        guard self.batch > 0 else { throw ValidationError("--batch must be positive") }
        guard (self.file == nil) != users.isEmpty else {
            throw ValidationError("give user ids as arguments or with --file, not both (and at least one)")
        }
        var reader: LineReader?
        if let file = self.file {
            do {
                reader = try LineReader(path: file)
            } catch {
                throw ValidationError(error.message)
            }
        }
        let source = self.file == nil ? "argument" : "line"
        let progress = Progress(noun: "ids", verb: adding ? "adding" : "removing")
        var (sent, changed, unchanged, failed) = (0, 0, 0, 0)
        var arguments = users.makeIterator()
        try await connection.withClient { client in
            while true {
                var ids: [String] = []
                var numbers: [Int] = []
                while ids.count < self.batch {
                    let id: String
                    if reader != nil {
                        let line: ArraySlice<UInt8>?
                        do throws(LineReaderError) {
                            line = try reader!.nextLine()
                        } catch {
                            throw ValidationError(error.message)
                        }
                        guard let line else { break }
                        sent += 1
                        id = String(decoding: line, as: UTF8.self).trimmingSpaces
                        if id.isEmpty { continue }
                    } else {
                        guard let next = arguments.next() else { break }
                        sent += 1
                        id = next
                    }
                    ids.append(id)
                    numbers.append(sent)
                }
                guard !ids.isEmpty else { break }
                let result =
                    adding
                    ? try await client.changeListMembers(list, add: ids)
                    : try await client.changeListMembers(list, remove: ids)
                for rejection in result.rejected {
                    failed += 1
                    progress.clear()
                    let number = rejection.index < numbers.count ? numbers[rejection.index] : 0
                    Output.diagnostic("\(source) \(number): \(rejection.error.message)")
                }
                unchanged += result.duplicates
                changed += result.accepted - result.duplicates
                progress.update(lines: sent)
            }
        }
        progress.clear()
        let summary =
            adding
            ? "added \(changed) users to \(list) (\(unchanged) already members); \(failed) failed"
            : "removed \(changed) users from \(list) (\(unchanged) not members); \(failed) failed"
        Output.diagnostic(summary)
        if failed > 0 {
            throw ExitCode(1)
        }
    }
}

extension String {
    /// The string without leading and trailing spaces and tabs.
    fileprivate var trimmingSpaces: String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars.removeLast() }
        return String(scalars)
    }
}
