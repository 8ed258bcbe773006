#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Exclusive ownership of a socket path, so that two instances never serve the same socket and
/// a socket file left by a crashed instance is replaced.
///
/// Ownership is an advisory `flock` on `<socket>.lock`, held for the life of the process (the
/// kernel releases it when the process dies, even by `kill -9`). Holding it, the owner removes
/// any stale socket file before binding.
struct UnixSocketOwnership: ~Copyable {
    let socketPath: String
    private let lockDescriptor: Int32

    /// Takes ownership of `socketPath`, removing a stale socket file.
    /// - Throws: ``RPCServerError`` with code `socketInUse` when a live process owns the path.
    init(socketPath: String) throws(RPCServerError) {
        let lockPath = socketPath + ".lock"
        let descriptor = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw RPCServerError(.socketUnavailable, "cannot open lock file \(lockPath): \(Self.errorText())")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let busy = errno == EWOULDBLOCK
            let text = Self.errorText()
            close(descriptor)
            if busy {
                throw RPCServerError(.socketInUse, "another running instance owns \(socketPath)")
            }
            throw RPCServerError(.socketUnavailable, "cannot lock \(lockPath): \(text)")
        }
        if unlink(socketPath) != 0, errno != ENOENT {
            let text = Self.errorText()
            close(descriptor)
            throw RPCServerError(.socketUnavailable, "cannot remove stale socket \(socketPath): \(text)")
        }
        self.socketPath = socketPath
        self.lockDescriptor = descriptor
    }

    /// Gives the bound socket its file mode.
    func setMode(_ mode: UInt32) throws(RPCServerError) {
        guard chmod(self.socketPath, mode_t(mode)) == 0 else {
            throw RPCServerError(.socketUnavailable, "cannot set mode of \(self.socketPath): \(Self.errorText())")
        }
    }

    deinit {
        unlink(self.socketPath)
        close(self.lockDescriptor)
    }

    private static func errorText() -> String {
        String(cString: strerror(errno))
    }
}
