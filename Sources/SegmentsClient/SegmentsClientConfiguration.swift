import Logging
import NIOCore
import SegmentsWire

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a ``SegmentsClient`` finds the daemons, and how it talks to them.
///
/// ```swift
/// var configuration = SegmentsClientConfiguration.defaultLocations(environment: ProcessInfo.processInfo.environment)
/// configuration.options.requestTimeout = .seconds(2)
/// configuration.options.reconnect = .backoff(attempts: 5)
/// configuration.logger = Logger(label: "my-app.segments")
/// let client = SegmentsClient(configuration: configuration)
/// ```
public struct SegmentsClientConfiguration: Sendable {
    /// How connections are opened and calls are bounded.
    public struct Options: Sendable {
        /// How long opening a connection may take; a call whose connection is not open by then fails with
        /// `unavailable`. Default 5 s.
        public var connectTimeout: Duration
        /// How long a unary call may wait for its response; then it fails with `deadlineExceeded`, the daemon is
        /// told to cancel it, and a late response is dropped. `nil` (the default): no limit of the client's own
        /// (a read waiting for a write, `minSeq`, is bounded by the daemon). Streams (`watch`, `members`,
        /// `history`) are not bounded by it.
        public var requestTimeout: Duration?
        /// What a call does when its daemon's connection cannot be opened. Default ``ReconnectPolicy/never``.
        public var reconnect: ReconnectPolicy
        /// Largest response frame accepted. Default 16 MiB.
        public var maximumFrameLength: Int

        public init(
            connectTimeout: Duration = .seconds(5),
            requestTimeout: Duration? = nil,
            reconnect: ReconnectPolicy = .never,
            maximumFrameLength: Int = FrameDecoder.defaultMaximumFrameLength
        ) {
            self.connectTimeout = connectTimeout
            self.requestTimeout = requestTimeout
            self.reconnect = reconnect
            self.maximumFrameLength = maximumFrameLength
        }
    }

    /// How often, and how patiently, a call tries to open its daemon's connection: the connection opens on first
    /// use and again on the first call after it closed (a daemon restarted, say).
    public struct ReconnectPolicy: Sendable, Hashable {
        /// Connects tried by one call, the first included (at least 1).
        public var attempts: Int
        /// The wait before the second attempt; each next wait doubles, up to ``maximumDelay``.
        public var initialDelay: Duration
        /// The longest wait between two attempts.
        public var maximumDelay: Duration

        public init(attempts: Int, initialDelay: Duration, maximumDelay: Duration) {
            self.attempts = max(1, attempts)
            self.initialDelay = initialDelay
            self.maximumDelay = maximumDelay
        }

        /// One attempt: a call fails at once when its daemon is not there (what `segclient` does).
        public static let never = ReconnectPolicy(attempts: 1, initialDelay: .zero, maximumDelay: .zero)

        /// Up to `attempts` connects with waits of 50 ms, 100 ms, 200 ms, … (at most `maximumDelay`) in between:
        /// rides out a daemon restart. Calls that share the connection wait for the same attempts.
        public static func backoff(
            attempts: Int,
            initialDelay: Duration = .milliseconds(50),
            maximumDelay: Duration = .seconds(2)
        ) -> ReconnectPolicy {
            ReconnectPolicy(attempts: attempts, initialDelay: initialDelay, maximumDelay: maximumDelay)
        }

        /// The wait before attempt `attempt` (2 for the second).
        func delay(before attempt: Int) -> Duration {
            var delay = self.initialDelay
            for _ in 2..<max(2, attempt) where delay < self.maximumDelay { delay *= 2 }
            return min(delay, self.maximumDelay)
        }
    }

    /// The profile store's socket, or its TLS listener as `tls://HOST:PORT`; or several stores of one PostgreSQL
    /// database, comma-separated: calls go to the writer (a standby's refusal names it), a store that cannot be
    /// reached is skipped.
    public var storeSocketPath: String
    /// The evaluators' sockets (or `tls://HOST:PORT` addresses), one per shard in shard order (shard `i` at index
    /// `i`).
    public var evaluatorSocketPaths: [String]
    /// The client certificate for `tls://` addresses; `nil`: none (only sockets can be reached).
    public var tls: SegmentsClientTLS?
    /// Timeouts, reconnects and frame size.
    public var options: Options
    /// Where the client reports connects, failed connects and reconnect attempts (at `debug`, failures that end a
    /// call at `info`). `nil` (the default): the client logs nothing.
    public var logger: Logger?
    /// The event loops the connections run on. `nil` (the default): SwiftNIO's shared
    /// `MultiThreadedEventLoopGroup.singleton`.
    public var eventLoopGroup: (any EventLoopGroup)?

