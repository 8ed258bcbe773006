import SegmentsClient

/// How the console runs: the daemons it shows, where it listens, and the token that guards it.
public struct ConsoleConfiguration: Sendable {
    /// The daemons (store socket, evaluator shard sockets).
    public var client: SegmentsClientConfiguration
    /// The address to listen on; port 0 picks a free one.
    public var host: String
    public var port: Int
    /// The access token: a browser sends it once on the login page and then carries a cookie derived from it;
    /// scripts send `Authorization: Bearer TOKEN`.
    public var token: String
    /// Most live feeds (browsers watching a segment's transitions) served at once; more are refused with 503.
    public var maximumLiveFeeds = 32
    /// Transitions read back for a size-over-time chart.
    public var chartTransitions = 2000

    public init(client: SegmentsClientConfiguration, host: String, port: Int, token: String) {
        self.client = client
        self.host = host
        self.port = port
        self.token = token
    }
}
