import DaemonSupport
import SegmentsRPC
import SegmentsSQL
import SegmentsWire

extension StoreDatabase {
    /// Most entries in one ChangeBatch when the subscriber does not say.
    static let defaultFeedBatch = 1024
    /// A batch stops growing past this many payload bytes (frames stay well under 16 MiB).
    static let feedBatchBytes = 4 * 1024 * 1024

    /// Streams the change log from `from_seq`, then live entries as they commit, until the call
    /// is cancelled.
    ///
    /// A subscriber that names itself is registered first and is served entries scrubbed of
    /// deleted users as they were before, while they are held (see `StoreDatabase+FeedRetention`).
    ///
    /// Batches are assembled from the stored entry bytes without decoding them: a `ChangeBatch`
    /// is field 1 (`entries`) repeated, each a length-delimited `ChangeEntry`, then field 2
    /// (`head_seq`).
    func subscribe(
        _ request: Segments_V1_SubscribeRequest,
        writer: RPCResponseWriter<Segments_V1_ChangeBatch>
    ) async throws {
        var next = max(request.fromSeq, 1)
        let head = self.notifier.headSeq
        guard next <= head + 1 else {
            throw ProfileStoreError(.outOfRange, "from_seq \(next) is beyond the change log (head \(head))")
        }
        let limit = request.maxBatch == 0 ? Self.defaultFeedBatch : Int(min(request.maxBatch, 65_536))
        try await self.registerSubscriber(request)
        let held = !request.subscriberID.isEmpty
        while true {
            let head = self.notifier.headSeq
            guard next <= head else {
                _ = try await self.notifier.waitForHead(after: next - 1)
                continue
            }
            let from = next
            let batch = try await self.readers.read { connection in
                try Self.readFeedBatch(from: from, limit: limit, head: head, held: held, in: connection)
            }
            guard batch.count > 0 else {
                // The head was published, so its rows are committed; an empty read means the
                // entries were not found, which only a damaged database explains.
                throw ProfileStoreError(.storage, "change-log entry \(from) is missing")
            }
            try await writer.write(serializedBytes: batch.bytes)
            next += UInt64(batch.count)
        }
    }

    private static func readFeedBatch(
        from seq: UInt64,
        limit: Int,
        head: UInt64,
        held: Bool,
        in connection: any SQLConnection
    ) throws -> (bytes: [UInt8], count: Int) {
        let join = try held && Self.holdsEntries(from: seq, through: head, in: connection)
        let select = try connection.cachedStatement(
            join
                ? """
                SELECT c.seq, coalesce(h.payload, c.payload) FROM change_log c LEFT JOIN held_entries h ON h.seq = c.seq
                WHERE c.seq >= ? AND c.seq <= ? ORDER BY c.seq LIMIT ?
                """
                : "SELECT seq, payload FROM change_log WHERE seq >= ? AND seq <= ? ORDER BY seq LIMIT ?"
        )
        defer { select.reset() }
        // Where the rows of a query all come at once (PostgreSQL), a few at a time, until the batch is full: a
        // catch-up's entries can be megabytes each, and most of a large read would be thrown away.
        let rowsPerQuery = connection.streamsRows ? limit : min(limit, Self.logEntriesPerQuery)
        var bytes: [UInt8] = []
        var count = 0
        var expected = seq
        var more = true
        while more, count < limit, bytes.count < Self.feedBatchBytes, expected <= head {
            try select.bind(Int64(expected), at: 1)
            try select.bind(Int64(head), at: 2)
            try select.bind(min(rowsPerQuery, limit - count), at: 3)
            var rows = 0
            while bytes.count < Self.feedBatchBytes, try select.step() {
                guard UInt64(select.int64(at: 0)) == expected else {
                    throw ProfileStoreError(.storage, "change log has a gap at \(expected)")
                }
                select.withBlob(at: 1) { payload in
                    bytes.appendProtobufTag(field: 1, wireType: 2)
                    Varint.append(UInt64(payload.count), to: &bytes)
                    bytes.append(contentsOf: payload)
                }
                count += 1
                rows += 1
                expected += 1
            }
            select.reset()
            more = rows == rowsPerQuery
        }
        bytes.appendProtobufTag(field: 2, wireType: 0)
        Varint.append(head, to: &bytes)
        return (bytes, count)
    }
}

extension StoreDatabase {
    /// Whether any entry in `from...through` is held for registered subscribers (usually none:
    /// then the feed reads the log alone).
    fileprivate static func holdsEntries(
        from seq: UInt64,
        through head: UInt64,
        in connection: any SQLConnection
    ) throws -> Bool {
        let select = try connection.cachedStatement(
            "SELECT EXISTS (SELECT 1 FROM held_entries WHERE seq >= ? AND seq <= ?)"
        )
        defer { select.reset() }
        try select.bind(Int64(seq), at: 1)
        try select.bind(Int64(head), at: 2)
        _ = try select.step()
        return select.int64(at: 0) != 0
    }
}

extension [UInt8] {
    /// Appends a protobuf field key.
    mutating func appendProtobufTag(field: UInt64, wireType: UInt64) {
        Varint.append(field << 3 | wireType, to: &self)
    }
}
