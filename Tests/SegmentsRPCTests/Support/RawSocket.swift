import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Runs blocking `work` on a thread of its own, so it never occupies a cooperative-pool thread.
func offThePool<Result: Sendable>(_ work: @escaping @Sendable () -> Result) async -> Result {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: work()) }.start()
    }
}

/// A blocking Unix-socket client written straight on the C socket API, so a test can send bytes
/// no well-behaved client would.
///
/// Its reads block, so tests run them through ``offThePool(_:)``: the cooperative thread pool is
/// small and the server's async handlers need it.
final class RawSocket: @unchecked Sendable {
    // @unchecked: used by one thread at a time; the descriptor is immutable.

    /// How a read loop ended.
    enum Ending: Equatable, CustomStringConvertible {
        /// The server closed the connection (EOF, or a reset because it dropped unread input).
        case closed
        /// Nothing arrived within the receive timeout; the connection is still open.
        case timedOut
        /// Some other error, with its errno.
        case failed(Int32)

        var description: String {
            switch self {
            case .closed: "closed"
            case .timedOut: "timed out"
            case .failed(let code): "failed: \(String(cString: strerror(code)))"
            }
        }
    }

    private let descriptor: Int32

    /// Connects to `path`; every read gives up after `receiveTimeout`.
    init(path: String, receiveTimeout: Duration = .seconds(5)) throws {
        self.descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard self.descriptor >= 0 else { throw TestFailure("socket: \(Self.errnoText())") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(self.descriptor)
            throw TestFailure("socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count)
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(self.descriptor, $0, length) }
        }
        guard connected == 0 else {
            let text = Self.errnoText()
            close(self.descriptor)
            throw TestFailure("connect \(path): \(text)")
        }
        let (seconds, attoseconds) = receiveTimeout.components
        var timeout = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
        setsockopt(self.descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit {
        close(self.descriptor)
    }

    /// Writes all of `bytes`; `false` if the server has already closed the connection.
    @discardableResult
    func write(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { raw in
                send(self.descriptor, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL))
            }
            if written < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += written
        }
        return true
    }

    /// Closes the sending direction, as a client does that has nothing more to say.
    func shutdownWrite() {
        shutdown(self.descriptor, Int32(SHUT_WR))
    }

    /// Reads exactly `count` bytes; `nil` if the connection ends or times out first.
    func read(count: Int) -> [UInt8]? {
        var result: [UInt8] = []
        while result.count < count {
            var chunk = [UInt8](repeating: 0, count: count - result.count)
            let received = chunk.withUnsafeMutableBytes { recv(self.descriptor, $0.baseAddress, $0.count, 0) }
            if received < 0, errno == EINTR { continue }
            guard received > 0 else { return nil }
            result.append(contentsOf: chunk[0..<received])
        }
        return result
    }

    /// Reads one length-prefixed frame's payload.
    func readFrame() -> [UInt8]? {
        guard let header = self.read(count: 4) else { return nil }
        let length = header.reduce(0) { $0 << 8 | Int($1) }
        return self.read(count: length)
    }

    /// Reads and discards until the connection ends or a read times out.
    /// - Returns: how it ended and how many bytes arrived before that.
    func drainUntilEnd() -> (ending: Ending, bytes: Int) {
        var total = 0
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let received = chunk.withUnsafeMutableBytes { recv(self.descriptor, $0.baseAddress, $0.count, 0) }
            if received > 0 {
                total += received
                continue
            }
            if received == 0 { return (.closed, total) }
            switch errno {
            case EINTR: continue
            case ECONNRESET: return (.closed, total)
            case EAGAIN, EWOULDBLOCK: return (.timedOut, total)
            case let code: return (.failed(code), total)
            }
        }
    }

    private static func errnoText() -> String {
        String(cString: strerror(errno))
    }
}

extension [UInt8] {
    /// `payload` behind a 4-byte big-endian length prefix.
    static func frame(_ payload: [UInt8]) -> [UInt8] {
        Swift.withUnsafeBytes(of: UInt32(payload.count).bigEndian) { Array($0) } + payload
    }

    /// Only a length prefix announcing `length` bytes.
    static func header(announcing length: UInt32) -> [UInt8] {
        Swift.withUnsafeBytes(of: length.bigEndian) { Array($0) }
    }
}
