import ArgumentParser
import SegmentsRPC
import SegmentsWire

/// The command-line options of a daemon's TLS listener, shared by both daemons: `--listen-tls HOST:PORT`,
/// `--tls-cert`, `--tls-key` and `--tls-client-ca`, each also read from `PREFIX_LISTEN_TLS`, `PREFIX_TLS_CERT`,
/// `PREFIX_TLS_KEY` and `PREFIX_TLS_CLIENT_CA`.
public struct TLSListenerOptions: ParsableArguments {
    @Option(
        name: .customLong("listen-tls"),
        help: "Also listen on HOST:PORT over TCP with mutual TLS (needs --tls-cert, --tls-key, --tls-client-ca)."
    )
    var listen: String?

    @Option(name: .customLong("tls-cert"), help: "The daemon's TLS certificate chain (PEM), for --listen-tls.")
    var certificate: String?

    @Option(name: .customLong("tls-key"), help: "The TLS certificate's private key (PEM), for --listen-tls.")
    var key: String?

    @Option(
        name: .customLong("tls-client-ca"),
        help: "The CA (PEM) that signs client certificates; a client without one is refused at the handshake."
    )
    var clientCA: String?

    /// Creates the options (ArgumentParser fills them in).
    public init() {}

    /// The listener the flags and the environment ask for, `nil` for none.
    /// - Parameters:
    ///   - prefix: the daemon's environment prefix, `PROFILE_STORE` or `SEGMENT_EVALUATOR`.
    ///   - environment: the process environment.
    /// - Throws: `ValidationError` naming what is missing or wrong.
    public func listener(prefix: String, environment: [String: String]) throws -> RPCTLSListener? {
        func setting(_ flag: String?, _ name: String) -> String? {
            flag ?? environment[prefix + "_" + name].flatMap { $0.isEmpty ? nil : $0 }
        }
        do {
            return try RPCTLSListener.fromSettings(
                listen: setting(self.listen, "LISTEN_TLS"),
                certificate: setting(self.certificate, "TLS_CERT"),
                key: setting(self.key, "TLS_KEY"),
                clientCA: setting(self.clientCA, "TLS_CLIENT_CA")
            )
        } catch {
            throw ValidationError(error.message)
        }
    }
}
