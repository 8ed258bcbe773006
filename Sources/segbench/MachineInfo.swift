import Foundation
import SegmentsBenchKit

/// Reads the machine description for the results.
enum MachineInfo {
    static func current() -> BenchResults.Machine {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model =
            cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { String($0.split(separator: ":", maxSplits: 1).last ?? "").trimmingCharacters(in: .whitespaces) }
            ?? "unknown"
        let meminfo = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
        let memoryKiB =
            meminfo.split(separator: "\n").first { $0.hasPrefix("MemTotal:") }
            .flatMap { $0.split(separator: " ").dropFirst().first.flatMap { UInt64($0) } } ?? 0
        let load =
            (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").first
            .flatMap { Double($0) } ?? 0
        let kernel =
            (try? String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "unknown"
        return BenchResults.Machine(
            cores: ProcessInfo.processInfo.activeProcessorCount,
            memoryBytes: memoryKiB * 1024,
            cpuModel: model,
            kernel: kernel,
            loadAverageAtStart: load,
            socketRoundTripP50Us: Self.socketRoundTripP50Us()
        )
    }

    /// The median time for a 64-byte message to go to another thread over a Unix socket pair and
    /// back (``BenchResults/Machine/socketRoundTripP50Us``), or `nil` when the pair cannot be made.
    static func socketRoundTripP50Us(roundTrips: Int = 20_000) -> Double? {
        var fds: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0 else { return nil }
        let (near, far) = (fds[0], fds[1])
        let echo = Thread {
            var buffer = [UInt8](repeating: 0, count: 64)
            while true {
                let n = read(far, &buffer, 64)
                guard n > 0, write(far, buffer, n) == n else { return }
            }
        }
        echo.start()
        defer {
            close(near)
            close(far)
        }
        let clock = ContinuousClock()
        var buffer = [UInt8](repeating: 0, count: 64)
        var samples: [Double] = []
        samples.reserveCapacity(roundTrips)
        for _ in 0..<roundTrips {
            let start = clock.now
            guard write(near, buffer, 64) == 64 else { return nil }
            var received = 0
            while received < 64 {
                let n = buffer.withUnsafeMutableBytes { read(near, $0.baseAddress! + received, 64 - received) }
                guard n > 0 else { return nil }
                received += n
            }
            samples.append((clock.now - start).seconds * 1e6)
        }
        return LatencySummary(microseconds: samples).p50Us
    }
}
