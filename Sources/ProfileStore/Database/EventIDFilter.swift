/// A Bloom filter over the `(user, event id)` pairs the store has seen, in front of the
/// `event_ids` table: "not seen" is certain and needs no lookup, "maybe seen" is checked in
/// SQLite.
///
/// Nearly every event a client sends is new, so without it each event with an id cost a B-tree
/// descent in `event_ids`, whose pages are mostly not cached at millions of users (measured: the
/// largest item of the store's live path). With it, a lookup happens for the duplicates and for
/// about 1 % of the new ids (the false positives).
///
/// The filter never forgets (a deleted user's ids stay in it: a false positive costs a lookup
/// and nothing else). It is sized once, at start-up, for twice the events stored then (at least 4M,
/// 10 bits each); past that the false-positive rate rises gradually (~2 % at twice the size) and
/// the next start sizes it anew.
///
/// Blocked: the bits of one pair all lie in one 64-byte block (one cache line), chosen by one hash,
/// the bits within it by the other. A filter of many megabytes is mostly not in the processor's caches,
/// and with each of the 7 bits anywhere in it, every lookup and every insert cost up to 7 cache misses
/// on the store's writer thread; now one. The false-positive rate at 10 bits per pair goes from about
/// 0.8 % to about 1 %.
///
/// Used on one thread at a time: loaded on a reader thread, then handed to the writer thread for good
/// (hence `@unchecked Sendable`).
final class EventIDFilter: @unchecked Sendable {
    /// The blocks, 8 words each, aligned on 64 bytes.
    private let words: UnsafeMutablePointer<UInt64>
    private let wordCount: Int
    /// The number of blocks minus one (a power of two minus one).
    private let blockMask: UInt64

    /// Hash functions (bits set per pair).
    static let hashes = 7

    /// - Parameter capacity: the number of pairs to hold at about 1 % false positives.
    init(capacity: Int) {
        // 10 bits per pair, rounded up to a power of two (at least 2^22 bits).
        var bits: UInt64 = 1 << 22
        while bits < UInt64(max(capacity, 0)) * 10 { bits <<= 1 }
        self.wordCount = Int(bits / 64)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: self.wordCount * 8, alignment: 64)
        self.words = raw.initializeMemory(as: UInt64.self, repeating: 0, count: self.wordCount)
        self.blockMask = UInt64(self.wordCount / 8) - 1
    }

    deinit {
        self.words.deinitialize(count: self.wordCount)
        UnsafeMutableRawPointer(self.words).deallocate()
    }

    /// The first word of the pair's block and the second hash, whose 9-bit pieces place the bits.
    @inline(__always)
    private func block(_ userKey: Int64, _ eventID: String) -> (UnsafeMutablePointer<UInt64>, UInt64) {
        let (h1, h2) = Self.hash(userKey, eventID)
        return (self.words + Int(h1 & self.blockMask) * 8, h2)
    }

    /// Adds a pair.
    func insert(userKey: Int64, eventID: String) {
        let (block, h2) = self.block(userKey, eventID)
        for i in 0..<UInt64(Self.hashes) {
            let bit = (h2 >> (9 * i)) & 511
            block[Int(bit >> 6)] |= 1 << (bit & 63)
        }
    }

    /// Adds every pair of `other`, a filter of the same capacity.
    func formUnion(_ other: EventIDFilter) {
        precondition(other.wordCount == self.wordCount, "event-id filters of different sizes")
        for index in 0..<self.wordCount {
            self.words[index] |= other.words[index]
        }
    }

    /// Whether the pair may have been added (`false`: it certainly was not).
    func mayContain(userKey: Int64, eventID: String) -> Bool {
        let (block, h2) = self.block(userKey, eventID)
        for i in 0..<UInt64(Self.hashes) {
            let bit = (h2 >> (9 * i)) & 511
            if block[Int(bit >> 6)] & (1 << (bit & 63)) == 0 { return false }
        }
        return true
    }

    /// Two 64-bit hashes of the pair: FNV-1a over the key's and the id's bytes, then two different
    /// finalizing mixes (one chooses the block, the other the bits in it).
    private static func hash(_ userKey: Int64, _ eventID: String) -> (UInt64, UInt64) {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        var key = UInt64(bitPattern: userKey)
        for _ in 0..<8 {
            h = (h ^ (key & 0xFF)) &* 0x100_0000_01b3
            key >>= 8
        }
        for byte in eventID.utf8 { h = (h ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return (Self.mix(h), Self.mix(h ^ 0x9e37_79b9_7f4a_7c15))
    }

    /// A 64-bit finalizer (from SplitMix64): spreads every input bit over the output.
    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
