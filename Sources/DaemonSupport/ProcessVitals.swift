#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The running process's age and resident memory, for status calls and metrics.
public enum ProcessVitals {
    /// When this process started (wall clock, ms since the Unix epoch): taken the first time any of this type's
    /// members is used, which each daemon does as it starts.
    public static let startedAtMs = WallClock.nowMs()
    private static let startedAt = ContinuousClock.now

    /// How long the process has run, on the monotonic clock (a wall-clock step does not change it).
    public static var uptime: Duration { ContinuousClock.now - self.startedAt }

    /// Reads both start marks, so that the process's age counts from its start rather than from the first status
    /// call; each daemon calls it before it begins serving.
    public static func markStart() {
        _ = self.startedAtMs
        _ = self.startedAt
    }

    /// The process's resident set in bytes (`/proc/self/statm`), or 0 where that cannot be read.
    public static func residentBytes() -> UInt64 {
        #if os(Linux)
        // statm: size resident shared text lib data dt, in pages.
        let descriptor = open("/proc/self/statm", O_RDONLY)
        guard descriptor >= 0 else { return 0 }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 128)
        let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        guard count > 0 else { return 0 }
        let fields = buffer[..<count].split(separator: UInt8(ascii: " "))
        guard fields.count >= 2, let pages = UInt64(String(decoding: fields[1], as: UTF8.self)) else { return 0 }
        return pages * UInt64(sysconf(Int32(_SC_PAGESIZE)))
        #else
        return 0
        #endif
    }
}
