#if os(Linux)
import Foundation
import SegmentsTesting
import Testing

/// The units in `Services/` pass `systemd-analyze verify`, and `profile-store` speaks the
/// `sd_notify` protocol those `Type=notify` units rely on.
///
/// `systemd-analyze verify` works without a running systemd but fails when `ExecStart` names a
/// missing binary, so each unit is copied to a temporary directory with `ExecStart` pointed at the
/// built product. It exits 0 even for unknown keys or bad values (it only warns, as systemd
/// would when loading the unit), so the test also fails on any output line that names the unit.
@Suite(.timeLimit(.minutes(2))) struct SystemdUnitTests {
    private static let servicesDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Services").path

    private static var evaluatorIsBuilt: Bool {
        FileManager.default.isExecutableFile(atPath: BuiltProducts.path(of: "segment-evaluator"))
    }

    // MARK: - systemd-analyze verify

    @Test func profileStoreUnitVerifies() async throws {
        try await TemporaryDirectory.with { directory in
            try Self.install("profile-store.service", binary: "profile-store", into: directory)
            try await Self.verify("profile-store.service", in: directory)
        }
    }

    @Test(.enabled(if: SystemdUnitTests.evaluatorIsBuilt, "segment-evaluator is not built yet"))
    func evaluatorTemplateUnitVerifies() async throws {
        try await TemporaryDirectory.with { directory in
            // The template requires the store's unit; keep it next to it.
            try Self.install("profile-store.service", binary: "profile-store", into: directory)
            try Self.install("segment-evaluator@.service", binary: "segment-evaluator", into: directory)
            try await Self.verify("segment-evaluator@.service", in: directory)
            try await Self.verify("segment-evaluator@0.service", in: directory, unitFile: "segment-evaluator@.service")
            try await Self.verify("segment-evaluator@3.service", in: directory, unitFile: "segment-evaluator@.service")
        }
    }

    @Test func verifyCatchesAMistakeInAUnit() async throws {
        // The check above is only worth something if a broken unit fails it.
        try await TemporaryDirectory.with { directory in
            try Self.install("profile-store.service", binary: "profile-store", into: directory)
            let path = directory + "/profile-store.service"
            let text = try String(contentsOfFile: path, encoding: .utf8)
            try text.replacingOccurrences(of: "ProtectSystem=", with: "ProtectSystm=")
                .write(toFile: path, atomically: true, encoding: .utf8)
            let problems = try await Self.problems("profile-store.service", in: directory)
            #expect(problems.contains { $0.contains("ProtectSystm") })
        }
    }

    // MARK: - systemd-analyze security

    /// The exposure scores in `docs/operations.md` hold: a change that loosens a unit fails here.
    @Test(arguments: [("profile-store.service", 0.5), ("segment-evaluator@0.service", 1.4)])
    func exposureStaysAtMost(_ unit: String, _ limit: Double) async throws {
        try await TemporaryDirectory.with { directory in
            for file in ["profile-store.service", "segment-evaluator@.service"] {
                try FileManager.default.copyItem(
                    atPath: Self.servicesDirectory + "/" + file,
                    toPath: directory + "/" + file
                )
            }
            let result = try await offThePool {
                Result {
                    try CommandResult.run(
                        "/usr/bin/env",
                        ["systemd-analyze", "security", "--offline=true", "--no-pager", directory + "/" + unit]
                    )
                }
            }.get()
            let overall = result.stdout.split(separator: "\n").first { $0.contains("Overall exposure level") }
            let score = overall?.split(separator: ":").last?.split(separator: " ").first.flatMap { Double($0) }
            let exposure = try #require(score, "no score in:\n\(result.stdout)\(result.stderr)")
            #expect(exposure <= limit, "\(unit): exposure \(exposure) > \(limit)")
        }
    }

    // MARK: - What the units say

    @Test func profileStoreUnitRunsAsANotifyServiceWithItsOwnUserAndDirectories() throws {
        let unit = try Self.settings(of: "profile-store.service")
        #expect(unit["Type"] == ["notify"])
        #expect(unit["User"] == ["segments"])
        #expect(unit["Group"] == ["segments"])
        #expect(unit["RuntimeDirectory"] == ["segments"])
        #expect(unit["RuntimeDirectoryPreserve"] == ["yes"])
        #expect(unit["StateDirectory"]?.first?.split(separator: " ").contains("segments/store") == true)
        #expect(unit["Restart"] == ["on-failure"])
        #expect(unit["TimeoutStopSec"] != nil)
        #expect(
            unit["ExecStart"] == [
                "/usr/local/bin/profile-store --socket /run/segments/store.sock --data-dir /var/lib/segments/store"
            ]
        )
        Self.expectHardening(unit)
    }

    @Test func evaluatorUnitIsAShardTemplateAfterTheStore() throws {
        let unit = try Self.settings(of: "segment-evaluator@.service")
        #expect(unit["Type"] == ["notify"])
        #expect(unit["User"] == ["segments"])
        #expect(unit["Requires"] == ["profile-store.service"])
        #expect(unit["After"] == ["profile-store.service"])
        #expect(unit["RuntimeDirectory"] == ["segments"])
        #expect(unit["RuntimeDirectoryPreserve"] == ["yes"])
        #expect(unit["Environment"] == ["SEGMENTS_SHARDS=1"])
        let execStart = try #require(unit["ExecStart"]?.first)
        #expect(execStart.hasPrefix("/usr/local/bin/segment-evaluator "))
        #expect(execStart.contains("--store /run/segments/store.sock"))
        #expect(execStart.contains("--socket /run/segments/evaluator-%i.sock"))
        #expect(execStart.contains("--data-dir /var/lib/segments/evaluator-%i"))
        #expect(execStart.contains("--shard %i/${SEGMENTS_SHARDS}"))
        Self.expectHardening(unit, addressFamilies: "AF_UNIX AF_INET AF_INET6")
    }

    // MARK: - sd_notify

    @Test(arguments: [false, true])
    func profileStoreTellsSystemdWhenItIsReadyAndWhenItStops(abstractSocket: Bool) async throws {
        try await TemporaryDirectory.with { directory in
            let name =
                abstractSocket
                ? "@segments-test-notify-\(getpid())-\(UInt32.random(in: 0 ... .max))" : directory + "/notify.sock"
            let notifications = try NotifySocket(name: name)
            let socket = directory + "/store.sock"
            let daemon = try await DaemonProcess.start(
                BuiltProducts.path(of: "profile-store"),
                arguments: ["--socket", socket, "--data-dir", directory + "/data", "--durability", "normal"],
                socketPath: socket,
                logPath: directory + "/store.log",
                environment: ["NOTIFY_SOCKET": name]
            )
            let ready = await offThePool { notifications.receive(until: { $0.contains("READY=1") }) }
            #expect(ready.last?.split(separator: "\n").contains("READY=1") == true, "got \(ready)")
            #expect(ready.last?.contains("STATUS=") == true)

            let status = await offThePool { daemon.terminate() }
            #expect(status == 0, "store log:\n\(daemon.log)")
            let stopping = await offThePool { notifications.receive(until: { $0.contains("STOPPING=1") }) }
            #expect(stopping.last?.split(separator: "\n").contains("STOPPING=1") == true, "got \(stopping)")
        }
    }

    @Test func withoutNotifySocketTheStoreStillStartsAndStops() async throws {
        try await TemporaryDirectory.with { directory in
            let socket = directory + "/store.sock"
            let daemon = try await DaemonProcess.start(
                BuiltProducts.path(of: "profile-store"),
                arguments: ["--socket", socket, "--data-dir", directory + "/data", "--durability", "normal"],
                socketPath: socket,
                logPath: directory + "/store.log"
            )
            #expect(await offThePool { daemon.terminate() } == 0)
        }
    }

    // MARK: - Helpers

    /// Copies a unit from `Services/` into `directory` with `ExecStart` running the built `binary`.
    private static func install(_ unit: String, binary: String, into directory: String) throws {
        let text = try String(contentsOfFile: Self.servicesDirectory + "/" + unit, encoding: .utf8)
        let installed = "/usr/local/bin/" + binary
        #expect(text.contains("ExecStart=" + installed), "\(unit) should run \(installed)")
        try text.replacingOccurrences(of: "ExecStart=" + installed, with: "ExecStart=" + BuiltProducts.path(of: binary))
            .write(toFile: directory + "/" + unit, atomically: true, encoding: .utf8)
    }

    /// Runs `systemd-analyze verify` and expects it to pass without a word about the unit.
    private static func verify(_ unit: String, in directory: String, unitFile: String? = nil) async throws {
        let problems = try await Self.problems(unit, in: directory, unitFile: unitFile)
        #expect(problems.isEmpty, "systemd-analyze verify \(unit):\n\(problems.joined(separator: "\n"))")
    }

    /// The output lines of `systemd-analyze verify` that concern `unit` (or its template file),
    /// plus a line for a non-zero exit status.
    private static func problems(_ unit: String, in directory: String, unitFile: String? = nil) async throws -> [String]
    {
        let path = directory + "/" + unit
        let result = try await offThePool {
            // `--man=false`: do not check the Documentation= man pages (not installed here).
            Result { try CommandResult.run("/usr/bin/env", ["systemd-analyze", "verify", "--man=false", path]) }
        }.get()
        let names = [unit, unitFile ?? unit]
        var problems = (result.stdout + result.stderr).split(separator: "\n").map(String.init)
            .filter { line in names.contains { line.contains($0) } }
        if result.status != 0 {
            problems.append("exit status \(result.status): \(result.stdout)\(result.stderr)")
        }
        return problems
    }

    /// The `[Service]`, `[Unit]` and `[Install]` assignments of a unit in `Services/`, key → values.
    private static func settings(of unit: String) throws -> [String: [String]] {
        let text = try String(contentsOfFile: Self.servicesDirectory + "/" + unit, encoding: .utf8)
        var settings: [String: [String]] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") && !line.hasPrefix("[") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            settings[String(line[..<equals]), default: []].append(String(line[line.index(after: equals)...]))
        }
        return settings
    }

    /// - Parameter addressFamilies: the socket families the unit may use (the evaluator also
    ///   needs IPv4/IPv6 to deliver webhooks).
    private static func expectHardening(_ unit: [String: [String]], addressFamilies: String = "AF_UNIX") {
        let expected = [
            "ProtectSystem": "strict", "ProtectHome": "true", "PrivateTmp": "true", "PrivateDevices": "true",
            "NoNewPrivileges": "true", "ProtectKernelTunables": "true", "ProtectKernelModules": "true",
            "ProtectKernelLogs": "true", "ProtectControlGroups": "true", "RestrictAddressFamilies": addressFamilies,
            "MemoryDenyWriteExecute": "true", "PrivateMounts": "true",
        ]
        for (key, value) in expected {
            #expect(unit[key] == [value], "\(key)=\(value)")
        }
        #expect(unit["SystemCallFilter"] == ["@system-service", "~@privileged"])
    }
}

