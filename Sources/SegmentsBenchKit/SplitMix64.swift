import Foundation

/// A small, fast, seedable pseudo-random generator (SplitMix64), so generated data is identical on
/// every machine and Swift version for the same seed.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// Creates a generator from a seed.
    /// - Parameter seed: any value; equal seeds give equal sequences.
    public init(seed: UInt64) {
        self.state = seed
    }

    /// Creates the generator of one stream of a seed (e.g. one user), independent of the others.
    /// - Parameters:
    ///   - seed: the run's seed.
    ///   - stream: which stream, e.g. a user index.
    ///   - purpose: a small constant separating uses of the same stream.
    public init(seed: UInt64, stream: UInt64, purpose: UInt64) {
        var mixer = SplitMix64(seed: seed ^ (stream &* 0x9E37_79B9_7F4A_7C15) ^ (purpose &* 0xD1B5_4A32_D192_ED03))
        self.state = mixer.next()
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A double uniformly distributed in `[0, 1)`.
    public mutating func unit() -> Double {
        Double(self.next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// An integer uniformly distributed in `0..<bound` (`bound` > 0).
    public mutating func below(_ bound: Int) -> Int {
        Int(self.next() % UInt64(max(1, bound)))
    }

    /// A standard normal variate (Box–Muller).
    public mutating func gaussian() -> Double {
        let u1 = max(self.unit(), 1e-12)
        let u2 = self.unit()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    /// Picks an index with probability proportional to `weights`.
    public mutating func pick(_ weights: [Double]) -> Int {
        let total = weights.reduce(0, +)
        var x = self.unit() * total
        for (index, weight) in weights.enumerated() {
            if x < weight { return index }
            x -= weight
        }
        return weights.count - 1
    }
}
