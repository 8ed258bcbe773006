import ArgumentParser
import Foundation
import SegmentsClient

/// Where the daemons are, shared by every subcommand.
struct ConnectionOptions: ParsableArguments {
    @Option(name: .customLong("store"), help: "The profile store's socket, or tls://HOST:PORT.")
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

    mutating func validate() throws {
        let environment = ProcessInfo.processInfo.environment
        func setting(_ flag: String?, _ variable: String) -> String? {
            flag ?? environment[variable].flatMap { $0.isEmpty ? nil : $0 }
        }
        let given = [
            ("--tls-cert", setting(self.tlsCertificate, "SEGMENTS_TLS_CERT")),
            ("--tls-key", setting(self.tlsKey, "SEGMENTS_TLS_KEY")),
            ("--tls-ca", setting(self.tlsCA, "SEGMENTS_TLS_CA")),
        ]
        let missing = given.filter { $0.1 == nil }.map(\.0)
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
        if self.tlsCertificate != nil || self.tlsKey != nil || self.tlsCA != nil {
            // validate() made sure the three are known, from flags or the environment.
            func setting(_ flag: String?, _ variable: String) -> String {
                flag ?? environment[variable] ?? ""
            }
            configuration.tls = SegmentsClientTLS(
                certificatePath: setting(self.tlsCertificate, "SEGMENTS_TLS_CERT"),
                privateKeyPath: setting(self.tlsKey, "SEGMENTS_TLS_KEY"),
                trustedCAPath: setting(self.tlsCA, "SEGMENTS_TLS_CA")
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
