import Foundation
import SegmentsClient
import SegmentsTesting
import SegmentsWire
import Testing

/// `kill -9` of a real profile-store process right after acknowledged writes loses none of them.
@Suite struct CrashDurabilityTests {
    /// SQLite in both durabilities, and PostgreSQL when the test command started a server.
    static let storages = ["full", "normal"] + (TestStoreBackend.available.count > 1 ? ["postgres"] : [])

    @Test(arguments: Self.storages)
    func acknowledgedWritesSurviveKillNine(storage: String) async throws {
        try await TemporaryDirectory.with { directory in
            let socket = directory + "/store.sock"
            let arguments =
                if storage == "postgres", let server = TestStoreBackend.available.last {
                    ["--socket", socket] + (try server.storeArguments(directory: directory))
                } else {
                    ["--socket", socket, "--data-dir", directory + "/data", "--durability", storage]
                }
            var acknowledged: [(UInt64, String)] = []
            for round in 0..<3 {
                let daemon = try await DaemonProcess.start(
                    BuiltProducts.path(of: "profile-store"),
                    arguments: arguments,
                    socketPath: socket,
                    logPath: directory + "/store-\(round).log"
                )
                let client = SegmentsClient(configuration: .init(storeSocketPath: socket))
                // Concurrent batches so several are in one group commit when the kill lands.
                let results = try await withThrowingTaskGroup(of: (UInt64, String).self) { group in
                    for batch in 0..<20 {
                        group.addTask {
                            let user = "r\(round)-b\(batch)"
                            let events = (0..<50).map {
                                SegmentsEvent(userID: user, name: "e", atMs: Int64($0), id: "\($0)")
                            }
                            let result = try await client.track(events)
                            return (result.seq, user)
                        }
                    }
                    var all: [(UInt64, String)] = []
                    for try await result in group { all.append(result) }
                    return all
                }
                acknowledged += results
                daemon.kill()
                await client.close()
            }
            let daemon = try await DaemonProcess.start(
                BuiltProducts.path(of: "profile-store"),
                arguments: arguments,
                socketPath: socket,
                logPath: directory + "/store-final.log"
            )
            defer { daemon.terminate() }
            let client = SegmentsClient(configuration: .init(storeSocketPath: socket))
            let info = try await client.storeInfo()
            #expect(info.headSeq == UInt64(acknowledged.count))
            #expect(info.eventCount == UInt64(acknowledged.count * 50))
            let log = try await readLog(client, fromSeq: 1, count: acknowledged.count)
            for (seq, user) in acknowledged {
                let events = log[Int(seq) - 1].eventsTracked.events
                let allTheirs = events.allSatisfy { $0.userID == user }
                #expect(events.count == 50 && allTheirs)
            }
            // Re-sending an acknowledged batch finds every id already stored.
            let again = try await client.track(
                (0..<50).map { SegmentsEvent(userID: acknowledged[0].1, name: "e", atMs: Int64($0), id: "\($0)") }
            )
            #expect(again.duplicates == 50)
            await client.close()
        }
    }
}
