import Foundation
import SegmentsClient

/// A tour of the client library against running daemons (`make up`): defines a segment, writes a
/// profile and an event, reads the user's memberships and explains one, then lists the segment's
/// size and last transitions.
///
///     swift run --package-path Examples/quick-tour quick-tour [USER]
@main
struct QuickTour {
    static func main() async {
        let user = CommandLine.arguments.dropFirst().first ?? "tour-user"
        var configuration = SegmentsClientConfiguration.defaultLocations(
            environment: ProcessInfo.processInfo.environment
        )
        configuration.options.requestTimeout = .seconds(5)
        configuration.options.reconnect = .backoff(attempts: 5)
        let client = SegmentsClient(configuration: configuration)
        do {
            try await self.tour(client, user: user)
        } catch {
            print("quick-tour: \(error.message) (\(error.code), \(error.method ?? "no call"))")
        }
        await client.close()
    }

    static func tour(_ client: SegmentsClient, user: String) async throws(SegmentsClientError) {
        let segment = try await client.putSegment(
            "tour_buyers",
            expression: #"count(purchase within 30d) >= 1 and plan != "free""#
        )
        print("segment \(segment.name): \(segment.expression) (change \(segment.updatedSeq))")

        try await client.setProfile(user, ["plan": .string("pro")])
        let write = try await client.track([
            SegmentsEvent(userID: user, name: "purchase", properties: ["amount": .number(42.5)])
        ])
        // Read your write: wait until the evaluator has applied it.
        let (member, since) = try await client.check(user, in: segment.name, minSeq: write.seq)
        print("\(user) in \(segment.name): \(member)\(since.map { " since \($0) ms" } ?? "")")
        print("\(user) is in: \(try await client.segments(of: user).joined(separator: ", "))")

        let explanation = try await client.explain(user, in: segment.name)
        self.printTree(explanation.root, indent: "  ")

        let size = try await client.memberCount(segment.name)
        print("\(segment.name) has \(size) member(s); its last transitions:")
        for transition in try await client.history(ofSegment: segment.name, limit: 5) {
            print("  \(transition.kind) \(transition.userID) at \(transition.atMs)")
        }
    }

    static func printTree(_ node: SegmentsExplanation.Node, indent: String) {
        print("\(indent)\(node.text) → \(node.value)")
        for child in node.children { self.printTree(child, indent: indent + "  ") }
    }
}
