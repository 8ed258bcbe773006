#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The process at the other end of a Unix socket connection, as the kernel reported it when the connection was made
/// (`SO_PEERCRED`): what access is decided from and what refusals are logged with.
public struct RPCPeer: Sendable, Hashable, CustomStringConvertible {
    /// The connecting process's id.
    public var pid: Int32
    /// Its effective user id.
    public var uid: UInt32
    /// Its effective group id.
    public var gid: UInt32

    /// Creates a peer.
    /// - Parameters:
    ///   - pid: the process id.
    ///   - uid: the effective user id.
    ///   - gid: the effective group id.
    public init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }

    /// `uid 1001 (alice), pid 4242`.
    public var description: String {
        let name = Self.userName(of: self.uid).map { " (\($0))" } ?? ""
        return "uid \(self.uid)\(name), pid \(self.pid)"
    }

    /// The groups the peer's user belongs to in the system's group database, with its effective group: what `group`
    /// rules of an access file match. Read when needed, so a change of membership applies to new connections.
    func groups() -> [UInt32] {
        guard let name = Self.userName(of: self.uid) else { return [self.gid] }
        var count: Int32 = 64
        while true {
            var groups = [gid_t](repeating: 0, count: Int(count))
            let wanted = count
            let found = getgrouplist(name, gid_t(self.gid), &groups, &count)
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
