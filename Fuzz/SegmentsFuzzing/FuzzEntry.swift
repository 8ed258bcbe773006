import Foundation

/// What the fuzz executables' libFuzzer callbacks do, so each is two lines.
public enum FuzzEntry {
    /// Runs `check` on one input; a finding crashes the process with its message, so libFuzzer
    /// saves the input.
    /// - Parameters:
    ///   - check: the target's checks.
    ///   - data: the input's bytes.
    ///   - size: the input's length.
    /// - Returns: 0, as libFuzzer expects.
    public static func run(
        _ check: ([UInt8]) throws(FuzzFinding) -> Void,
        _ data: UnsafePointer<UInt8>,
        _ size: Int
    ) -> CInt {
        do {
            try check(Array(UnsafeBufferPointer(start: data, count: size)))
        } catch {
            fatalError("fuzz finding: \(error.message)")
        }
        return 0
    }

    /// At libFuzzer's start: when `SEGMENTS_FUZZ_WRITE_SEEDS` names a directory, writes `seeds`
    /// there (`seed-1`, `seed-2`, …) and exits, for `dev/fuzz.sh --seed`.
    /// - Parameter seeds: the target's seed inputs.
    public static func initialize(seeds: @autoclosure () -> [[UInt8]]) {
        guard let directory = ProcessInfo.processInfo.environment["SEGMENTS_FUZZ_WRITE_SEEDS"] else { return }
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (index, seed) in seeds().enumerated() {
            _ = FileManager.default.createFile(atPath: "\(directory)/seed-\(index + 1)", contents: Data(seed))
        }
        exit(0)
    }
}
