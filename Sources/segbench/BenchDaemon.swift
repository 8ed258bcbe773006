import Foundation
import SegmentsBenchKit
import SegmentsRPC

/// A daemon started by segbench as a child process, with its `/proc` figures.
final class BenchDaemon: @unchecked Sendable {
    // @unchecked: `process` is set once at launch and only read afterwards; Foundation's Process
    // is safe for the calls used (terminate, waitUntilExit, processIdentifier, isRunning).
    let name: String
    let process: Process
    let socketPath: String
    let logPath: String

    private init(name: String, process: Process, socketPath: String, logPath: String) {
        self.name = name
        self.process = process
        self.socketPath = socketPath
        self.logPath = logPath
    }

    /// Starts `executable` and waits until its socket accepts connections.
    static func start(
        name: String,
        executable: String,
        arguments: [String],
        socketPath: String,
        logPath: String,
        timeout: Duration = .seconds(120)
    ) async throws(SegbenchError) -> BenchDaemon {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "NOTIFY_SOCKET")
        process.environment = environment
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        do {
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
            process.standardOutput = FileHandle.nullDevice
            try process.run()
        } catch {
            throw SegbenchError(.daemon, "cannot start \(executable): \(error)")
        }
        let daemon = BenchDaemon(name: name, process: process, socketPath: socketPath, logPath: logPath)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if !process.isRunning {
                throw SegbenchError(
                    .daemon,
                    "\(name) exited early (status \(process.terminationStatus)); log: \(daemon.logTail)"
                )
            }
            if UnixSocketProbe.canConnect(to: socketPath) { return daemon }
            try? await Task.sleep(for: .milliseconds(2))
        }
        daemon.kill()
        throw SegbenchError(
            .daemon,
            "\(name) did not listen on \(socketPath) within \(timeout); log: \(daemon.logTail)"
        )
    }

    var pid: Int32 { self.process.processIdentifier }

    /// The last lines the daemon wrote to standard error.
    var logTail: String {
        let text = (try? String(contentsOfFile: self.logPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(8).joined(separator: "\n")
    }

    /// SIGTERM, then wait for the exit.
    @discardableResult
    func terminate() -> Int32 {
        if self.process.isRunning {
            self.process.terminate()
        }
        self.process.waitUntilExit()
        return self.process.terminationStatus
    }

    /// SIGKILL, then wait.
    func kill() {
        if self.process.isRunning {
            Foundation.kill(self.process.processIdentifier, SIGKILL)
        }
        self.process.waitUntilExit()
    }

    /// Peak resident memory (VmHWM) in bytes, 0 when unreadable.
    var peakRSSBytes: UInt64 { ProcessFigures.statusField(pid: self.pid, "VmHWM") }
    /// Resident memory now (VmRSS) in bytes.
    var rssBytes: UInt64 { ProcessFigures.statusField(pid: self.pid, "VmRSS") }
    /// User + system CPU seconds so far.
    var cpuSeconds: Double { ProcessFigures.cpuSeconds(pid: self.pid) }
}

/// Figures read from `/proc`.
enum ProcessFigures {
    /// A `kB` field of `/proc/PID/status`, in bytes.
    static func statusField(pid: Int32, _ field: String) -> UInt64 {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            let number = line.dropFirst(field.count + 1).trimmingCharacters(in: .whitespaces).split(separator: " ")
                .first
            return (number.flatMap { UInt64($0) } ?? 0) * 1024
        }
        return 0
    }

    /// utime + stime of `/proc/PID/stat`, in seconds.
    static func cpuSeconds(pid: Int32) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return 0 }
        // Fields after the command name start at field 3 (state); utime and stime are fields 14 and 15.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Total size of the regular files under `path`.
    static func directoryBytes(_ path: String) -> UInt64 {
        guard let enumerator = FileManager.default.enumerator(atPath: path) else { return 0 }
        var total: UInt64 = 0
        while let item = enumerator.nextObject() as? String {
            let attributes = try? FileManager.default.attributesOfItem(atPath: path + "/" + item)
            if (attributes?[.type] as? FileAttributeType) == .typeRegular {
                total += (attributes?[.size] as? NSNumber)?.uint64Value ?? 0
            }
        }
        return total
    }
}
