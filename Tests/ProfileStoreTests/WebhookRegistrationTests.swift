import ProfileStore
@_spi(SegmentsInternal) import SegmentsClient
import SegmentsTesting
import SegmentsWire
import Testing

/// Webhook registrations in the store: change-log entries, listing without secrets, snapshots.
@Suite struct WebhookRegistrationTests {
    @Test func addListRemoveAreChangeLogWritesAndReadsNeverShowTheSecret() async throws {
        try await withStore { store in
            let client = store.client
            let (first, firstSeq) = try await client.addWebhook(
                url: "https://hooks.example.com/segments?x=1",
                segments: ["vip", "churned", "vip"],
                secret: "top-secret"
            )
            #expect(first.segments == ["vip", "churned"])
            #expect(first.createdSeq == firstSeq)
            let (second, _) = try await client.addWebhook(url: "http://127.0.0.1:9/other", segments: [], secret: "s2")
            #expect(first.id != second.id)
            #expect(try await client.webhooks() == [first, second])

            let removal = try await client.removeWebhook(first.id)
            #expect(try await client.webhooks() == [second])

            let entries = try await readLog(client, fromSeq: firstSeq, count: 3)
            #expect(entries.map(\.seq) == [firstSeq, firstSeq + 1, removal.seq])
            guard case .webhookAdded(let added) = entries[0].change else {
                Issue.record("expected WebhookAdded, got \(String(describing: entries[0].change))")
                return
            }
            #expect(added.webhook.id == first.id)
            #expect(added.webhook.url == "https://hooks.example.com/segments?x=1")
            #expect(added.secret == "top-secret")
            guard case .webhookRemoved(let removed) = entries[2].change else {
                Issue.record("expected WebhookRemoved, got \(String(describing: entries[2].change))")
                return
            }
            #expect(removed.id == first.id)

            var snapshotWebhooks: [Segments_V1_Webhook] = []
            for try await chunk in try await client.snapshot() {
                snapshotWebhooks += chunk.webhooks
            }
            #expect(snapshotWebhooks.map(\.id) == [second.id])
        }
    }

    @Test func anUnknownIdIsNotFoundAndAnEmptyOneInvalid() async throws {
        try await withStore { store in
            #expect(await errorCode { try await store.client.removeWebhook("wh_nope") } == .notFound)
            #expect(await errorCode { try await store.client.removeWebhook("") } == .invalidArgument)
            #expect(
                await errorCode {
                    try await store.client.addWebhook(
                        url: "http://x/" + String(repeating: "a", count: 3000),
                        segments: [],
                        secret: "k"
                    )
                } == .invalidArgument
            )
        }
    }

    /// Found by webhook-fuzz: `http://127.0.0.1:99999/` was accepted, and the evaluator's HTTP client traps on it.
    @Test(arguments: ["http://127.0.0.1:99999/", "http://[::1]:70000/x", "https://example.com:65536/", "http://h:0/"])
    func aPortOutsideOneTo65535IsRefused(_ url: String) {
        do {
            _ = try WebhookValidation.check(url: url, segments: [], secret: "k")
            Issue.record("\(url) was accepted")
        } catch {
            #expect(error.code == .invalidArgument)
            #expect(error.message.contains("the port must be from 1 to 65535"))
        }
    }

    /// Found while fuzzing webhooks: Foundation decodes `%5B%5D` to the host `[]`, which AsyncHTTPClient trims to
    /// nothing and traps on.
    @Test(arguments: ["http://%5B%5D/", "http://%5b%5d:80/x", "http://%5B/", "https://%5D/"])
    func aHostOfOnlyBracketsIsRefused(_ url: String) {
        do {
            _ = try WebhookValidation.check(url: url, segments: [], secret: "k")
            Issue.record("\(url) was accepted")
        } catch {
            #expect(error.code == .invalidArgument)
            #expect(error.message.hasSuffix("no host"))
        }
    }

    @Test func portsFromOneTo65535AndNoPortAreAccepted() throws {
        for url in ["http://127.0.0.1:1/", "http://[::1]:65535/x", "https://example.com/", "http://h:/"] {
            #expect(try WebhookValidation.check(url: url, segments: ["vip", "vip"], secret: "k") == ["vip"])
        }
    }
}
