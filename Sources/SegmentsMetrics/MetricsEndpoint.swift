/// Where a daemon serves its metrics: a TCP host and port given as `HOST:PORT` (`127.0.0.1:9464`,
/// `[::1]:9464`, `localhost:9464`).
public struct MetricsEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// The address to bind: an IPv4 or IPv6 address, or a host name.
    public var host: String
    public var port: Int

    /// Parses `HOST:PORT`.
    /// - Throws: ``MetricsEndpointError`` naming what is wrong.
    public init(parsing text: String) throws(MetricsEndpointError) {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw MetricsEndpointError(text, "an IPv6 address must be written [ADDRESS]:PORT")
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                throw MetricsEndpointError(text, "expected HOST:PORT, e.g. 127.0.0.1:9464")
            }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            guard !host.contains(":") else {
                throw MetricsEndpointError(text, "an IPv6 address must be written [ADDRESS]:PORT")
            }
        }
        guard !host.isEmpty else { throw MetricsEndpointError(text, "the host is missing") }
        guard let port = Int(portText), (1...65_535).contains(port) else {
            throw MetricsEndpointError(text, "the port must be a number from 1 to 65535")
        }
        self.host = String(host)
        self.port = port
    }

    /// Whether the host is a loopback address (only this machine can connect).
    public var isLoopback: Bool {
        self.host == "localhost" || self.host == "::1" || self.host.hasPrefix("127.")
    }

    public var description: String {
        self.host.contains(":") ? "[\(self.host)]:\(self.port)" : "\(self.host):\(self.port)"
    }
}

/// A metrics address that does not parse.
public struct MetricsEndpointError: Error, CustomStringConvertible {
    /// What is wrong, naming the text given.
    public let message: String

    init(_ text: String, _ reason: String) {
        self.message = "metrics address '\(text)': \(reason)"
    }

    public var description: String { self.message }
}
