import Hummingbird
import SegmentLanguage
import SegmentsClient
import SegmentsJSON
import Synchronization

/// A segment's transitions pushed to browsers as server-sent events, from a watch of every evaluator shard.
///
/// Memory stays bounded whatever a browser does: at most ``maximum`` feeds at once (more get 503), and between the
/// shards' watches and a browser that reads slowly sits a buffer of at most ``bufferSize`` transitions per feed;
/// when it is full the oldest are dropped and the browser is told how many it missed (a `skipped` event).
final class LiveFeeds: Sendable {
    static let bufferSize = 1000
    private let client: SegmentsClient
    let maximum: Int
    private struct Open {
        var count = 0
        var nextID = 0
        /// Each open feed's buffer, to end it at shutdown.
        var buffers: [Int: AsyncStream<Item>.Continuation] = [:]
        var closed = false
    }

    private let open = Mutex(Open())

    init(client: SegmentsClient, maximum: Int) {
        self.client = client
        self.maximum = maximum
    }

    /// Feeds being served now.
    var active: Int { self.open.withLock { $0.count } }

    /// Ends every open feed and refuses new ones (the console is shutting down: a browser holding a feed open must
    /// not keep it running).
    func closeAll() {
        let buffers = self.open.withLock { open in
            open.closed = true
            return Array(open.buffers.values)
        }
        for buffer in buffers { buffer.finish() }
    }

    private enum Item: Sendable {
        case transition(SegmentsTransition)
        case failed(String)
    }

    func response(for segment: String) async -> Response {
        do throws(SegmentsClientError) {
            _ = try await self.client.segment(segment)
        } catch {
            return ConsolePages.failure(error, what: "segment '\(segment)'")
        }
        let (items, continuation) = AsyncStream.makeStream(
            of: Item.self,
            bufferingPolicy: .bufferingNewest(Self.bufferSize)
        )
        let admitted = self.open.withLock { open -> Int? in
            guard open.count < self.maximum, !open.closed else { return nil }
            open.count += 1
            open.nextID += 1
            open.buffers[open.nextID] = continuation
            return open.nextID
        }
        guard let feedID = admitted else {
            return ConsolePages.html(
                .serviceUnavailable,
                title: "Too many live feeds",
                body: "<h1>Too many live feeds</h1><p>\(self.maximum) browsers are watching already.</p>"
            )
        }
        let client = self.client
        let shards = client.configuration.evaluatorSocketPaths.count
        let body = ResponseBody { writer in
            defer {
                self.open.withLock { open in
                    open.count -= 1
                    open.buffers[feedID] = nil
                }
            }
            let dropped = DropCount()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for shard in 0..<shards {
                    group.addTask {
                        do {
                            for try await batch in try await client.watch(segments: [segment], shard: shard) {
                                for transition in batch {
                                    if case .dropped = continuation.yield(.transition(transition)) {
                                        dropped.add()
                                    }
                                }
                            }
                        } catch is CancellationError {
                        } catch {
                            continuation.yield(.failed("\(error)"))
                        }
                    }
                }
                // Here, not in a child task: the writer belongs to this request. When it fails (the browser went
                // away) or a watch fails, the watches are stopped.
                defer { group.cancelAll() }
                try await writer.write(ByteBuffer(string: ": live\n\n"))
                for await item in items {
                    let missed = dropped.take()
                    if missed > 0 {
                        try await writer.write(ByteBuffer(string: "event: skipped\ndata: \(missed)\n\n"))
                    }
                    switch item {
                    case .transition(let transition):
                        let data = JSONValue.object([
                            ("kind", .string(transition.kind.rawValue)), ("user", .string(transition.userID)),
                            ("at", .string(RFC3339.format(transition.atMs))),
                            ("seq", .number(Double(transition.seq))), ("shard", .number(Double(transition.shard))),
                        ]).serialized
                        try await writer.write(ByteBuffer(string: "event: transition\ndata: \(data)\n\n"))
                    case .failed(let message):
                        try await writer.write(ByteBuffer(string: "event: failed\ndata: \(message)\n\n"))
                        return
                    }
                }
            }
            continuation.finish()
            try await writer.finish(nil)
        }
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-store"],
            body: body
        )
    }
}

/// Transitions dropped from a feed's buffer since the browser was last told.
private final class DropCount: Sendable {
    private let value = Atomic<Int>(0)

    func add() {
        self.value.add(1, ordering: .relaxed)
    }

    /// The count, reset to 0.
    func take() -> Int {
        self.value.exchange(0, ordering: .relaxed)
    }
}
