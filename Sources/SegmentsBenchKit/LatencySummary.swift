/// Percentiles of a set of latency samples, in microseconds.
public struct LatencySummary: Codable, Sendable, Hashable {
    /// Number of samples.
    public var samples: Int
    /// Median.
    public var p50Us: Double
    /// 99th percentile.
    public var p99Us: Double
    /// Largest sample.
    public var maxUs: Double
    /// Mean.
    public var meanUs: Double

    /// Summarises samples given in microseconds (nearest-rank percentiles). Empty input gives zeros.
    public init(microseconds values: [Double]) {
        let sorted = values.filter(\.isFinite).sorted()
        self.samples = sorted.count
        self.p50Us = Self.percentile(sorted, 0.50)
        self.p99Us = Self.percentile(sorted, 0.99)
        self.maxUs = sorted.last ?? 0
        self.meanUs = sorted.isEmpty ? 0 : sorted.reduce(0, +) / Double(sorted.count)
    }

    /// The nearest-rank percentile `q` (0…1) of sorted values; 0 when empty.
    public static func percentile(_ sorted: [Double], _ q: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let rank = Int((q * Double(sorted.count)).rounded(.up))
        return sorted[min(sorted.count - 1, max(0, rank - 1))]
    }
}
