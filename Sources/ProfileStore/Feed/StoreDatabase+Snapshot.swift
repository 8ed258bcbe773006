import SegmentsRPC
import SegmentsWire

extension StoreDatabase {
    /// Streams a consistent snapshot of all data as of one change-log number.
    func snapshot(
        _ request: Segments_V1_ReadSnapshotRequest,
        writer: RPCResponseWriter<Segments_V1_SnapshotChunk>
    ) async throws {
        guard request.shardCount <= 1 || request.shardIndex < request.shardCount else {
            throw ProfileStoreError(
                .invalidArgument,
                "shard_index \(request.shardIndex) is not below shard_count \(request.shardCount)"
            )
        }
        let connection = try await self.readers.checkOut()
        defer { self.readers.checkIn(connection) }
        let cursor = SnapshotCursor(request)
        let (nowMs, manual) = (self.clock.now(), self.clock.isManual)
        do {
            let first = try await self.readers.run(on: connection) { sqlite in
                try cursor.begin(sqlite, nowMs: nowMs, manualClock: manual)
            }
            try await writer.write(first)
            while let chunk = try await self.readers.run(on: connection, { connection in try cursor.next(connection) })
            {
                try await writer.write(chunk)
            }
        } catch {
            _ = try? await self.readers.run(on: connection) { connection in cursor.finish(connection) }
            throw error
        }
        _ = try? await self.readers.run(on: connection) { connection in cursor.finish(connection) }
    }
}
