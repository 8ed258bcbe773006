import ArgumentParser
import Foundation
import SegmentsClient

/// Where the daemons are, shared by every subcommand.
struct ConnectionOptions: ParsableArguments {
    @Option(
        name: .customLong("store"),
        help: "The profile store's socket, or tls://HOST:PORT; several stores of one database comma-separated."
    )
    var storeSocket: String?

    @Option(
        name: .customLong("evaluator"),
        help: "An evaluator shard's socket (or tls://HOST:PORT); repeat once per shard, in shard order."
    )
    var evaluatorSockets: [String] = []

    @Option(name: .customLong("tls-cert"), help: "Client certificate (PEM) for tls:// addresses; or SEGMENTS_TLS_CERT.")
    var tlsCertificate: String?

    @Option(name: .customLong("tls-key"), help: "The client certificate's private key (PEM); or SEGMENTS_TLS_KEY.")
    var tlsKey: String?

    @Option(
        name: .customLong("tls-ca"),
        help: "The CA that signs the daemons' certificates (PEM); or SEGMENTS_TLS_CA."
    )
    var tlsCA: String?

    /// The three TLS settings, each from its flag or else its environment variable.
    private func tlsSettings(_ environment: [String: String]) -> [(flag: String, value: String?)] {
        func setting(_ flag: String?, _ variable: String) -> String? {
            flag ?? environment[variable].flatMap { $0.isEmpty ? nil : $0 }
        }
        return [
            ("--tls-cert", setting(self.tlsCertificate, "SEGMENTS_TLS_CERT")),
            ("--tls-key", setting(self.tlsKey, "SEGMENTS_TLS_KEY")),
            ("--tls-ca", setting(self.tlsCA, "SEGMENTS_TLS_CA")),
        ]
    }

    mutating func validate() throws {
        let missing = self.tlsSettings(ProcessInfo.processInfo.environment).filter { $0.value == nil }.map(\.flag)
        if missing.count == 1 || missing.count == 2 {
            throw ValidationError(
                "TLS needs a client certificate, its key and the daemons' CA together: \(missing.joined(separator: " and ")) "
                    + "missing (flags or SEGMENTS_TLS_CERT, SEGMENTS_TLS_KEY, SEGMENTS_TLS_CA)"
            )
        }
    }

    /// The client configuration: flags, then environment, then the default locations.
    func configuration(
        environment: [String: String] = ProcessInfo.processInfo.environment
    )
        -> SegmentsClientConfiguration
    {
        var configuration = SegmentsClientConfiguration.defaultLocations(environment: environment)
        if let store = self.storeSocket { configuration.storeSocketPath = store }
        if !self.evaluatorSockets.isEmpty { configuration.evaluatorSocketPaths = self.evaluatorSockets }
        let tls = self.tlsSettings(environment).compactMap(\.value)
        if tls.count == 3 {
            configuration.tls = SegmentsClientTLS(
                certificatePath: tls[0],
                privateKeyPath: tls[1],
                trustedCAPath: tls[2]
            )
        }
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
