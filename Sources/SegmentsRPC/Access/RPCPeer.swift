import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Who is at the other end of a connection: what access is decided from and what refusals are logged with.
///
/// On the Unix socket that is the connecting process as the kernel reported it when the connection was made
/// (`SO_PEERCRED`); on the TLS listener, the common name of the client certificate the handshake verified, and the
/// client's address.
public struct RPCPeer: Sendable, Hashable, CustomStringConvertible {
    /// How the peer was identified.
    public enum Identity: Sendable, Hashable {
        /// A local process on the Unix socket: its process id, effective user id and effective group id.
        case process(pid: Int32, uid: UInt32, gid: UInt32)
        /// A client of the TLS listener: the common name (CN) of its verified certificate, and its address.
        case certificate(commonName: String, address: String)
    }

    /// How the peer was identified.
    public var identity: Identity

    /// A local process.
    /// - Parameters:
    ///   - pid: the process id.
    ///   - uid: the effective user id.
    ///   - gid: the effective group id.
    public init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.identity = .process(pid: pid, uid: uid, gid: gid)
    }

    /// A TLS client.
    /// - Parameters:
    ///   - commonName: the common name of its verified certificate (empty when the certificate has none).
    ///   - address: where it connected from, `host:port`.
    public init(certificateCommonName commonName: String, address: String) {
        self.identity = .certificate(commonName: commonName, address: address)
    }

    /// The process's effective user id; `nil` for a TLS client.
    public var uid: UInt32? {
        if case .process(_, let uid, _) = self.identity { return uid }
        return nil
    }

    /// The process id; `nil` for a TLS client.
    public var pid: Int32? {
        if case .process(let pid, _, _) = self.identity { return pid }
        return nil
    }

    /// `uid 1001 (alice), pid 4242`, or `certificate CN "reporting" from 10.0.0.2:50312`.
    public var description: String {
        switch self.identity {
        case .process(let pid, let uid, _):
            let name = Self.userName(of: uid).map { " (\($0))" } ?? ""
            return "uid \(uid)\(name), pid \(pid)"
        case .certificate(let commonName, let address):
            return "certificate CN \"\(commonName)\" from \(address)"
        }
    }

    /// Log metadata naming the peer: `uid` and `pid`, or `certificate` and `address`.
    public var logMetadata: Logger.Metadata {
        switch self.identity {
        case .process(let pid, let uid, _):
            return ["uid": "\(uid)", "pid": "\(pid)"]
        case .certificate(let commonName, let address):
            return ["certificate": "\(commonName)", "address": "\(address)"]
        }
    }

    /// The groups a local peer's user belongs to in the system's group database, with its effective group: what
    /// `group` rules of an access file match (none for a TLS client). Read when needed, so a change of membership
    /// applies to new connections.
    func groups() -> [UInt32] {
        guard case .process(_, let uid, let gid) = self.identity else { return [] }
        guard let name = Self.userName(of: uid) else { return [gid] }
        var count: Int32 = 64
        while true {
            var groups = [gid_t](repeating: 0, count: Int(count))
            let wanted = count
            let found = getgrouplist(name, gid_t(gid), &groups, &count)
            if found >= 0 {
                return Array(groups.prefix(Int(count))).map { UInt32($0) }
            }
            // Too small: `count` now holds the size needed (glibc); guard against a libc that does not say.
            count = max(count, wanted * 2)
        }
    }

    /// The name of user `uid` in the password database, if it has one.
    static func userName(of uid: UInt32) -> String? {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getpwuid_r(uid_t(uid), &entry, &buffer, buffer.count, &result) == 0, let result else { return nil }
        return String(cString: result.pointee.pw_name)
    }
}
