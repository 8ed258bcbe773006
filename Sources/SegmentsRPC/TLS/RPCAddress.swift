import SegmentsWire

/// Where a daemon is reached: a Unix socket path, or `tls://HOST:PORT` for its TLS listener.
///
/// ```swift
/// try RPCAddress("/run/segments/store.sock")     // .unix(path: "/run/segments/store.sock")
/// try RPCAddress("tls://store-1.internal:7443")  // .tls(host: "store-1.internal", port: 7443)
/// try RPCAddress("tls://[fd00::2]:7443")         // .tls(host: "fd00::2", port: 7443)
/// ```
public enum RPCAddress: Sendable, Hashable, CustomStringConvertible {
    /// A Unix domain socket on this machine.
    case unix(path: String)
    /// A daemon's TLS listener (mutual TLS: the client presents a certificate).
    case tls(host: String, port: Int)

    /// The prefix of TLS addresses.
    public static let tlsScheme = "tls://"

    /// Parses an address: `tls://HOST:PORT` (an IPv6 host in brackets), anything else is a socket path.
    /// - Parameter text: the address.
    /// - Throws: ``RPCError`` INVALID_ARGUMENT for an empty address or a `tls://` address without a host or a port
    ///   in 1–65535.
    public init(_ text: String) throws(RPCError) {
        guard text.hasPrefix(Self.tlsScheme) else {
            guard !text.isEmpty else { throw RPCError(.invalidArgument, "empty address: expected a socket path") }
            self = .unix(path: text)
            return
        }
        let (host, port) = try Self.hostAndPort(String(text.dropFirst(Self.tlsScheme.count)), in: text)
        self = .tls(host: host, port: port)
    }

    /// Splits `HOST:PORT` (`[IPV6]:PORT`).
    /// - Parameters:
    ///   - text: the host and port.
    ///   - whole: what was given, for the error.
    /// - Throws: ``RPCError`` INVALID_ARGUMENT when the host is missing or the port is not in 1–65535.
    public static func hostAndPort(_ text: String, in whole: String) throws(RPCError) -> (host: String, port: Int) {
        let failure = RPCError(
            .invalidArgument,
            "'\(whole)' is not HOST:PORT (a host name or IP address, an IPv6 address in brackets, and a port 1–65535)"
        )
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (1...65535).contains(port)
        else { throw failure }
        var host = String(text[..<colon])
        if host.hasPrefix("[") {
            guard host.hasSuffix("]") else { throw failure }
            host = String(host.dropFirst().dropLast())
        } else if host.contains(":") {
            throw failure
        }
        guard !host.isEmpty else { throw failure }
        return (host, port)
    }

    /// Whether this is a TLS address.
    public var isTLS: Bool {
        if case .tls = self { return true }
        return false
    }

    /// The address as written: the socket path, or `tls://HOST:PORT`.
    public var description: String {
        switch self {
        case .unix(let path): return path
        case .tls(let host, let port): return "\(Self.tlsScheme)\(host.contains(":") ? "[\(host)]" : host):\(port)"
        }
    }
}
