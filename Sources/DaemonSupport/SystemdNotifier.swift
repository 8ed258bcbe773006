#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Tells systemd about the service's state (`sd_notify(3)`): `READY=1` once it serves,
/// `STOPPING=1` when it begins shutting down, `STATUS=…` for `systemctl status`.
///
/// The messages are datagrams sent to the socket named by `$NOTIFY_SOCKET` (an abstract socket
/// when the name starts with `@`). Without that variable — not started by systemd with
/// `Type=notify` — every call does nothing.
public struct SystemdNotifier: Sendable {
    private let socketPath: String?

    /// Reads `$NOTIFY_SOCKET` from the given environment.
    /// - Parameter environment: the process environment.
    public init(environment: [String: String]) {
        self.socketPath = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Tells systemd the service is ready.
    public func ready(status: String? = nil) {
        self.send("READY=1" + (status.map { "\nSTATUS=\($0)" } ?? ""))
    }

    /// Tells systemd the service is stopping.
    public func stopping() {
        self.send("STOPPING=1")
    }

    /// Sends one notification datagram; failures are ignored as `sd_notify` does.
    /// - Parameter message: newline-separated `KEY=VALUE` assignments.
    public func send(_ message: String) {
        guard let socketPath else { return }
        #if os(Linux)
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #else
        let descriptor = socket(AF_UNIX, SOCK_DGRAM, 0)
        #endif
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }

        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var pathBytes = Array(socketPath.utf8)
        if pathBytes.first == UInt8(ascii: "@") {
            pathBytes[0] = 0  // abstract namespace
        }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard pathBytes.count < capacity else { return }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + pathBytes.count)
        let bytes = Array(message.utf8)
        _ = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                sendto(descriptor, bytes, bytes.count, 0, socketAddress, length)
            }
        }
    }
}
