import ArgumentParser
import DaemonSupport
import Foundation
import Logging
import SegmentsClient
import SegmentsConsole

/// `segments-console`: the web console over the store and the evaluators.
@main
struct SegmentsConsoleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "segments-console",
        abstract: "The Segments web console: segments, sizes over time, live transitions, users, an expression editor.",
        discussion: """
            The console requires an access token (--token or --token-file). A browser signs in with it once on \
            /login and keeps a cookie; scripts send "Authorization: Bearer TOKEN". The daemons are found as \
            segclient finds them (--store, --evaluator, $SEGMENTS_STORE_SOCKET, $SEGMENTS_EVALUATOR_SOCKET, the \
            default locations).
            """,
        version: "0.1.0"
    )

    @Option(help: "The profile store's socket.") var store: String?
    @Option(help: "An evaluator shard's socket; repeat once per shard, in shard order.") var evaluator: [String] = []
    @Option(help: "Address to listen on, HOST:PORT (port 0 picks a free one).") var listen = "127.0.0.1:8080"
    @Option(help: "The access token.") var token: String?
    @Option(name: .customLong("token-file"), help: "A file whose first line is the access token.") var tokenFile:
        String?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    mutating func run() async throws {
        guard let level = Logger.Level(rawValue: self.logLevel) else {
            throw ValidationError("unknown log level '\(self.logLevel)'")
        }
        let token = try self.accessToken()
        guard let colon = self.listen.lastIndex(of: ":"),
            let port = Int(self.listen[self.listen.index(after: colon)...]),
            (0...65_535).contains(port), colon > self.listen.startIndex
        else {
            throw ValidationError("--listen '\(self.listen)' must be HOST:PORT, e.g. 127.0.0.1:8080")
        }
        let host = String(self.listen[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        var client = SegmentsClientConfiguration.defaultLocations(environment: ProcessInfo.processInfo.environment)
        if let store = self.store { client.storeSocketPath = store }
        if !self.evaluator.isEmpty { client.evaluatorSocketPaths = self.evaluator }
        client.options.requestTimeout = .seconds(10)
        let logger = DaemonLogging.bootstrap(label: "segments-console", level: level)
        let notifier = SystemdNotifier(environment: ProcessInfo.processInfo.environment)
        let server = ConsoleServer(
            configuration: ConsoleConfiguration(client: client, host: host, port: port, token: token),
            logger: logger
        ) { port in
            notifier.ready(status: "serving on \(host):\(port)")
        }
        guard await DaemonRunner.run(server, notifier: notifier, logger: logger) else {
            throw ExitCode(1)
        }
    }

    /// The token from `--token` or the first line of `--token-file`; required, at least 16 characters.
    private func accessToken() throws -> String {
        var token = self.token
        if let path = self.tokenFile {
            guard token == nil else { throw ValidationError("give --token or --token-file, not both") }
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ValidationError("--token-file '\(path)' cannot be read")
            }
            token = text.split(whereSeparator: \.isNewline).first.map(String.init)
        }
        guard let token, !token.isEmpty else {
            throw ValidationError("an access token is required: --token TOKEN or --token-file FILE")
        }
        guard token.count >= 16 else {
            throw ValidationError("the access token must be at least 16 characters long")
        }
        return token
    }
}
