import ArgumentParser
import Foundation
import SegmentLanguage
import SegmentsClient
import SegmentsJSON
import SegmentsNDJSON

/// Options shared by read commands: read-your-writes.
struct ReadOptions: ParsableArguments {
    @Option(
        name: .customLong("min-seq"),
        help: "Wait until the evaluator has applied this store change (the seq a write printed)."
    )
    var minSeq: UInt64 = 0
}

/// `--at TS`: answer for a past instant, from the transition log.
struct PastOption: ParsableArguments {
    @Option(
        help: """
            Answer for this past instant (RFC 3339), from the transition log: the membership it records then.
            """
    )
    var at: String?

    /// The instant asked for, in ms since the Unix epoch; `nil` for now.
    func instant() throws -> Int64? {
        guard let text = self.at else { return nil }
        guard let ms = RFC3339.parse(text) else {
            throw ValidationError("--at '\(text)' is not an RFC 3339 date-time (e.g. 2026-11-01T12:00:00Z)")
        }
        return ms
    }
}

/// `segclient check USER SEGMENT`.
struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Print true or false: is the user a member of the segment (or list)?"
    )

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var read: ReadOptions
    @Argument(help: "The user id.") var user: String
    @Argument(help: "The segment or list.") var segment: String
    @OptionGroup var past: PastOption
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let atMs = try self.past.instant()
        try await self.connection.withClient { client in
            if let atMs {
                let member = try await client.check(self.user, in: self.segment, at: atMs, minSeq: self.read.minSeq)
                Output.line(self.json ? JSONValue.object([("member", .bool(member))]).serialized : "\(member)")
                return
            }
            let result = try await client.check(self.user, in: self.segment, minSeq: self.read.minSeq)
            if self.json {
                var members: [(key: String, value: JSONValue)] = [("member", .bool(result.member))]
                if let since = result.sinceMs { members.append(("since", .string(Output.time(since)))) }
                Output.json(.object(members))
            } else {
                Output.line(result.member ? "true" : "false")
            }
        }
    }
}

/// `segclient members SEGMENT`.
struct MembersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "members",
        abstract: "Print the members of a segment or list, one user id a line, sorted."
    )

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var read: ReadOptions
    @Argument(help: "The segment or list.") var segment: String
    @Flag(help: "Print only the number of members.") var count = false
    @Option(help: "Print only the first N members (in the same order).") var limit: Int?
    @OptionGroup var past: PastOption
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        if let limit = self.limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func run() async throws {
        let atMs = try self.past.instant()
        try await self.connection.withClient { client in
            if self.count {
                let count =
                    if let atMs {
                        try await client.memberCount(self.segment, at: atMs, minSeq: self.read.minSeq)
                    } else {
                        try await client.memberCount(self.segment, minSeq: self.read.minSeq)
                    }
                Output.line(self.json ? JSONValue.object([("count", .number(Double(count)))]).serialized : "\(count)")
                return
            }
            let members =
                if let atMs {
                    Array(
                        try await client.members(self.segment, at: atMs, minSeq: self.read.minSeq)
                            .prefix(self.limit ?? Int.max)
                    )
                } else if let limit = self.limit {
                    try await client.members(self.segment, limit: limit, minSeq: self.read.minSeq)
                } else {
                    try await client.members(self.segment, minSeq: self.read.minSeq)
                }
            if self.json {
                Output.json(.array(members.map(JSONValue.string)))
            } else {
                for member in members { Output.line(member) }
            }
        }
    }
}

/// `segclient segments-of USER`.
struct SegmentsOfCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "segments-of",
        abstract: "Print the segments and lists a user is in, one name a line, sorted."
    )

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var read: ReadOptions
    @Argument(help: "The user id.") var user: String
    @OptionGroup var past: PastOption
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let atMs = try self.past.instant()
        try await self.connection.withClient { client in
            let names =
                if let atMs {
                    try await client.segments(of: self.user, at: atMs, minSeq: self.read.minSeq)
                } else {
                    try await client.segments(of: self.user, minSeq: self.read.minSeq)
                }
            if self.json {
                Output.json(.array(names.map(JSONValue.string)))
            } else {
                for name in names { Output.line(name) }
            }
        }
    }
}

