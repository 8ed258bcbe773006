import NIOPosix
import SegmentsSQLite
import Synchronization

/// Read-only connections for queries, the change feed and snapshots, each used by one thread at
/// a time. In WAL mode readers never block the writer and see only committed data.
final class StoreReaders: Sendable {
    /// One read connection; `@unchecked` because it is handed to one thread at a time by the pool.
    final class Connection: @unchecked Sendable {
        let sqlite: SQLiteConnection

        init(_ sqlite: SQLiteConnection) {
            self.sqlite = sqlite
        }
    }

    private let idle: Mutex<[Connection]>
    private let threads: NIOThreadPool

    /// Opens `count` read connections to the database at `path`.
    init(path: String, count: Int) throws(ProfileStoreError) {
        var connections: [Connection] = []
        do {
            for _ in 0..<max(1, count) {
                let sqlite = try SQLiteConnection(
                    path: path,
                    options: .init(readOnly: true, createIfMissing: false, journalMode: nil, synchronous: nil)
                )
                connections.append(Connection(sqlite))
            }
        } catch {
            throw ProfileStoreError(.startup, "cannot open read connections: \(error)", underlying: error)
        }
        self.idle = Mutex(connections)
        self.threads = NIOThreadPool(numberOfThreads: connections.count)
        self.threads.start()
    }

    /// Runs `body` with a read connection on a reader thread.
    /// - Parameter body: the query; throws ``ProfileStoreError`` to fail.
    func read<Result: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> Result) async throws(ProfileStoreError)
        -> Result
    {
        let connection = try await self.checkOut()
        defer { self.checkIn(connection) }
        return try await self.run(on: connection, body)
    }

    /// Takes a connection for a sequence of reads (e.g. a snapshot inside one read transaction).
    /// Give it back with ``checkIn(_:)``.
    func checkOut() async throws(ProfileStoreError) -> Connection {
        while true {
            if let connection = self.idle.withLock({ $0.popLast() }) {
                return connection
            }
            // All connections are busy with long reads: wait a little and retry.
            do {
                try await Task.sleep(for: .milliseconds(1))
            } catch {
                throw ProfileStoreError(.storage, "read cancelled")
            }
        }
    }

    /// Returns a connection taken with ``checkOut()``.
    func checkIn(_ connection: Connection) {
        self.idle.withLock { $0.append(connection) }
    }

    /// Runs `body` on a reader thread with a connection taken by ``checkOut()``.
    func run<Result: Sendable>(
        on connection: Connection,
        _ body: @escaping @Sendable (SQLiteConnection) throws -> Result
    ) async throws(ProfileStoreError) -> Result {
        do {
            return try await self.threads.runIfActive {
                try body(connection.sqlite)
            }
        } catch let error as ProfileStoreError {
            throw error
        } catch {
            throw ProfileStoreError(.storage, "read failed: \(error)", underlying: error)
        }
    }

    /// Stops the reader threads.
    func shutdown() async {
        try? await self.threads.shutdownGracefully()
    }
}
