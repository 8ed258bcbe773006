import Foundation
import SegmentsRPC

/// A daemon started as a real child process (for crash tests and CLI tests).
public final class DaemonProcess: @unchecked Sendable {
    // @unchecked: `process` is only read after launch; Foundation's Process is thread-safe for
    // the calls made here (terminate, waitUntilExit, processIdentifier).

    /// The running process.
    public let process: Process
    /// Standard error, collected to a file in the test directory.
    public let logPath: String

    private init(process: Process, logPath: String) {
        self.process = process
        self.logPath = logPath
    }

    /// Starts `executable` with `arguments` and waits until `socketPath` accepts connections.
    /// - Throws: when the process exits or the socket does not appear within `timeout`.
    public static func start(
        _ executable: String,
        arguments: [String],
        socketPath: String,
        logPath: String,
        environment: [String: String] = [:],
        timeout: Duration = .seconds(60)
    ) async throws -> DaemonProcess {
        try await Self.start(
            executable,
            arguments: arguments,
            logPath: logPath,
            environment: environment,
            timeout: timeout,
            listening: "on \(socketPath)"
        ) {
            UnixSocketProbe.canConnect(to: socketPath)
        }
    }

    /// Starts `executable` and waits until `isReady` says it serves (e.g. a TCP port accepts connections).
    /// - Parameter listening: what it listens on, for the error when it does not in time.
    public static func start(
        _ executable: String,
        arguments: [String],
        logPath: String,
        environment: [String: String] = [:],
        timeout: Duration = .seconds(60),
        listening: String,
        isReady: () -> Bool
    ) async throws -> DaemonProcess {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "NOTIFY_SOCKET")
        env.merge(environment) { $1 }
        process.environment = env
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let daemon = DaemonProcess(process: process, logPath: logPath)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if !process.isRunning {
                throw DaemonProcessError(message: "\(executable) exited early: \(daemon.log)")
            }
            if isReady() {
                return daemon
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        daemon.kill()
        throw DaemonProcessError(message: "\(executable) did not listen \(listening) in time: \(daemon.log)")
    }

    /// What the daemon wrote to standard error so far.
    public var log: String {
        (try? String(contentsOfFile: self.logPath, encoding: .utf8)) ?? ""
    }

    /// Sends SIGTERM and waits for the exit; returns the exit status.
    @discardableResult
    public func terminate() -> Int32 {
        self.process.terminate()
        self.process.waitUntilExit()
        return self.process.terminationStatus
    }

    /// Whether the process is still running.
    public var isRunning: Bool { self.process.isRunning }

    /// Sends SIGHUP (what `systemctl reload` does): the daemon re-reads its access file.
    public func hangUp() {
        Foundation.kill(self.process.processIdentifier, SIGHUP)
    }

    /// Sends SIGKILL (`kill -9`) and waits for the process to be gone.
    public func kill() {
        Foundation.kill(self.process.processIdentifier, SIGKILL)
        self.process.waitUntilExit()
    }
}

/// A daemon that did not start.
public struct DaemonProcessError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { self.message }

    /// - Parameter message: what went wrong, with the daemons' logs when they help.
    public init(message: String) {
        self.message = message
    }
}

/// Runs a command to completion and captures its output.
public struct CommandResult: Sendable {
    /// Exit status.
    public var status: Int32
    /// Standard output and standard error as text.
    public var stdout: String
    public var stderr: String

    /// Runs `executable` with `arguments`, feeding `input` to standard input, on a thread of its
    /// own: waiting for a process must not block one of the few threads that run tasks.
    public static func run(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String] = [:],
        input: String? = nil
    ) async throws -> CommandResult {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(
                    with: Result {
                        try Self.run(executable, arguments, environment: environment, input: input) as CommandResult
                    }
                )
            }
            thread.start()
        }
    }

    /// Runs `executable` with `arguments`, feeding `input` to standard input, blocking the calling
    /// thread until it exits. From async code use the `async` overload.
    public static func run(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String] = [:],
        input: String? = nil
    ) throws -> CommandResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { $1 }
        process.environment = env
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let inPipe = Pipe()
        process.standardInput = inPipe
        try process.run()
        if let input {
            inPipe.fileHandleForWriting.write(Data(input.utf8))
        }
        try inPipe.fileHandleForWriting.close()
        // Read both pipes fully before waiting, so a chatty child never blocks on a full pipe.
        nonisolated(unsafe) var errData = Data()
        let reader = Thread { errData = err.fileHandleForReading.readDataToEndOfFile() }
        reader.start()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        while !reader.isFinished { usleep(1000) }
        return CommandResult(
            status: process.terminationStatus,
            stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self)
        )
    }
}
