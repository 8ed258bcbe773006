import ArgumentParser
import Foundation
import SegmentsClient

/// Where the daemons are, shared by every subcommand.
struct ConnectionOptions: ParsableArguments {
    @Option(name: .customLong("store"), help: "The profile store's socket.")
    var storeSocket: String?

    @Option(
        name: .customLong("evaluator"),
        help: "An evaluator shard's socket; repeat once per shard, in shard order."
    )
    var evaluatorSockets: [String] = []

    /// The client configuration: flags, then environment, then the default locations.
    func configuration(
        environment: [String: String] = ProcessInfo.processInfo.environment
    )
        -> SegmentsClientConfiguration
    {
        var configuration = SegmentsClientConfiguration.defaultLocations(environment: environment)
        if let store = self.storeSocket { configuration.storeSocketPath = store }
        if !self.evaluatorSockets.isEmpty { configuration.evaluatorSocketPaths = self.evaluatorSockets }
        return configuration
    }

    /// Runs `body` with a client, reporting client errors as `segclient: message` and exit 1.
    func withClient(_ body: (SegmentsClient) async throws -> Void) async throws {
        let client = SegmentsClient(configuration: self.configuration())
        do {
            try await body(client)
            await client.close()
        } catch let error as SegmentsClientError {
            await client.close()
            Output.error(error.message)
            throw ExitCode(Output.exitCode(for: error))
        } catch {
            await client.close()
            throw error
        }
    }
}
