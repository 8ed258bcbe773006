import SegmentsSQLite
import SegmentsWire

/// The transition log's index by segment, kept as blocks: one row per segment per write, holding the log
/// numbers of that segment's transitions in the write (`segment_blocks(segment, first_seq, last_seq, seqs)`,
/// the numbers as varint deltas).
///
/// An SQLite index on `(segment, seq)` cost a B-tree insert per transition, about 2.3 µs each (an SQLite CLI
/// experiment: 1M rows in 5.0 s with it, 2.5 s without), which was half of what a transition cost to record —
/// in a catch-up, a time-driven burst and a new segment's thousands of enters alike. A write touches a few
/// dozen segments, so it adds a few dozen rows here instead of one index entry per transition. Reading a
/// segment's history then looks its transitions up by number, which only `history --segment` does.
enum SegmentBlocks {
    /// The table (created by the migration to schema version 6).
    static let schema = """
        CREATE TABLE segment_blocks(
            segment TEXT NOT NULL, first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL, seqs BLOB NOT NULL,
            PRIMARY KEY (segment, first_seq)
        ) WITHOUT ROWID;
        """

    /// The most numbers one block holds when the index is built from an existing log.
    static let rebuildBlockSize = 4096

    /// `seqs` (increasing) as deltas from the first of them (so the first is 0), each an unsigned LEB128 varint.
    static func encode(_ seqs: [UInt64]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(seqs.count * 2)
        var previous = seqs.first ?? 0
        for seq in seqs {
            Varint.append(seq - previous, to: &bytes)
            previous = seq
        }
        return bytes
    }

    /// The numbers of a block: `first` plus the running sum of the deltas.
    ///
    /// - Throws: ``SegmentEvaluatorError`` (storage) when the bytes end inside a varint.
    static func decode(_ bytes: [UInt8], first: UInt64) throws(SegmentEvaluatorError) -> [UInt64] {
        var seqs: [UInt64] = []
        var current = first
        let complete = bytes.withUnsafeBufferPointer { bytes in
            var offset = 0
            while offset < bytes.count {
                guard let delta = Varint.read(bytes, at: &offset) else { return false }
                current += delta
                seqs.append(current)
            }
            return true
        }
        guard complete else {
            throw SegmentEvaluatorError(.storage, "a block of the transition log's segment index is truncated")
        }
        return seqs
    }

    /// Records the blocks of transitions numbered from `first`, in order (inside the caller's transaction).
    static func insert(segments: some Sequence<String>, from first: UInt64, in connection: SQLiteConnection) throws {
        var groups: [(segment: String, seqs: [UInt64])] = []
        var groupOf: [String: Int] = [:]
        var seq = first
        for segment in segments {
            if let g = groupOf[segment] {
                groups[g].seqs.append(seq)
            } else {
                groupOf[segment] = groups.count
                groups.append((segment, [seq]))
            }
            seq += 1
        }
        for group in groups { try write(group.segment, group.seqs, in: connection) }
    }

    /// Builds the blocks of a whole existing log (the migration from the per-row index).
    static func rebuild(in connection: SQLiteConnection) throws {
        let select = try connection.prepare("SELECT segment, seq FROM transitions ORDER BY segment, seq")
        var segment: String?
        var seqs: [UInt64] = []
        while try select.step() {
            let name = select.string(at: 0)
            if name != segment || seqs.count == Self.rebuildBlockSize {
                if let segment, !seqs.isEmpty { try write(segment, seqs, in: connection) }
                seqs.removeAll(keepingCapacity: true)
                segment = name
            }
            seqs.append(UInt64(select.int64(at: 1)))
        }
        if let segment, !seqs.isEmpty { try write(segment, seqs, in: connection) }
    }

    /// Writes one block: `seqs` (increasing, not empty) of `segment`.
    private static func write(_ segment: String, _ seqs: [UInt64], in connection: SQLiteConnection) throws {
        let insert = try connection.cachedStatement(
            "INSERT INTO segment_blocks(segment, first_seq, last_seq, seqs) VALUES (?1, ?2, ?3, ?4)"
        )
        defer { insert.reset() }
        try insert.bind(segment, at: 1)
        try insert.bind(Int64(seqs[0]), at: 2)
        try insert.bind(Int64(seqs[seqs.count - 1]), at: 3)
        try insert.bind(encode(seqs), at: 4)
        try insert.execute()
    }

    /// The numbers of a segment's transitions from `seq` on, at most `limit`, in order.
    static func seqs(
        of segment: String,
        from seq: UInt64,
        limit: Int,
        in connection: SQLiteConnection
    ) throws -> [UInt64] {
        let select = try connection.cachedStatement(
            "SELECT first_seq, seqs FROM segment_blocks WHERE segment = ?1 AND last_seq >= ?2 ORDER BY first_seq"
        )
        defer { select.reset() }
        try select.bind(segment, at: 1)
        try select.bind(Int64(seq), at: 2)
        var result: [UInt64] = []
        while result.count < limit, try select.step() {
            for number in try decode(select.blob(at: 1), first: UInt64(select.int64(at: 0))) where number >= seq {
                result.append(number)
                if result.count == limit { break }
            }
        }
        return result
    }
}
