import NIOPosix
import SegmentsSQL
import Synchronization

/// Read connections for queries, the change feed and snapshots, each used by one thread at a
/// time. They see only committed data and never block the writer (SQLite in WAL mode, PostgreSQL's
/// MVCC).
final class StoreReaders: Sendable {
    /// One read connection; `@unchecked` because it is handed to one thread at a time by the pool.
    final class Connection: @unchecked Sendable {
        let sql: any SQLConnection

        init(_ sql: any SQLConnection) {
            self.sql = sql
        }
    }

    private struct Pool {
        var idle: [Connection]
        /// Callers waiting for a connection, first come first served.
        var waiters: [(id: UInt64, continuation: CheckedContinuation<Connection?, Never>)] = []
        var nextWaiterID: UInt64 = 0
    }

    private let pool: Mutex<Pool>
    private let threads: NIOThreadPool

    /// Opens `count` read connections with `open`.
    init(count: Int, open: () throws -> any SQLConnection) throws(ProfileStoreError) {
        var connections: [Connection] = []
        do {
            for _ in 0..<max(1, count) {
                connections.append(Connection(try open()))
            }
        } catch {
            throw ProfileStoreError(.startup, "cannot open read connections: \(error)", underlying: error)
        }
        self.pool = Mutex(Pool(idle: connections))
        self.threads = NIOThreadPool(numberOfThreads: connections.count)
        self.threads.start()
    }

    /// Runs `body` with a read connection on a reader thread.
    /// - Parameter body: the query; throws ``ProfileStoreError`` to fail.
    func read<Result: Sendable>(
        _ body: @escaping @Sendable (any SQLConnection) throws -> Result
    ) async throws(ProfileStoreError)
        -> Result
    {
        let connection = try await self.checkOut()
        defer { self.checkIn(connection) }
        return try await self.run(on: connection, body)
    }

    /// Takes a connection for a sequence of reads (e.g. a snapshot inside one read transaction),
    /// waiting for one to be given back when all are busy. Give it back with ``checkIn(_:)``.
    /// - Throws: ``ProfileStoreError`` when the task is cancelled while waiting.
    func checkOut() async throws(ProfileStoreError) -> Connection {
        let id = self.pool.withLock { pool -> UInt64 in
            defer { pool.nextWaiterID += 1 }
            return pool.nextWaiterID
        }
        let connection = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Connection?, Never>) in
                let ready: Connection?? = self.pool.withLock { pool in
                    if Task.isCancelled { return .some(nil) }
                    if let connection = pool.idle.popLast() { return .some(connection) }
                    pool.waiters.append((id, continuation))
                    return nil
                }
                if let ready {
                    continuation.resume(returning: ready)
                }
            }
        } onCancel: {
            let waiter = self.pool.withLock { pool -> CheckedContinuation<Connection?, Never>? in
                guard let index = pool.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return pool.waiters.remove(at: index).continuation
            }
            waiter?.resume(returning: nil)
        }
        guard let connection else {
            throw ProfileStoreError(.storage, "read cancelled")
        }
        return connection
    }

    /// Returns a connection taken with ``checkOut()``, handing it to the longest waiter if any.
    func checkIn(_ connection: Connection) {
        let waiter = self.pool.withLock { pool -> CheckedContinuation<Connection?, Never>? in
            guard !pool.waiters.isEmpty else {
                pool.idle.append(connection)
                return nil
            }
            return pool.waiters.removeFirst().continuation
        }
        waiter?.resume(returning: connection)
    }

    /// Runs `body` on a reader thread with a connection taken by ``checkOut()``.
    func run<Result: Sendable>(
        on connection: Connection,
        _ body: @escaping @Sendable (any SQLConnection) throws -> Result
    ) async throws(ProfileStoreError) -> Result {
        do {
            return try await self.threads.runIfActive {
                try body(connection.sql)
            }
        } catch let error as ProfileStoreError {
            throw error
        } catch {
            throw ProfileStoreError(.storage, "read failed: \(error)", underlying: error)
        }
    }

    /// Closes the idle read connections and stops the reader threads.
    func shutdown() async {
        // Closed here rather than whenever the last reference goes: see ``StoreDatabase/close()``.
        let idle = self.pool.withLock { $0.idle }
        try? await self.threads.runIfActive {
            for connection in idle { connection.sql.close() }
        }
        try? await self.threads.shutdownGracefully()
    }
}
