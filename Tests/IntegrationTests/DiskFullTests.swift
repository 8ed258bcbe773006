import Foundation
import SegmentsTesting
import Testing

/// The store on a small filesystem the test mounts (tmpfs, 3 MiB): when the disk fills, writes are refused with a
/// clear error, nothing acknowledged is lost, reads go on, and writes resume by themselves when space returns.
@Suite(.serialized) struct DiskFullTests {
    @Test func writesAreRefusedWhileTheDiskIsFullAndResumeAfter() async throws {
        try await TemporaryDirectory.with { directory in
            let disk = directory + "/disk"
            try FileManager.default.createDirectory(atPath: disk, withIntermediateDirectories: true)
            let mounted = try await CommandResult.run("/bin/mount", ["-t", "tmpfs", "-o", "size=3m", "tmpfs", disk])
            guard mounted.status == 0 else {
                throw DaemonProcessError(message: "this test mounts a tmpfs and needs root: \(mounted.stderr)")
            }
            defer { _ = try? CommandResult.run("/bin/umount", ["-l", disk]) as CommandResult }
            let socket = directory + "/store.sock"
            func startStore(_ number: Int) async throws -> DaemonProcess {
                try await DaemonProcess.start(
                    BuiltProducts.path(of: "profile-store"),
                    arguments: [
                        "--socket", socket, "--data-dir", disk + "/store", "--manual-clock", "2026-11-01T00:00:00Z",
                    ],
                    socketPath: socket,
                    logPath: directory + "/store-\(number).log"
                )
            }
            func segclient(_ arguments: [String], input: String? = nil) async throws -> CommandResult {
                try await CommandResult.run(
                    BuiltProducts.path(of: "segclient"),
                    arguments,
                    environment: ["SEGMENTS_STORE_SOCKET": socket],
                    input: input
                )
            }
            var store = try await startStore(1)
            #expect(try await segclient(["profile", "set", "u1", #"{"plan":"pro"}"#]).status == 0)

            // Fill the disk.
            _ = try await CommandResult.run("/bin/dd", ["if=/dev/zero", "of=\(disk)/filler", "bs=64k"])
            let refused = try await segclient(["profile", "set", "u2", #"{"plan":"pro"}"#])
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("the disk holding the store's data is full"), "\(refused.stderr)")
            let lines = (0..<100).map {
                #"{"id":"x\#($0)","attributes":{"note":"\#(String(repeating: "n", count: 400))"}}"#
            }
            let imported = try await segclient(
                ["import", "profiles", "-"],
                input: lines.joined(separator: "\n") + "\n"
            )
            #expect(imported.status != 0)
            #expect(imported.stderr.contains("the disk holding the store's data is full"), "\(imported.stderr)")
            // Reads go on.
            #expect(try await segclient(["profile", "get", "u1"]).stdout.contains(#"plan = "pro""#))

            // Space returns: writes resume without a restart.
            try FileManager.default.removeItem(atPath: disk + "/filler")
            #expect(try await segclient(["profile", "set", "u3", #"{"plan":"free"}"#]).status == 0)
            #expect(
                try await segclient(["import", "profiles", "-"], input: lines.joined(separator: "\n") + "\n").status
                    == 0
            )

            // Everything acknowledged is there after a restart; the refused write is not.
            store.terminate()
            store = try await startStore(2)
            defer { store.terminate() }
            #expect(try await segclient(["profile", "get", "u1"]).status == 0)
            #expect(try await segclient(["profile", "get", "u3"]).status == 0)
            #expect(try await segclient(["profile", "get", "x99"]).status == 0)
            #expect(try await segclient(["profile", "get", "u2"]).status == 3)
            #expect(store.log.contains("database integrity checked"))
        }
    }

