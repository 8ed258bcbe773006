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
}
