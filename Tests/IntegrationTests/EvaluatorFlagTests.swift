import Foundation
import SegmentsTesting
import Testing

/// The evaluator's interval flags: a bad value is refused before anything starts, naming the flag.
@Suite struct EvaluatorFlagTests {
    @Test(arguments: [
        (["--state-interval-ms", "50"], "--state-interval-ms '50' must be a whole number ≥ 100"),
        (["--state-interval-ms", "soon"], "The value 'soon' is invalid for '--state-interval-ms"),
        (["--stall-timeout-ms", "0"], "--stall-timeout-ms '0' must be a whole number ≥ 100"),
    ])
    func aBadIntervalIsRefusedWithItsFlag(arguments: [String], message: String) async throws {
        try await TemporaryDirectory.with { directory in
            let result = try await CommandResult.run(
                BuiltProducts.path(of: "segment-evaluator"),
                [
                    "--store", directory + "/store.sock", "--socket", directory + "/ev.sock", "--data-dir",
                    directory + "/ev",
                ]
                    + arguments
            )
            #expect(result.status != 0)
            #expect(result.stderr.contains(message), "\(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: directory + "/ev"), "it started before refusing")
        }
    }
}
