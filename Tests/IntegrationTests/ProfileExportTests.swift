import Foundation
import SegmentsTesting
import Testing

/// `segclient profile export` gives everything held about a user, and `profile delete` removes all of it: the
/// export is refused afterwards, and no membership, history or size series names the user, also after the
/// evaluator restarts.
@Suite(.serialized) struct ProfileExportTests {
    static let user = "alice-7f3c@example.com"

    @Test func exportHoldsEverythingAndNothingIsLeftAfterDelete() async throws {
        try await WebhookReceiver.with { receiver in
            try await DaemonPair.with { pair in
                func ok(_ arguments: [String], input: String? = nil) async throws -> String {
                    try await pair.segclientOK(arguments, input: input)
                }
                let user = Self.user
                _ = try await ok(["segment", "create", "pro", #"plan = "pro""#])
                _ = try await ok(["list", "create", "vip"])
                _ = try await ok(["trait", "create", "spent", "sum(purchase.amount)"])
                _ = try await ok(["trait", "create", "age_next", "age + 1"])
                _ = try await ok(["webhook", "add", receiver.url(), "--segments", "pro", "--secret", "k"])
                _ = try await ok(["profile", "set", user, #"{"plan":"pro","age":34}"#])
                _ = try await ok(["profile", "set", "bob", #"{"plan":"pro"}"#])
                _ = try await ok(["track", user, "purchase", "--props", #"{"amount":42.5}"#, "--id", "e-1"])
                // More events than one page of the store's listing (1,000), in several change-log entries.
                let lines = (0..<1200).map { index in
                    #"{"user":"\#(user)","event":"view","at":"2026-10-\#(String(format: "%02d", 1 + index / 100))T00:00:\#(String(format: "%02d", index % 60))Z"}"#
                }
                _ = try await ok(["import", "events", "-", "--batch", "500"], input: lines.joined(separator: "\n"))
                _ = try await ok(["list", "add", "vip", user])
                // The webhook has delivered the user's entry into "pro".
                for _ in 0..<200 where !receiver.requests.contains(where: { $0.text.contains(user) }) {
                    try await Task.sleep(for: .milliseconds(25))
                }

                let export = try Self.object(try await ok(["profile", "export", user]))
                #expect(export["user"] as? String == user)
                let attributes = export["attributes"] as? [String: Any]
                #expect(attributes?["plan"] as? String == "pro")
                #expect((attributes?["age"] as? NSNumber)?.intValue == 34)
                let events = export["events"] as? [[String: Any]] ?? []
                #expect(events.count == 1201)
                // In the order they were stored: the purchase first, then the import's lines in order.
                #expect(events.first?["event"] as? String == "purchase")
                #expect(events.first?["id"] as? String == "e-1")
                #expect(events.dropFirst().first?["at"] as? String == "2026-10-01T00:00:00Z")
                #expect(events.last?["at"] as? String == "2026-10-12T00:00:59Z")
                #expect(export["segments"] as? [String] == ["pro"])
                #expect(export["lists"] as? [String] == ["vip"])
                let traits = export["traits"] as? [String: Any]
                #expect((traits?["spent"] as? NSNumber)?.doubleValue == 42.5)
                #expect((traits?["age_next"] as? NSNumber)?.intValue == 35)
                let history = export["history"] as? [[String: Any]] ?? []
                #expect(history.contains { $0["segment"] as? String == "pro" && $0["change"] as? String == "enter" })
                let deliveries = export["webhook_deliveries"] as? [[String: Any]] ?? []
                #expect(deliveries.count == 1)
                #expect(deliveries.first?["url"] as? String == receiver.url())
                let carried = deliveries.first?["transitions"] as? [[String: Any]] ?? []
                #expect(carried.map { $0["segment"] as? String } == ["pro"])

                _ = try await ok(["profile", "delete", user])
                try await Self.expectNothingLeft(pair, about: user)
                try await pair.restartEvaluator(crash: false)
                try await Self.expectNothingLeft(pair, about: user)
                try await pair.restartEvaluator(crash: true)
                try await Self.expectNothingLeft(pair, about: user)
                // The others' data is untouched.
                #expect(try await ok(["members", "pro"]) == "bob\n")
                #expect(try await ok(["size", "pro", "--every", "1m", "--json"]).hasSuffix(#""size":1}"# + "\n"))
            }
        }
    }

    /// No read of either daemon names `user` any more.
    private static func expectNothingLeft(
        _ pair: DaemonPair,
        about user: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let export = try await pair.segclient(["profile", "export", user])
        #expect(export.status == 3, "\(export.stdout)", sourceLocation: sourceLocation)
        #expect(try await pair.segclient(["profile", "events", user]).status == 3, sourceLocation: sourceLocation)
        let history = try await pair.segclient(["history", user])
        #expect(!history.stdout.contains(user), sourceLocation: sourceLocation)
        let everything = [
            try await pair.segclientOK(["history", "--segment", "pro"]),
            try await pair.segclientOK(["history", "--segment", "vip"]),
            try await pair.segclientOK(["members", "pro"]), try await pair.segclientOK(["list", "members", "vip"]),
            try await pair.segclientOK(["members", "pro", "--at", "2026-11-01T00:00:00Z"]),
        ]
        for text in everything {
            #expect(!text.contains(user), "\(text)", sourceLocation: sourceLocation)
        }
        // The enter and the deletion's exit keep their places in the log, under a token.
        #expect(everything[0].contains("erased-"), "\(everything[0])", sourceLocation: sourceLocation)
    }

    private static func object(_ text: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] ?? [:]
    }
}
