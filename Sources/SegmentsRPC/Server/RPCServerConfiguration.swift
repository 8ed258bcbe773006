import SegmentsWire

/// How an ``RPCServer`` listens and limits its connections.
public struct RPCServerConfiguration: Sendable {
    /// Path of the Unix domain socket to listen on.
    public var socketPath: String
    /// Largest frame accepted, in bytes. Default 16 MiB.
    public var maximumFrameLength: Int
    /// A connection with no call in flight that sends nothing for this long is closed.
    /// Default 5 minutes.
    public var idleTimeout: Duration
    /// File mode of the socket. Default `0o660`: owner and group may connect.
    public var socketMode: UInt32
    /// Most async calls in flight on one connection; more are refused with RESOURCE_EXHAUSTED.
    /// Default 4096.
    public var maximumCallsInFlight: Int
    /// Most connections served at once; a connection beyond it is told RESOURCE_EXHAUSTED (a response frame with
    /// call id 0) and closed. Default 1024.
    public var maximumConnections = 1024
    /// Who may do what, decided when each connection is made. Default: the daemon's own user is admin, everyone else
    /// who can open the socket is reader.
    public var access = RPCAccessControl()
    /// A TCP listener with mutual TLS beside the Unix socket, or `nil` for none. Default none.
    public var tlsListener: RPCTLSListener?

    /// Creates a configuration.
    /// - Parameters:
    ///   - socketPath: the socket to listen on.
    ///   - maximumFrameLength: the frame size limit in bytes.
    ///   - idleTimeout: how long an idle connection is kept.
    ///   - socketMode: the socket's file mode.
    ///   - maximumCallsInFlight: the per-connection limit of concurrent async calls.
    public init(
        socketPath: String,
        maximumFrameLength: Int = FrameDecoder.defaultMaximumFrameLength,
        idleTimeout: Duration = .seconds(300),
        socketMode: UInt32 = 0o660,
        maximumCallsInFlight: Int = 4096
    ) {
        self.socketPath = socketPath
        self.maximumFrameLength = maximumFrameLength
        self.idleTimeout = idleTimeout
        self.socketMode = socketMode
        self.maximumCallsInFlight = maximumCallsInFlight
    }
}

/// A TCP listener with mutual TLS: where it listens, and the daemon's certificate, key and the CA that signs its
/// clients' certificates. A client without such a certificate fails the handshake before any frame is read; one
/// with a certificate gets the role the access file gives its common name (``RPCAccessPolicy``).
public struct RPCTLSListener: Sendable {
    /// The host name or IP address to listen on.
    public var host: String
    /// The TCP port.
    public var port: Int
    /// The daemon's certificate and key, and the CA trusted to sign client certificates.
    public var files: RPCTLSFiles
    /// A connection whose handshake has not completed after this long is closed. Default 10 s.
    public var handshakeTimeout: Duration = .seconds(10)

    /// Creates a listener configuration.
    /// - Parameters:
    ///   - host: the host name or IP address to listen on.
    ///   - port: the TCP port.
    ///   - files: the daemon's certificate and key, and the CA that signs client certificates.
    public init(host: String, port: Int, files: RPCTLSFiles) {
        self.host = host
        self.port = port
        self.files = files
    }
}

extension RPCTLSListener {
    /// The listener a daemon's settings ask for: `nil` when `listen` is not given.
    /// - Parameters:
    ///   - listen: `HOST:PORT` (`--listen-tls`), or `nil` for no TLS listener.
    ///   - certificate: the daemon's certificate chain (`--tls-cert`).
    ///   - key: its private key (`--tls-key`).
    ///   - clientCA: the CA that signs client certificates (`--tls-client-ca`).
    /// - Throws: ``RPCError`` INVALID_ARGUMENT when `listen` is not `HOST:PORT`, when it is given without all three
    ///   files, or when files are given without it.
    public static func fromSettings(
        listen: String?,
        certificate: String?,
        key: String?,
        clientCA: String?
    ) throws(RPCError) -> RPCTLSListener? {
        let files = try RPCTLSFiles.optional(
            certificate: certificate,
            key: key,
            trustedCA: clientCA,
            names: ("--tls-cert", "--tls-key", "--tls-client-ca")
        )
        guard let listen else {
            guard files == nil else {
                throw RPCError(
                    .invalidArgument,
                    "--tls-cert, --tls-key and --tls-client-ca need --listen-tls HOST:PORT"
                )
            }
            return nil
        }
        guard let files else {
            throw RPCError(
                .invalidArgument,
                "--listen-tls needs --tls-cert, --tls-key and --tls-client-ca (mutual TLS: clients must present a "
                    + "certificate signed by that CA)"
            )
        }
        let (host, port) = try RPCAddress.hostAndPort(listen, in: listen)
        return RPCTLSListener(host: host, port: port, files: files)
    }
}
