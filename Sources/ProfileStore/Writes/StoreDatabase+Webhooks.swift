import SegmentsSQL
import SegmentsWire

extension StoreDatabase {
    /// Registers a webhook endpoint: checks the URL, segment names and secret, assigns an id and
    /// logs a `WebhookAdded` entry (which carries the secret for the evaluators that deliver).
    /// - Throws: ``ProfileStoreError`` `invalidArgument` for a bad URL, segment name or secret.
    func addWebhook(
        _ request: Segments_V1_AddWebhookRequest
    ) async throws(ProfileStoreError)
        -> Segments_V1_AddWebhookResponse
    {
        let segments = try WebhookValidation.check(
            url: request.url,
            segments: request.segments,
            secret: request.secret
        )
        let url = request.url
        let secret = request.secret
        return try await self.writer.write { transaction in
            let connection = transaction.connection
            var id = Self.newWebhookID()
            while try Self.webhook(id: id, in: connection) != nil {
                id = Self.newWebhookID()
            }
            let seq = transaction.nextSeq
            let insert = try connection.cachedStatement(
                "INSERT INTO webhooks(id, url, segments, secret, created_seq) VALUES (?, ?, ?, ?, ?)"
            )
            try insert.bind(id, at: 1)
            try insert.bind(url, at: 2)
            try insert.bind(segments.joined(separator: ","), at: 3)
            try insert.bind(secret, at: 4)
            try insert.bind(Int64(seq), at: 5)
            try insert.execute()
            var webhook = Segments_V1_Webhook()
            webhook.id = id
            webhook.url = url
            webhook.segments = segments
            webhook.createdSeq = seq
            var entry = Segments_V1_ChangeEntry()
            entry.webhookAdded.webhook = webhook
            entry.webhookAdded.secret = secret
            var response = Segments_V1_AddWebhookResponse()
            response.seq = try transaction.appendLog(&entry)
            response.webhook = webhook
            return response
        }
    }

    /// Every registered webhook, by creation, without secrets.
    func listWebhooks() async throws(ProfileStoreError) -> [Segments_V1_Webhook] {
        try await self.readers.read { connection in
            try Self.allWebhooks(in: connection)
        }
    }

    /// Removes a webhook and logs a `WebhookRemoved` entry; the evaluators stop delivering to it.
    /// - Throws: ``ProfileStoreError`` `notFound` for an unknown id.
    func removeWebhook(_ id: String) async throws(ProfileStoreError) -> Segments_V1_WriteResponse {
        guard !id.isEmpty else {
            throw ProfileStoreError(.invalidArgument, "webhook id is empty")
        }
        return try await self.writer.write { transaction in
            let connection = transaction.connection
            guard try Self.webhook(id: id, in: connection) != nil else {
                throw ProfileStoreError(.notFound, "no webhook '\(id)'")
            }
            let delete = try connection.cachedStatement("DELETE FROM webhooks WHERE id = ?")
            try delete.bind(id, at: 1)
            try delete.execute()
            var entry = Segments_V1_ChangeEntry()
            entry.webhookRemoved.id = id
            var response = Segments_V1_WriteResponse()
            response.seq = try transaction.appendLog(&entry)
            response.accepted = 1
            return response
        }
    }

    /// `wh_` and 16 random hexadecimal digits.
    private static func newWebhookID() -> String {
        "wh_" + Self.randomHexDigits()
    }

    // MARK: - Reading

    static func allWebhooks(in connection: any SQLConnection) throws -> [Segments_V1_Webhook] {
        let select = try connection.cachedStatement(
            "SELECT id, url, segments, created_seq FROM webhooks ORDER BY created_seq"
        )
        defer { select.reset() }
        var webhooks: [Segments_V1_Webhook] = []
        while try select.step() {
            webhooks.append(Self.webhook(from: select))
        }
        return webhooks
    }

    private static func webhook(id: String, in connection: any SQLConnection) throws -> Segments_V1_Webhook? {
        let select = try connection.cachedStatement(
            "SELECT id, url, segments, created_seq FROM webhooks WHERE id = ?"
        )
        defer { select.reset() }
        try select.bind(id, at: 1)
        return try select.step() ? Self.webhook(from: select) : nil
    }

    private static func webhook(from row: any SQLStatement) -> Segments_V1_Webhook {
        var webhook = Segments_V1_Webhook()
        webhook.id = row.string(at: 0)
        webhook.url = row.string(at: 1)
        let segments = row.string(at: 2)
        webhook.segments = segments.isEmpty ? [] : segments.split(separator: ",").map(String.init)
        webhook.createdSeq = UInt64(row.int64(at: 3))
        return webhook
    }
}