    /// The evaluator's own disk fills: it stops following the store instead of piling up unrecorded transitions,
    /// answers what it has recorded, refuses reads that need more with the reason, and goes on by itself once space
    /// returns — every transition recorded exactly once, also across a restart.
    @Test func theEvaluatorWaitsForSpaceAndGoesOnByItself() async throws {
        try await TemporaryDirectory.with { directory in
            let disk = directory + "/disk"
            try FileManager.default.createDirectory(atPath: disk, withIntermediateDirectories: true)
            let mounted = try await CommandResult.run("/bin/mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", disk])
            guard mounted.status == 0 else {
                throw DaemonProcessError(message: "this test mounts a tmpfs and needs root: \(mounted.stderr)")
            }
            defer { _ = try? CommandResult.run("/bin/umount", ["-l", disk]) as CommandResult }
            let storeSocket = directory + "/store.sock"
            let evaluatorSocket = directory + "/eval.sock"
            let store = try await DaemonProcess.start(
                BuiltProducts.path(of: "profile-store"),
                arguments: [
                    "--socket", storeSocket, "--data-dir", directory + "/store", "--manual-clock",
                    "2026-11-01T00:00:00Z",
                ],
                socketPath: storeSocket,
                logPath: directory + "/store.log"
            )
            defer { store.terminate() }
            func startEvaluator(_ number: Int) async throws -> DaemonProcess {
                try await DaemonProcess.start(
                    BuiltProducts.path(of: "segment-evaluator"),
                    arguments: [
                        "--store", storeSocket, "--socket", evaluatorSocket, "--data-dir", disk + "/evaluator",
                        "--state-interval-ms", "200",
                    ],
                    socketPath: evaluatorSocket,
                    logPath: directory + "/evaluator-\(number).log"
                )
            }
            func segclient(_ arguments: [String], input: String? = nil) async throws -> CommandResult {
                try await CommandResult.run(
                    BuiltProducts.path(of: "segclient"),
                    arguments,
                    environment: ["SEGMENTS_STORE_SOCKET": storeSocket, "SEGMENTS_EVALUATOR_SOCKET": evaluatorSocket],
                    input: input
                )
            }
            func profiles(_ range: Range<Int>) -> String {
                range.map {
                    #"{"id":"u\#($0)","attributes":{"plan":"pro","note":"\#(String(repeating: "n", count: 60))"}}"#
                }
                .joined(separator: "\n") + "\n"
            }
            var evaluator = try await startEvaluator(1)
            #expect(try await segclient(["segment", "create", "pro", #"plan = "pro""#]).status == 0)
            #expect(try await segclient(["import", "profiles", "-"], input: profiles(0..<50)).status == 0)
            #expect(try await segclient(["members", "pro", "--count"]).stdout == "50\n")
            let recordedSeq = try await Self.storeHead(segclient)

            // Fill the evaluator's disk, then write enough to need more of it.
            _ = try await CommandResult.run("/bin/dd", ["if=/dev/zero", "of=\(disk)/filler", "bs=16k"])
            #expect(try await segclient(["import", "profiles", "-"], input: profiles(50..<3000)).status == 0)
            var waiting = false
            for _ in 0..<200 where !waiting {
                waiting = evaluator.log.contains("the disk holding the evaluator's data is full; waiting for space")
                if !waiting { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(waiting, "\(evaluator.log)")
            // A read that needs the new writes is refused at once, with the reason; what is recorded is answered.
            let started = ContinuousClock.now
            let refused = try await segclient(["check", "u2999", "pro"])
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("is full"), "\(refused.stderr)")
            #expect(refused.stderr.contains("goes on by itself once space is freed"), "\(refused.stderr)")
            #expect(ContinuousClock.now - started < .seconds(5))
            let status = try await segclient(["status"])
            #expect(status.status == 1)
            #expect(status.stderr.contains("evaluator shard 0 cannot move on: the disk holding"), "\(status.stderr)")
            #expect(status.stdout.contains("BLOCKED: the disk holding"), "\(status.stdout)")
            let recorded = try await segclient(["check", "u1", "pro", "--min-seq", "\(recordedSeq)"])
            #expect(recorded.status == 0, "\(recorded.stderr)")
            #expect(recorded.stdout == "true\n", "\(recorded.stdout)")

            // Space returns: the evaluator goes on by itself.
            try FileManager.default.removeItem(atPath: disk + "/filler")
            var caughtUp = try await segclient(["members", "pro", "--count"])
            for _ in 0..<100 where caughtUp.status != 0 {
                // It tries again every second; until then reads that need the new writes are still refused.
                #expect(caughtUp.stderr.contains("is full"), "\(caughtUp.stderr)")
                try await Task.sleep(for: .milliseconds(100))
                caughtUp = try await segclient(["members", "pro", "--count"])
            }
            #expect(caughtUp.stdout == "3000\n", "\(caughtUp.stderr)")
            #expect(evaluator.log.contains("space is free again"))
            #expect(try await Self.enters(segclient) == 3000)

            // Every transition exactly once, also after a restart (which replays from the last saved state).
            evaluator.terminate()
            evaluator = try await startEvaluator(2)
            defer { evaluator.terminate() }
            #expect(try await segclient(["members", "pro", "--count"]).stdout == "3000\n")
            #expect(try await Self.enters(segclient) == 3000)
        }
    }

    /// The store's head, from `segclient status --json`.
    private static func storeHead(
        _ segclient: ([String], String?) async throws -> CommandResult
    ) async throws -> UInt64 {
        let status = try await segclient(["status", "--json"], nil).stdout
        let object = try JSONSerialization.jsonObject(with: Data(status.utf8)) as? [String: Any]
        return (object?["head_seq"] as? NSNumber)?.uint64Value ?? 0
    }

    /// The segment's recorded entries, from its history.
    private static func enters(_ segclient: ([String], String?) async throws -> CommandResult) async throws -> Int {
        let history = try await segclient(["history", "--segment", "pro", "--json"], nil).stdout
        return history.split(separator: "\n").filter { $0.contains(#""enter""#) }.count
    }
}
