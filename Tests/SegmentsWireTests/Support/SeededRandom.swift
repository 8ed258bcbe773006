/// A deterministic random number generator (SplitMix64), so that property tests are reproducible from their seed.
struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { self.state = seed }

    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &self) < p }

    mutating func pick<T>(_ items: [T]) -> T { items[Int.random(in: 0..<items.count, using: &self)] }

    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }

    mutating func bytes(count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &self) }
    }

    /// A value whose varint encoding takes anywhere from 1 to 10 bytes, biased to the edges.
    mutating func varintValue() -> UInt64 {
        let edges: [UInt64] = [0, 1, 127, 128, 255, 16_383, 16_384, 1 << 21, (1 << 35) - 1, 1 << 63, .max, .max - 1]
        if self.chance(0.3) { return self.pick(edges) }
        let bits = self.int(0...64)
        return bits == 64 ? self.next() : self.next() & ((1 << UInt64(bits)) &- 1)
    }

    /// A string mixing ASCII, multi-byte UTF-8 and the odd emoji; empty about a fifth of the time.
    mutating func text(maximumLength: Int = 40) -> String {
        guard !self.chance(0.2) else { return "" }
        let alphabet: [Character] = Array("abcXYZ019/._- ") + ["é", "ß", "日", "本", "😀", "\u{0}", "\n"]
        return String((0..<self.int(1...maximumLength)).map { _ in self.pick(alphabet) })
    }
}
