import ArgumentParser
import Foundation
import SegmentsClient
import SegmentsWire

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
    func configuration(environment: [String: String] = ProcessInfo.processInfo.environment)
        -> SegmentsClientConfiguration
    {
        let store =
            self.storeSocket
            ?? environment["SEGMENTS_STORE_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
            ?? Self.defaultPath(DefaultSocketPaths.storeSocketName, environment: environment)
        var evaluators = self.evaluatorSockets
        if evaluators.isEmpty, let variable = environment["SEGMENTS_EVALUATOR_SOCKET"], !variable.isEmpty {
            evaluators = variable.split(separator: ",").map(String.init)
        }
        if evaluators.isEmpty {
            evaluators = [Self.defaultPath(DefaultSocketPaths.evaluatorSocketName(shard: 0), environment: environment)]
        }
        return SegmentsClientConfiguration(storeSocketPath: store, evaluatorSocketPaths: evaluators)
    }

    private static func defaultPath(_ name: String, environment: [String: String]) -> String {
        let system = DefaultSocketPaths.systemDirectory + "/" + name
        if FileManager.default.fileExists(atPath: system) {
            return system
        }
        return DefaultSocketPaths.localDirectory(environment: environment) + "/" + name
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
