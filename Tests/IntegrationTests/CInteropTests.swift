import Foundation
@_spi(SegmentsInternal) import SegmentsClient
import SegmentsTesting
import SegmentsWire
import Testing

/// The `.proto` files are the public contract: a C program built from them with `protoc-c` and
/// `libprotobuf-c` writes to a real `profile-store`, and the Swift client reads what it wrote.
@Suite(.timeLimit(.minutes(3))) struct CInteropTests {
    /// The repository root, found from this file's path (`Tests/IntegrationTests/…`).
    private static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    private static let userID = "c-interop-user"
    private static let eventAtMs: Int64 = 1_767_261_600_000  // 2026-01-01T10:00:00Z, as in store_client.c

    @Test func cClientUpsertsTracksAndReadsBackFromARealDaemon() async throws {
        try await TemporaryDirectory.with { directory in
            // Build the C client (generated code and binary stay in the temporary directory).
            let build = try await runOffThePool(
                "/bin/bash",
                [Self.repositoryRoot + "/Tests/CInterop/build.sh", directory + "/c"]
            )
            try #require(build.status == 0, "build.sh failed:\n\(build.stdout)\n\(build.stderr)")
            let client = try #require(build.stdout.split(separator: "\n").last.map(String.init))
            #expect(FileManager.default.isExecutableFile(atPath: client))
            // Its exit status means something: with no store to talk to it fails.
            let refused = try await runOffThePool(client, [directory + "/nothing.sock"])
            #expect(refused.status != 0)

            let socket = directory + "/store.sock"
            let daemon = try await DaemonProcess.start(
                BuiltProducts.path(of: "profile-store"),
                arguments: ["--socket", socket, "--data-dir", directory + "/data", "--durability", "normal"],
                socketPath: socket,
                logPath: directory + "/store.log"
            )
            do {
                let run = try await runOffThePool(client, [socket, Self.userID])
                #expect(run.status == 0, "store_client failed:\n\(run.stdout)\n\(run.stderr)")
                #expect(run.stdout.hasSuffix("OK\n"))
                #expect(run.stdout.contains("segments.v1.ProfileStore/GetProfile"))

                try await Self.verifyWithSwiftClient(socket: socket)
            } catch {
                daemon.kill()
                throw error
            }
            #expect(daemon.terminate() == 0, "store log:\n\(daemon.log)")
        }
    }

    /// Reads back, through ``SegmentsClient``, what the C client wrote.
    private static func verifyWithSwiftClient(socket: String) async throws {
        let client = SegmentsClient(configuration: .init(storeSocketPath: socket))
        do {
            let profile = try await client.profile(Self.userID)
            #expect(
                profile.attributes == [
                    "plan": .string("pro"),
                    "age": .number(34),
                    "tags": .stringList(["beta", "newsletter"]),
                ]
            )
            #expect(profile.createdSeq == 1)

            // The event is the second entry of the change log, exactly as the C client sent it.
            var tracked: Segments_V1_EventsTracked?
            search: for try await batch in try await client.changes(fromSeq: 1) {
                for entry in batch.entries {
                    if case .eventsTracked(let events) = entry.change {
                        #expect(entry.seq == 2)
                        tracked = events
                    }
                    if entry.seq >= 2 { break search }
                }
            }
            let event = try #require(tracked?.events.first)
            #expect(tracked?.events.count == 1)
            #expect(event.userID == Self.userID)
            #expect(event.name == "purchase")
            #expect(event.atMs == Self.eventAtMs)
            #expect(event.atGiven)
            #expect(event.eventID == "c-event-1")
            #expect(event.properties["amount"]?.numberValue == 42.5)

            // And it is stored under its id: sending it again is a duplicate.
            let again = try await client.track([
                SegmentsEvent(userID: Self.userID, name: "purchase", atMs: Self.eventAtMs, id: "c-event-1")
            ])
            #expect(again.duplicates == 1)
            #expect(again.accepted == 0)
        } catch {
            await client.close()
            throw error
        }
        await client.close()
    }
}

/// Runs a command to completion on a thread of its own: `CommandResult.run` blocks, and the
/// cooperative pool is small.
private func runOffThePool(_ executable: String, _ arguments: [String]) async throws -> CommandResult {
    try await withCheckedThrowingContinuation { continuation in
        Thread {
            continuation.resume(with: Result { try CommandResult.run(executable, arguments) })
        }.start()
    }
}