    /// Creates a configuration.
    /// - Parameters:
    ///   - storeSocketPath: the store's socket (or `tls://HOST:PORT`); several stores of one PostgreSQL database
    ///     comma-separated, of which the client follows the writer.
    ///   - evaluatorSocketPaths: the evaluator shards' sockets, in shard order.
    ///   - options: timeouts, reconnects and frame size.
    ///   - logger: where the client logs its connections; `nil`: nowhere.
    ///   - eventLoopGroup: the event loops to use; `nil`: SwiftNIO's shared one.
    public init(
        storeSocketPath: String,
        evaluatorSocketPaths: [String] = [],
        options: Options = Options(),
        logger: Logger? = nil,
        eventLoopGroup: (any EventLoopGroup)? = nil
    ) {
        self.storeSocketPath = storeSocketPath
        self.evaluatorSocketPaths = evaluatorSocketPaths
        self.options = options
        self.logger = logger
        self.eventLoopGroup = eventLoopGroup
    }

    /// Where the daemons are when nothing else says: the store at `SEGMENTS_STORE_SOCKET` and the evaluator shards at
    /// `SEGMENTS_EVALUATOR_SOCKET` (comma-separated, in shard order) when set; otherwise the sockets the systemd
    /// units create under `/run/segments` when they exist, else those of a local `make up` under
    /// `$XDG_RUNTIME_DIR/segments` (or `/tmp/segments`), with one evaluator shard. The client certificate for
    /// `tls://` addresses is `SEGMENTS_TLS_CERT`, `SEGMENTS_TLS_KEY` and `SEGMENTS_TLS_CA` when all three are set.
    /// `segclient` uses the same rules.
    /// - Parameter environment: the process environment.
    public static func defaultLocations(environment: [String: String]) -> SegmentsClientConfiguration {
        func located(_ name: String) -> String {
            let system = DefaultSocketPaths.systemDirectory + "/" + name
            return access(system, F_OK) == 0
                ? system : DefaultSocketPaths.localDirectory(environment: environment) + "/" + name
        }
        func variable(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        var configuration = SegmentsClientConfiguration(
            storeSocketPath: variable("SEGMENTS_STORE_SOCKET") ?? located(DefaultSocketPaths.storeSocketName),
            evaluatorSocketPaths: variable("SEGMENTS_EVALUATOR_SOCKET")?.split(separator: ",").map(String.init)
                ?? [located(DefaultSocketPaths.evaluatorSocketName(shard: 0))]
        )
        if let certificate = variable("SEGMENTS_TLS_CERT"), let key = variable("SEGMENTS_TLS_KEY"),
            let trustedCA = variable("SEGMENTS_TLS_CA")
        {
            configuration.tls = SegmentsClientTLS(
                certificatePath: certificate,
                privateKeyPath: key,
                trustedCAPath: trustedCA
            )
        }
        return configuration
    }
}

/// The client's side of mutual TLS, for daemons reached at `tls://HOST:PORT`: its certificate chain and private key
/// (PEM files), and the certificate authority that signs the daemons' certificates. The daemon's certificate must
/// name the host (or IP address) in the address.
public struct SegmentsClientTLS: Sendable, Hashable {
    /// The client's certificate chain, leaf first (PEM).
    public var certificatePath: String
    /// The leaf certificate's private key (PEM).
    public var privateKeyPath: String
    /// The CA (or CAs) that sign the daemons' certificates (PEM).
    public var trustedCAPath: String

    /// Names the files.
    /// - Parameters:
    ///   - certificatePath: the client's certificate chain, leaf first.
    ///   - privateKeyPath: its private key.
    ///   - trustedCAPath: the CAs that sign the daemons' certificates.
    public init(certificatePath: String, privateKeyPath: String, trustedCAPath: String) {
        self.certificatePath = certificatePath
        self.privateKeyPath = privateKeyPath
        self.trustedCAPath = trustedCAPath
    }
}