/// A Unix datagram socket standing in for systemd's notification socket.
private final class NotifySocket: @unchecked Sendable {
    // @unchecked: used by one thread at a time; the descriptor is immutable.
    private let descriptor: Int32
    private let path: String?

    /// Binds `name`: a path, or an abstract name when it starts with `@`, as `$NOTIFY_SOCKET` has it.
    init(name: String) throws {
        self.descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard self.descriptor >= 0 else { throw NotifySocketError(text: "socket failed") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(name.utf8)
        if bytes.first == UInt8(ascii: "@") {
            bytes[0] = 0
            self.path = nil
        } else {
            self.path = name
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count)
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(self.descriptor, $0, length) }
        }
        guard bound == 0 else {
            close(self.descriptor)
            throw NotifySocketError(text: "bind \(name): \(String(cString: strerror(errno)))")
        }
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(self.descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit {
        close(self.descriptor)
        if let path { unlink(path) }
    }

    /// Receives datagrams until one satisfies `done` or nothing arrives for `limit` seconds.
    /// - Returns: every datagram received, in order.
    func receive(until done: (String) -> Bool, limit: Int = 20) -> [String] {
        var messages: [String] = []
        var quietSeconds = 0
        var buffer = [UInt8](repeating: 0, count: 4096)
        while quietSeconds < limit {
            let count = buffer.withUnsafeMutableBytes { recv(self.descriptor, $0.baseAddress, $0.count, 0) }
            guard count > 0 else {
                quietSeconds += 1
                continue
            }
            let message = String(decoding: buffer[0..<count], as: UTF8.self)
            messages.append(message)
            if done(message) { break }
        }
        return messages
    }
}

private struct NotifySocketError: Error, CustomStringConvertible {
    let text: String
    var description: String { self.text }
}

/// Runs blocking `work` on a thread of its own, so it never occupies a cooperative-pool thread.
private func offThePool<Result: Sendable>(_ work: @escaping @Sendable () -> Result) async -> Result {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: work()) }.start()
    }
}
#endif
