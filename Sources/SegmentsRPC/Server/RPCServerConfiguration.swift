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
