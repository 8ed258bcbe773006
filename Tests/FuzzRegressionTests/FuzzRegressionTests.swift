import Foundation
import SegmentsFuzzing
import Testing

/// Replays every committed fuzz input — the regressions (inputs that once found a bug) and the
/// corpora — through the same checks the libFuzzer targets run, without libFuzzer. Serialized:
/// the store and evaluator checks share one store and one evaluator per process.
@Suite(.serialized) struct FuzzRegressionTests {
    /// A fuzz target: its directory name under `Fuzz/corpus` and `Fuzz/regressions`, and its checks.
    struct Target: Sendable, CustomTestStringConvertible {
        let name: String
        let check: @Sendable ([UInt8]) throws(FuzzFinding) -> Void
        let seeds: @Sendable () -> [[UInt8]]
        var testDescription: String { self.name }
    }

    static let targets = [
        Target(name: "wire-fuzz", check: WireChecks.check, seeds: { WireChecks.seeds }),
        Target(name: "store-rpc-fuzz", check: StoreChecks.check, seeds: { StoreChecks.seeds }),
        Target(name: "evaluator-rpc-fuzz", check: EvaluatorChecks.check, seeds: { EvaluatorChecks.seeds }),
        Target(name: "ndjson-fuzz", check: NDJSONChecks.check, seeds: { NDJSONChecks.seeds }),
        Target(name: "webhook-fuzz", check: WebhookChecks.check, seeds: { WebhookChecks.seeds }),
    ]

    /// `Fuzz/` of this package.
    static let fuzzDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz")

    static func inputs(in kind: String, of target: Target) -> [(name: String, bytes: [UInt8])] {
        let directory = Self.fuzzDirectory.appendingPathComponent(kind).appendingPathComponent(target.name)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.sorted().compactMap { name in
            guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent(name).path) else {
                return nil
            }
            return (name, Array(data))
        }
    }

    @Test("regressions and corpus replay without a finding", arguments: Self.targets)
    func replay(_ target: Target) {
        let inputs = Self.inputs(in: "regressions", of: target) + Self.inputs(in: "corpus", of: target)
        #expect(!inputs.isEmpty, "no committed inputs for \(target.name)")
        for input in inputs {
            do {
                try target.check(input.bytes)
            } catch {
                Issue.record("\(target.name)/\(input.name): \(error.message)")
            }
        }
    }

    @Test("seeds pass the checks", arguments: Self.targets)
    func seeds(_ target: Target) {
        for (index, seed) in target.seeds().enumerated() {
            do {
                try target.check(seed)
            } catch {
                Issue.record("\(target.name) seed \(index + 1): \(error.message)")
            }
        }
    }
}
