@_spi(SegmentsInternal) import SegmentsClient
import SegmentsTesting
import SegmentsWire

/// Runs `body` against a fresh in-process store in a temporary directory, once on each backend
/// (SQLite, and PostgreSQL when the test command started a server).
func withStore<Result: Sendable>(
    manualClockMs: Int64? = 1_793_491_200_000,
    _ body: @Sendable (InProcessProfileStore) async throws -> Result
) async throws -> Result {
    try await TestStoreBackend.withEach {
        try await TemporaryDirectory.with { directory in
            try await InProcessProfileStore.with(directory: directory, manualClockMs: manualClockMs, body)
        }
    }
}

/// Runs `body` with a fresh temporary directory once on each backend (SQLite, and PostgreSQL when
/// the test command started a server): stores started on it keep their data there, or in a
/// PostgreSQL database of the directory's own.
func withStoreDirectory<Result: Sendable>(_ body: @Sendable (String) async throws -> Result) async throws -> Result {
    try await TestStoreBackend.withEach {
        try await TemporaryDirectory.with(body)
    }
}

/// Reads the change log from `fromSeq` until `count` entries arrived.
func readLog(_ client: SegmentsClient, fromSeq: UInt64, count: Int) async throws -> [Segments_V1_ChangeEntry] {
    var entries: [Segments_V1_ChangeEntry] = []
    guard count > 0 else { return entries }
    for try await batch in try await client.changes(fromSeq: fromSeq) {
        entries.append(contentsOf: batch.entries)
        if entries.count >= count { break }
    }
    return entries
}

/// The code of the error `body` throws, or `nil` when it does not throw.
func errorCode<T>(_ body: () async throws -> T) async -> SegmentsClientError.Code? {
    do {
        _ = try await body()
        return nil
    } catch let error as SegmentsClientError {
        return error.code
    } catch {
        return nil
    }
}