/// `segclient explain USER SEGMENT`.
struct ExplainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Show why a user is in or out of a segment: every part of the expression and what it saw."
    )

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var read: ReadOptions
    @Argument(help: "The user id.") var user: String
    @Argument(help: "The segment.") var segment: String
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        try await self.connection.withClient { client in
            let response = try await client.explain(self.user, in: self.segment, minSeq: self.read.minSeq)
            if self.json {
                Output.json(
                    .object([
                        ("member", .bool(response.member)), ("now", .string(Output.time(response.nowMs))),
                        ("tree", Self.json(response.root)),
                    ])
                )
            } else {
                Output.line(
                    "\(self.user) is \(response.member ? "in" : "not in") \(self.segment) at \(Output.time(response.nowMs))"
                )
                Self.print(response.root, indent: "  ")
            }
        }
    }

    private static func print(_ node: SegmentsExplanation.Node, indent: String) {
        Output.line("\(indent)\(node.text) → \(node.value)")
        for child in node.children {
            Self.print(child, indent: indent + "  ")
        }
    }

    private static func json(_ node: SegmentsExplanation.Node) -> JSONValue {
        .object([
            ("text", .string(node.text)), ("value", .string(node.value)),
            ("children", .array(node.children.map(Self.json))),
        ])
    }
}

/// `segclient history USER` / `segclient history --segment NAME`.
struct HistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "Print the enter/exit log of a user, or of a segment with --segment."
    )

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The user id.") var user: String?
    @Option(help: "A segment instead of a user.") var segment: String?
    @Option(help: "Only the last N transitions.") var limit = 0
    @Flag(help: "Print NDJSON.") var json = false

    func validate() throws {
        guard (self.user == nil) != (self.segment == nil) else {
            throw ValidationError("give either a user id or --segment NAME")
        }
    }

    func run() async throws {
        try await self.connection.withClient { client in
            let transitions =
                if let user {
                    try await client.history(ofUser: user, limit: self.limit)
                } else {
                    try await client.history(ofSegment: self.segment ?? "", limit: self.limit)
                }
            for transition in transitions {
                if self.json {
                    Output.json(WatchCommand.json(transition))
                } else {
                    let subject = self.user == nil ? transition.userID : transition.segment
                    Output.line("\(Output.time(transition.atMs))  \(transition.kind.rawValue)  \(subject)")
                }
            }
        }
    }
}

/// `segclient watch [SEGMENT...]`.
struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Stream enter/exit transitions as NDJSON, live, resumable with --from.",
        discussion: """
            Each line: {"seq":…,"shard":…,"segment":…,"user":…,"change":"enter"|"exit","at":…,"store_seq":…}. \
            --from SEQ starts at that transition number (of each shard; with several shards give \
            SHARD:SEQ,SHARD:SEQ); without it only new transitions are shown.
            """
    )

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "Segments to watch; none = all.") var segments: [String] = []
    @Option(help: "Transition number to start from (SEQ, or SHARD:SEQ,…).") var from: String?

    func run() async throws {
        let configuration = self.connection.configuration()
        let shards = configuration.evaluatorSocketPaths.count
        var starts = [UInt64](repeating: 0, count: max(shards, 1))
        if let from {
            if let seq = UInt64(from) {
                starts = starts.map { _ in seq }
            } else {
                for part in from.split(separator: ",") {
                    let pieces = part.split(separator: ":")
                    guard pieces.count == 2, let shard = Int(pieces[0]), let seq = UInt64(pieces[1]),
                        starts.indices.contains(shard)
                    else { throw ValidationError("--from '\(from)': expected SEQ or SHARD:SEQ,…") }
                    starts[shard] = seq
                }
            }
        }
        try await self.connection.withClient { client in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for shard in 0..<shards {
                    let start = starts[shard]
                    group.addTask {
                        for try await batch in try await client.watch(
                            segments: self.segments,
                            fromSeq: start,
                            shard: shard
                        ) {
                            for transition in batch {
                                Output.json(Self.json(transition))
                            }
                            // Delivered as they happen, even into a pipe.
                            fflush(nil)
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
    }

    static func json(_ transition: SegmentsTransition) -> JSONValue {
        .object([
            ("seq", .number(Double(transition.seq))), ("shard", .number(Double(transition.shard))),
            ("segment", .string(transition.segment)), ("user", .string(transition.userID)),
            ("change", .string(transition.kind.rawValue)), ("at", .string(Output.time(transition.atMs))),
            ("store_seq", .number(Double(transition.storeSeq))),
        ])
    }
}
