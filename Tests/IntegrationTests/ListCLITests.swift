import Foundation
import SegmentsTesting
import Testing

/// `segclient list …` and `segclient overlap` against real `profile-store` and `segment-evaluator`
/// processes.
@Suite struct ListCLITests {
    static func withDaemonProcesses(
        _ body: (_ directory: String, _ segclient: ([String], String?) async throws -> CommandResult) async throws ->
            Void
    ) async throws {
        try await TemporaryDirectory.with { directory in
            let store = directory + "/store.sock"
            let evaluator = directory + "/eval.sock"
            let storeProcess = try await DaemonProcess.start(
                BuiltProducts.path(of: "profile-store"),
                arguments: [
                    "--socket", store, "--data-dir", directory + "/store", "--durability", "normal",
                    "--manual-clock", "2026-11-01T00:00:00Z",
                ],
                socketPath: store,
                logPath: directory + "/store.log"
            )
            defer { storeProcess.terminate() }
            let evaluatorProcess = try await DaemonProcess.start(
                BuiltProducts.path(of: "segment-evaluator"),
                arguments: ["--store", store, "--socket", evaluator, "--data-dir", directory + "/evaluator"],
                socketPath: evaluator,
                logPath: directory + "/evaluator.log"
            )
            defer { evaluatorProcess.terminate() }
            try await body(directory) { arguments, input in
                try await CommandResult.run(
                    BuiltProducts.path(of: "segclient"),
                    arguments,
                    environment: ["SEGMENTS_STORE_SOCKET": store, "SEGMENTS_EVALUATOR_SOCKET": evaluator],
                    input: input
                )
            }
        }
    }

    @Test func listCommandsSnapshotAndOverlap() async throws {
        try await Self.withDaemonProcesses { directory, segclient in
            var result = try await segclient(["list", "create", "beta"], nil)
            #expect(result.status == 0)
            #expect(result.stdout == "list beta: created (seq 1)\n")

            // Ids from arguments, then from standard input with a bad line.
            result = try await segclient(["list", "add", "beta", "u1", "u2"], nil)
            #expect(result.status == 0)
            #expect(result.stderr == "added 2 users to beta (0 already members); 0 failed\n")
            let ids = ["u2", "u3", "", String(repeating: "x", count: 300), "u4"].joined(separator: "\n")
            result = try await segclient(["list", "add", "beta", "--file", "-", "--batch", "2"], ids)
            #expect(result.status == 1)
            #expect(result.stderr.contains("line 4: user id is 300 bytes; the limit is 256\n"))
            #expect(result.stderr.hasSuffix("added 2 users to beta (1 already members); 1 failed\n"))

            let file = directory + "/remove.txt"
            try "u1\nghost\n".write(toFile: file, atomically: true, encoding: .utf8)
            result = try await segclient(["list", "remove", "beta", "--file", file], nil)
            #expect(result.status == 1)
            #expect(result.stderr.contains("line 2: no user 'ghost'\n"))
            #expect(result.stderr.hasSuffix("removed 1 users from beta (0 not members); 1 failed\n"))

            result = try await segclient(["list", "members", "beta"], nil)
            #expect(result.stdout == "u2\nu3\nu4\n")
            result = try await segclient(["list", "ls"], nil)
            #expect(result.stdout == "beta\t3\n")
            result = try await segclient(["members", "beta"], nil)
            #expect(result.stdout == "u2\nu3\nu4\n")

            // A dynamic segment over the list, frozen into another list.
            result = try await segclient(["profile", "set", "u3", #"{"plan":"pro"}"#], nil)
            #expect(result.status == 0)
            result = try await segclient(
                ["segment", "create", "pro_beta", #"plan = "pro" or in_segment("beta")"#],
                nil
            )
            #expect(result.status == 0)
            result = try await segclient(["list", "snapshot", "pro_beta", "frozen", "--json"], nil)
            #expect(result.status == 0)
            #expect(result.stdout.contains(#""members":3"#))
            result = try await segclient(["list", "members", "frozen"], nil)
            #expect(result.stdout == "u2\nu3\nu4\n")

            result = try await segclient(["overlap", "beta", "pro_beta", "frozen"], nil)
            #expect(result.status == 0)
            #expect(result.stdout.contains("beta      3\n"))
            #expect(result.stdout.contains("beta      pro_beta  3         1.0000\n"))
            result = try await segclient(["overlap", "beta", "--json"], nil)
            #expect(result.status != 0)
            #expect(result.stderr.contains("give 2 to 20 segments or lists, not 1"))
            result = try await segclient(["overlap", "beta", "nope"], nil)
            #expect(result.status == 3)
            #expect(result.stderr.contains("no segment or list 'nope'"))

            result = try await segclient(["list", "delete", "beta"], nil)
            #expect(result.status == 2)
            #expect(result.stderr.contains("list 'beta' is used by 'pro_beta'"))
            result = try await segclient(["list", "add", "nope", "u1"], nil)
            #expect(result.status == 3)
            #expect(result.stderr == "segclient: no list 'nope'\n")
            result = try await segclient(["list", "delete", "frozen"], nil)
            #expect(result.status == 0)
        }
    }
}

/// Read your writes across processes: a `segclient` read with no `--min-seq` reflects every write
/// another process had acknowledged before it.
@Suite struct ReadYourWritesCLITests {
    @Test func aReadInANewProcessSeesTheWritesOfAnother() async throws {
        try await ListCLITests.withDaemonProcesses { _, segclient in
            var result = try await segclient(["segment", "create", "pro", #"plan = "pro""#], nil)
            #expect(result.status == 0)
            for round in 0..<3 {
                // A large write, so the evaluator is still applying it when the read arrives.
                let profiles = (0..<20_000).map { #"{"id":"r\#(round)-\#($0)","attributes":{"plan":"pro"}}"# }
                result = try await segclient(["import", "profiles", "-"], profiles.joined(separator: "\n"))
                #expect(result.status == 0)
                result = try await segclient(["members", "pro", "--count"], nil)
                #expect(result.stdout == "\((round + 1) * 20_000)\n")
            }
        }
    }
}
