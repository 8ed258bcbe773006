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
/// Used on one thread at a time: loaded on a reader thread, then handed to the writer thread for good
/// (hence `@unchecked Sendable`).
final class EventIDFilter: @unchecked Sendable {
    private var words: [UInt64]
    private let mask: UInt64

    /// Hash functions (bits set per pair).
    static let hashes = 7

    /// - Parameter capacity: the number of pairs to hold at about 1 % false positives.
    init(capacity: Int) {
        // 10 bits per pair, rounded up to a power of two (at least 2^22 bits).
        var bits: UInt64 = 1 << 22
        while bits < UInt64(max(capacity, 0)) * 10 { bits <<= 1 }
        self.words = Array(repeating: 0, count: Int(bits / 64))
        self.mask = bits - 1
    }

    /// Adds a pair.
    func insert(userKey: Int64, eventID: String) {
        let (h1, h2) = Self.hash(userKey, eventID)
        for i in 0..<UInt64(Self.hashes) {
            let bit = (h1 &+ i &* h2) & self.mask
            self.words[Int(bit >> 6)] |= 1 << (bit & 63)
        }
    }

    /// Adds every pair of `other`, a filter of the same capacity.
    func formUnion(_ other: EventIDFilter) {
        precondition(other.words.count == self.words.count, "event-id filters of different sizes")
        for index in self.words.indices {
            self.words[index] |= other.words[index]
        }
    }

    /// Whether the pair may have been added (`false`: it certainly was not).
    func mayContain(userKey: Int64, eventID: String) -> Bool {
        let (h1, h2) = Self.hash(userKey, eventID)
        for i in 0..<UInt64(Self.hashes) {
            let bit = (h1 &+ i &* h2) & self.mask
            if self.words[Int(bit >> 6)] & (1 << (bit & 63)) == 0 { return false }
        }
        return true
    }

    /// Two 64-bit hashes of the pair for double hashing: FNV-1a over the key's and the id's bytes,
    /// then two different finalizing mixes (the second made odd, so the probes cover the table).
    private static func hash(_ userKey: Int64, _ eventID: String) -> (UInt64, UInt64) {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        var key = UInt64(bitPattern: userKey)
        for _ in 0..<8 {
            h = (h ^ (key & 0xFF)) &* 0x100_0000_01b3
            key >>= 8
        }
        for byte in eventID.utf8 { h = (h ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return (Self.mix(h), Self.mix(h ^ 0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// A 64-bit finalizer (from SplitMix64): spreads every input bit over the output.
    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
