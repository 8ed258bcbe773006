import SegmentsBenchKit

/// What a run does, from the command line.
struct BenchOptions: Sendable {
    var scale: BenchScale
    var seed: UInt64
    var outputDirectory: String
    /// Shorter timed phases and fewer samples (the smoke test).
    var quick: Bool
    /// Where `profile-store` and `segment-evaluator` are; default: next to segbench.
    var binDirectory: String
    /// Running daemons to use instead of starting our own (then restart and memory are skipped).
    var storeSocket: String?
    var evaluatorSocket: String?
    /// Parent of the temporary directory for sockets and data.
    var workDirectory: String
    /// Keep the temporary directory.
    var keep: Bool
    /// Store durability passed to `profile-store --durability`.
    var durability: String
    /// The PostgreSQL database the store keeps its data in (`profile-store --postgres`), instead of SQLite.
    var postgres: String?
    /// How many segments the SQL baseline computes whole (0 = all).
    var baselineSegments: Int
    var commandLine: String

    /// Timed-phase length and sample counts.
    var queryPhaseSeconds: Double { self.quick ? 0.5 : 3 }
    var freshnessSamples: Int { self.quick ? 100 : 1000 }
    var latenessSamples: Int { self.quick ? 40 : 300 }
    var burstUsers: Int { self.quick ? 2000 : min(100_000, max(10_000, self.scale.users / 10)) }
    var liveSeconds: Double { self.quick ? 1.5 : 8 }
    var baselineUserSamples: Int { self.quick ? 200 : 2000 }
    var concurrencies: [Int] { [1, 8, 64] }
}
