import Foundation
import SegmentsSQLite
import SegmentsTesting
import Testing

/// Corrupt or foreign state is noticed at start and never served: an evaluator rebuilds from the store when its
/// data is damaged, from a newer version or from another store; a store whose database fails SQLite's integrity
/// check refuses to start and says why.
@Suite struct DataIntegrityTests {
    private static func segclient(_ directory: String, _ arguments: [String]) async throws -> String {
        let result = try await CommandResult.run(
            BuiltProducts.path(of: "segclient"),
            arguments,
            environment: [
                "SEGMENTS_STORE_SOCKET": directory + "/store.sock",
                "SEGMENTS_EVALUATOR_SOCKET": directory + "/eval.sock",
            ]
        )
        guard result.status == 0 else {
            throw DaemonProcessError(message: "segclient \(arguments) exited \(result.status): \(result.stderr)")
        }
        return result.stdout
    }

    private static func startStore(_ directory: String, data: String, log: String) async throws -> DaemonProcess {
        try await DaemonProcess.start(
            BuiltProducts.path(of: "profile-store"),
            arguments: [
                "--socket", directory + "/store.sock", "--data-dir", directory + "/" + data, "--durability", "normal",
                "--manual-clock", "2026-11-01T00:00:00Z",
            ],
            socketPath: directory + "/store.sock",
            logPath: directory + "/" + log
        )
    }

    private static func startEvaluator(_ directory: String, log: String) async throws -> DaemonProcess {
        try await DaemonProcess.start(
            BuiltProducts.path(of: "segment-evaluator"),
            arguments: [
                "--store", directory + "/store.sock", "--socket", directory + "/eval.sock", "--data-dir",
                directory + "/evaluator",
            ],
            socketPath: directory + "/eval.sock",
            logPath: directory + "/" + log
        )
    }

    /// The same socket, another database with a longer log: continuing from the old position would miss the new
    /// store's first entries. The evaluator notices the other identity and rebuilds.
    @Test func anEvaluatorBuiltFromAnotherStoreRebuilds() async throws {
        try await TemporaryDirectory.with { directory in
            var store = try await Self.startStore(directory, data: "store-a", log: "store-a.log")
            var evaluator = try await Self.startEvaluator(directory, log: "evaluator-1.log")
            _ = try await Self.segclient(directory, ["profile", "set", "x", #"{"plan":"pro"}"#])
            _ = try await Self.segclient(directory, ["segment", "create", "pro", #"plan = "pro""#])
            #expect(try await Self.segclient(directory, ["members", "pro"]) == "x\n")
            let firstID = try await Self.segclient(directory, ["status", "--json", "--timeout", "2s"])
            evaluator.terminate()
            store.terminate()

            store = try await Self.startStore(directory, data: "store-b", log: "store-b.log")
            defer { store.terminate() }
            for user in ["y1", "y2", "y3", "y4", "y5"] {
                _ = try await Self.segclient(directory, ["profile", "set", user, #"{"plan":"pro"}"#])
            }
            _ = try await Self.segclient(directory, ["segment", "create", "pro", #"plan = "pro""#])
            evaluator = try await Self.startEvaluator(directory, log: "evaluator-2.log")
            defer { evaluator.terminate() }
            #expect(try await Self.segclient(directory, ["members", "pro"]) == "y1\ny2\ny3\ny4\ny5\n")
            #expect(evaluator.log.contains("this evaluator's data was built from another store; rebuilding"))
            let secondID = try await Self.segclient(directory, ["status", "--json", "--timeout", "2s"])
            #expect(firstID.contains(#""store_id":""#))
            #expect(Self.storeID(firstID) != Self.storeID(secondID))
        }
    }

    private static func storeID(_ status: String) -> String? {
        let object = try? JSONSerialization.jsonObject(with: Data(status.utf8)) as? [String: Any]
        return object?["store_id"] as? String
    }

    /// A damaged transition log, and one written by a newer version: moved aside, rebuilt, answers exact.
    @Test(arguments: ["damaged", "newer"])
    func anUnusableEvaluatorDirectoryIsMovedAsideAndRebuilt(_ damage: String) async throws {
        try await DaemonPair.with { pair in
            try await pair.segclientOK(["profile", "set", "x", #"{"plan":"pro"}"#])
            try await pair.segclientOK(["segment", "create", "pro", #"plan = "pro""#])
            #expect(try await pair.segclientOK(["members", "pro"]) == "x\n")
            try await pair.restartEvaluator(crash: false) {
                let path = pair.directory + "/evaluator/evaluator.sqlite"
                if damage == "damaged" {
                    for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
                    try Data(repeating: 0x5A, count: 16_384).write(to: URL(fileURLWithPath: path))
                } else {
                    let connection = try SQLiteConnection(path: path)
                    try connection.setUserVersion(99)
                }
            }
            try await pair.segclientOK(["profile", "set", "y", #"{"plan":"pro"}"#])
            #expect(try await pair.segclientOK(["members", "pro"]) == "x\ny\n")
            #expect(pair.evaluator.log.contains("the evaluator's data directory is unusable; moving it aside"))
            let entries = try FileManager.default.contentsOfDirectory(atPath: pair.directory)
            #expect(entries.contains { $0.hasPrefix("evaluator-unusable-") })
        }
    }

    @Test func aStoreWhoseDatabaseFailsTheIntegrityCheckRefusesToStart() async throws {
        try await TemporaryDirectory.with { directory in
            let store = try await Self.startStore(directory, data: "store", log: "store-1.log")
            let lines = (0..<400).map {
                #"{"id":"user-\#($0)","attributes":{"plan":"pro","note":"\#(String(repeating: "n", count: 200))"}}"#
            }
            let imported = try await CommandResult.run(
                BuiltProducts.path(of: "segclient"),
                ["import", "profiles", "-"],
                environment: ["SEGMENTS_STORE_SOCKET": directory + "/store.sock"],
                input: lines.joined(separator: "\n") + "\n"
            )
            #expect(imported.status == 0)
            store.terminate()
            // Scribble over pages in the middle of the file (SQLite's header, page 1, stays intact).
            let path = directory + "/store/store.sqlite"
            let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
            let size = try handle.seekToEnd()
            // A clean stop leaves every page in the database file (the WAL checkpointed); otherwise there is nothing
            // to damage, and the store below would start and serve.
            try #require(size > 64 * 1024)
            try handle.seek(toOffset: size / 2)
            handle.write(Data(repeating: 0xA5, count: 16 * 1024))
            try handle.close()

            let result = try await CommandResult.run(
                BuiltProducts.path(of: "profile-store"),
                ["--socket", directory + "/store.sock", "--data-dir", directory + "/store"],
                environment: [:]
            )
            #expect(result.status != 0)
            #expect(result.stderr.contains("fails SQLite's integrity check (quick_check)"), "\(result.stderr)")
        }
    }
}
