import SegmentEngine
import SegmentsSQLite
import SegmentsWire

/// The saved users' states as an append-only series of chunks (table `engine_chunks`): each save
/// appends the records of the users it holds, and the newest record of a user is its state.
///
/// Rewriting each changed user's row in a table keyed by user id cost a B-tree descent and a
/// page rewrite per user — under live load, when most users change between saves, that was a
/// fifth of the evaluator's CPU. Appended chunks are written once, sequentially. What they cost
/// instead is space for the states that later records replaced, until ``EngineStateStore`` asks
/// for a complete save, which replaces them all.
///
/// A chunk's `data` is a run of records, each `varint idLength, id, varint stateLength, state`
/// (a state length of 0: the user was deleted); `records` counts them.
enum EngineStateChunks {
    /// The schema of the chunk table.
    static let schema =
        "CREATE TABLE engine_chunks(id INTEGER PRIMARY KEY, records INTEGER NOT NULL, data BLOB NOT NULL);"

    /// Bytes gathered before a chunk is inserted: large enough that a chunk is written as a run
    /// of overflow pages, small enough that reading one back needs little memory.
    static let targetBytes = 1 << 20

    /// Appends records as chunks, inside the caller's transaction; ``finish()`` writes the last one.
    struct Writer: ~Copyable {
        private let insert: SQLiteStatement
        private var buffer: [UInt8] = []
        private var pending = 0
        /// The records written so far.
        private(set) var records = 0

        init(_ sqlite: SQLiteConnection) throws(SQLiteError) {
            self.insert = try sqlite.cachedStatement("INSERT INTO engine_chunks(records, data) VALUES (?1, ?2)")
            self.buffer.reserveCapacity(EngineStateChunks.targetBytes + 64 * 1024)
        }

        /// Appends the state of `userID` (`nil`: deleted), encoding it in place.
        mutating func append(_ userID: String, state: UserStateSnapshot?) throws(SQLiteError) {
            var id = userID
            id.withUTF8 { Self.appendBytes($0, to: &self.buffer) }
            if let state {
                // The length goes before the state: a varint padded to four bytes is reserved and
                // filled in once the state is encoded in place (a longer state, never seen in
                // practice, is moved to make room).
                let lengthAt = self.buffer.count
                self.buffer.append(contentsOf: [0x80, 0x80, 0x80, 0])
                state.encode(into: &self.buffer)
                let length = self.buffer.count - lengthAt - 4
                if length < 1 << 28 {
                    for i in 0..<4 {
                        let continues: UInt8 = i < 3 ? 0x80 : 0
                        self.buffer[lengthAt + i] = UInt8(truncatingIfNeeded: length >> (7 * i)) & 0x7F | continues
                    }
                } else {
                    var varint: [UInt8] = []
                    Varint.append(UInt64(length), to: &varint)
                    self.buffer.replaceSubrange(lengthAt..<lengthAt + 4, with: varint)
                }
            } else {
                self.buffer.append(0)
            }
            try self.recordAppended()
        }

        /// Appends a record already encoded (`state` empty: deleted).
        mutating func append(
            _ userID: UnsafeBufferPointer<UInt8>,
            state: UnsafeBufferPointer<UInt8>
        )
            throws(SQLiteError)
        {
            Self.appendBytes(userID, to: &self.buffer)
            Self.appendBytes(state, to: &self.buffer)
            try self.recordAppended()
        }

        /// Writes the chunk being gathered, if any.
        mutating func finish() throws(SQLiteError) {
            guard self.pending > 0 else { return }
            try self.insert.bind(self.pending, at: 1)
            try self.insert.bind(self.buffer, at: 2)
            try self.insert.execute()
            self.buffer.removeAll(keepingCapacity: true)
            self.pending = 0
        }

        private mutating func recordAppended() throws(SQLiteError) {
            self.pending += 1
            self.records += 1
            if self.buffer.count >= EngineStateChunks.targetBytes { try self.finish() }
        }

        private static func appendBytes(_ bytes: UnsafeBufferPointer<UInt8>, to buffer: inout [UInt8]) {
            Varint.append(UInt64(bytes.count), to: &buffer)
            buffer.append(contentsOf: bytes)
        }
    }

    /// A chunk that cannot be read.
    struct CorruptChunk: Error, CustomStringConvertible {
        let chunkID: Int64
        var description: String { "saved state chunk \(self.chunkID) is corrupt" }
    }

    /// Calls `body` with the newest record of every user, newest chunks first, skipping deleted
    /// users; `body` gets the user id and the state's bytes, valid only during the call.
    static func forEachNewestRecord(
        in sqlite: SQLiteConnection,
        _ body: (UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>) throws -> Void
    ) throws {
        let ids = try sqlite.prepare("SELECT id FROM engine_chunks ORDER BY id DESC")
        var chunkIDs: [Int64] = []
        while try ids.step() { chunkIDs.append(ids.int64(at: 0)) }
        let read = try sqlite.prepare("SELECT data FROM engine_chunks WHERE id = ?1")
        var seen = Set<String>()
        for chunkID in chunkIDs {
            try read.bind(chunkID, at: 1)
            guard try read.step() else { throw CorruptChunk(chunkID: chunkID) }
            let data = read.blob(at: 0)
            read.reset()
            try data.withUnsafeBufferPointer { bytes in
                var offset = 0
                while offset < bytes.count {
                    guard let id = Self.field(bytes, at: &offset), let state = Self.field(bytes, at: &offset) else {
                        throw CorruptChunk(chunkID: chunkID)
                    }
                    // One record per user in a chunk: the first seen, newest first, is the state.
                    guard seen.insert(String(decoding: id, as: UTF8.self)).inserted, !state.isEmpty else { continue }
                    try body(id, state)
                }
            }
        }
    }

    /// Bytes of a chunk.
    private typealias Bytes = UnsafeBufferPointer<UInt8>

    /// A length-prefixed field at `offset`, or `nil` when the bytes end first.
    private static func field(_ bytes: Bytes, at offset: inout Int) -> Bytes? {
        guard let length = Varint.read(bytes, at: &offset), length <= UInt64(bytes.count - offset) else { return nil }
        let start = offset
        offset += Int(length)
        return UnsafeBufferPointer(rebasing: bytes[start..<offset])
    }
}
