import ArgumentParser
import Foundation
import SegmentsClient
import SegmentsJSON
import SegmentsNDJSON

/// `segclient webhook add|list|remove`.
struct WebhookCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webhook",
        abstract: "Register HTTP endpoints that receive every enter/exit, signed (see docs/webhooks.md).",
        subcommands: [Add.self, List.self, Remove.self]
    )
}

extension WebhookCommand {
    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register an endpoint; prints its id.",
            discussion: """
                Example: segclient webhook add https://hooks.example.com/segments --segments vip,churned --secret "$SECRET"
                Every enter/exit of those segments (all segments without --segments) is POSTed as JSON, \
                signed with X-Segments-Signature: sha256=<hex HMAC-SHA256(secret, body)>.
                """
        )

        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "An http or https URL.") var url: String
        @Option(help: "Comma-separated segment or list names; default all.") var segments: String?
        @Option(help: "The signing secret.") var secret: String?
        @Option(name: .customLong("secret-file"), help: "Read the signing secret from this file ('-' for stdin).")
        var secretFile: String?
        @Flag(help: "Print the registration as JSON.") var json = false

        func validate() throws {
            guard (self.secret == nil) != (self.secretFile == nil) else {
                throw ValidationError("give the signing secret with exactly one of --secret and --secret-file")
            }
        }

        func run() async throws {
            let secret = try self.readSecret()
            let segments = (self.segments ?? "").split(separator: ",", omittingEmptySubsequences: true).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            try await self.connection.withClient { client in
                let (webhook, seq) = try await client.addWebhook(url: self.url, segments: segments, secret: secret)
                if self.json {
                    Output.json(
                        .object(WebhookCommand.fields(webhook) + [("seq", .number(Double(seq)))])
                    )
                } else {
                    Output.line(webhook.id)
                }
            }
        }

        private func readSecret() throws -> String {
            if let secret = self.secret { return secret }
            guard let path = self.secretFile else { return "" }
            let data: Data
            if path == "-" {
                data = FileHandle.standardInput.readDataToEndOfFile()
            } else {
                guard let contents = FileManager.default.contents(atPath: path) else {
                    throw ValidationError("cannot read the secret file \(path)")
                }
                data = contents
            }
            // A trailing newline (as `echo` writes) is not part of the secret.
            var text = String(decoding: data, as: UTF8.self)
            while text.hasSuffix("\n") || text.hasSuffix("\r") { text.removeLast() }
            return text
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List endpoints with their delivery state: position, backlog, last error, next retry.",
            discussion: """
                DELIVERED is the last transition number acknowledged, per evaluator shard (shard:seq \
                with several shards); PENDING the transitions not yet delivered (the lag).
                """
        )

        @OptionGroup var connection: ConnectionOptions
        @Flag(help: "Print JSON (an array).") var json = false

        func run() async throws {
            try await self.connection.withClient { client in
                let statuses = try await client.webhookStatuses()
                if self.json {
                    Output.json(.array(statuses.map(WebhookCommand.json)))
                    return
                }
                var rows = [["ID", "URL", "SEGMENTS", "DELIVERED", "PENDING", "LAST ERROR", "NEXT RETRY"]]
                let sharded = client.configuration.evaluatorSocketPaths.count > 1
                for status in statuses {
                    let deliveries = status.deliveries
                    let failing = deliveries.filter { $0.lastError != nil }
                    let delivered = deliveries.map { sharded ? "\($0.shard):\($0.deliveredSeq)" : "\($0.deliveredSeq)" }
                    let errors = failing.map { delivery in
                        let text = "\(delivery.lastError ?? "") (\(delivery.failedAttempts)x)"
                        return sharded ? "\(delivery.shard): \(text)" : text
                    }
                    let nextRetry = failing.compactMap(\.nextAttemptAtMs).min()
                    rows.append([
                        status.webhook.id,
                        status.webhook.url,
                        status.webhook.segments.isEmpty ? "(all)" : status.webhook.segments.joined(separator: ","),
                        deliveries.isEmpty ? "-" : delivered.joined(separator: " "),
                        deliveries.isEmpty ? "-" : "\(status.pending)",
                        errors.isEmpty ? "-" : errors.joined(separator: "; "),
                        nextRetry.map(Output.time) ?? "-",
                    ])
                }
                for line in WebhookCommand.table(rows) { Output.line(line) }
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove an endpoint; delivery to it stops.")

        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The webhook id, as `webhook add` printed it.") var id: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await self.connection.withClient { client in
                let result = try await client.removeWebhook(self.id)
                if self.json {
                    Output.json(.object([("id", .string(self.id)), ("seq", .number(Double(result.seq)))]))
                } else {
                    Output.line("\(self.id): removed (seq \(result.seq))")
                }
            }
        }
    }

    // MARK: - Output

    static func fields(_ webhook: SegmentsWebhook) -> [(key: String, value: JSONValue)] {
        [
            ("id", .string(webhook.id)),
            ("url", .string(webhook.url)),
            ("segments", .array(webhook.segments.map(JSONValue.string))),
            ("created_seq", .number(Double(webhook.createdSeq))),
        ]
    }

    static func json(_ status: SegmentsWebhookStatus) -> JSONValue {
        func time(_ ms: Int64?) -> JSONValue {
            ms.map { .string(Output.time($0)) } ?? .null
        }
        let deliveries: [JSONValue] = status.deliveries.map { delivery in
            .object([
                ("shard", .number(Double(delivery.shard))),
                ("delivered_seq", .number(Double(delivery.deliveredSeq))),
                ("pending", .number(Double(delivery.pending))),
                ("delivered_count", .number(Double(delivery.deliveredCount))),
                ("failed_attempts", .number(Double(delivery.failedAttempts))),
                ("last_error", delivery.lastError.map(JSONValue.string) ?? .null),
                ("last_error_at", time(delivery.lastErrorAtMs)),
                ("next_attempt_at", time(delivery.nextAttemptAtMs)),
                ("last_delivered_at", time(delivery.lastDeliveredAtMs)),
            ])
        }
        return .object(
            Self.fields(status.webhook) + [
                ("pending", .number(Double(status.pending))),
                ("deliveries", .array(deliveries)),
            ]
        )
    }

    /// Rows as left-aligned columns separated by two spaces.
    static func table(_ rows: [[String]]) -> [String] {
        var widths: [Int] = []
        for row in rows {
            for (index, cell) in row.enumerated() {
                if index == widths.count { widths.append(0) }
                widths[index] = max(widths[index], cell.count)
            }
        }
        return rows.map { row in
            var line = ""
            for (index, cell) in row.enumerated() {
                if index == row.count - 1 {
                    line += cell
                } else {
                    line += cell + String(repeating: " ", count: widths[index] - cell.count + 2)
                }
            }
            return line
        }
    }
}
