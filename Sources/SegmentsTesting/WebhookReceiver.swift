import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A real HTTP/1.1 server on `127.0.0.1` and an ephemeral port that records the requests it gets
/// and answers each as a test decides: a status code, or no answer at all (a hung endpoint).
public final class WebhookReceiver: Sendable {
    /// One request as received.
    public struct Request: Sendable, Hashable {
        /// `POST`, …
        public var method: String
        /// The request target, e.g. `/hook`.
        public var uri: String
        /// Header values by lowercased name (the last one wins).
        public var headers: [String: String]
        /// The body bytes.
        public var body: [UInt8]
        /// How the receiver answered it.
        public var reply: Reply = .hang
        /// The body as text.
        public var text: String { String(decoding: self.body, as: UTF8.self) }
    }

    /// How to answer a request.
    public enum Reply: Sendable, Hashable {
        /// Answer with this status code and an empty body.
        case status(Int)
        /// Never answer (the connection stays open until the client gives up).
        case hang
    }

    private struct State {
        var requests: [Request] = []
        var waiters: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []
    }

    private let state = Mutex(State())
    private let reply: @Sendable (_ index: Int, _ request: Request) -> Reply
    private let channel: NIOLockedValueBox<(any Channel)?> = NIOLockedValueBox(nil)

    /// The port it listens on.
    public private(set) var port: Int {
        get { self.portBox.withLockedValue { $0 } }
        set { self.portBox.withLockedValue { $0 = newValue } }
    }
    private let portBox = NIOLockedValueBox(0)

    /// `http://127.0.0.1:PORT` and `path`.
    public func url(_ path: String = "/hook") -> String {
        "http://127.0.0.1:\(self.port)\(path)"
    }

    private init(reply: @escaping @Sendable (Int, Request) -> Reply) {
        self.reply = reply
    }

    /// Starts a receiver, runs `body`, then stops it.
    /// - Parameters:
    ///   - reply: decides the answer to the `index`-th request (0-based, in arrival order); called
    ///     under the receiver's lock, so it must not call back into the receiver.
    ///   - body: the test.
    public static func with<Result>(
        reply: @escaping @Sendable (_ index: Int, _ request: Request) -> Reply = { _, _ in .status(200) },
        _ body: (WebhookReceiver) async throws -> Result
    ) async throws -> Result {
        let receiver = WebhookReceiver(reply: reply)
        try await receiver.start()
        do {
            let result = try await body(receiver)
            await receiver.stop()
            return result
        } catch {
            await receiver.stop()
            throw error
        }
    }

    private func start() async throws {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Handler(receiver: self))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        self.channel.withLockedValue { $0 = channel }
        self.port = channel.localAddress?.port ?? 0
    }

    /// Stops listening and closes the listening socket (open connections are left to close).
    public func stop() async {
        let channel = self.channel.withLockedValue { box in
            defer { box = nil }
            return box
        }
        try? await channel?.close()
    }

    /// Every request received so far, in arrival order.
    public var requests: [Request] {
        self.state.withLock { $0.requests }
    }

    /// Waits until at least `count` requests have arrived, at most `timeout`.
    /// - Returns: the requests received by then.
    @discardableResult
    public func waitForRequests(_ count: Int, timeout: Duration = .seconds(30)) async -> [Request] {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let ready = self.state.withLock { state -> Bool in
                        if state.requests.count >= count { return true }
                        state.waiters.append((count, continuation))
                        return false
                    }
                    if ready { continuation.resume() }
                }
            }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
            // Release a waiter left behind by the timeout.
            let leftovers = self.state.withLock { state in
                defer { state.waiters.removeAll() }
                return state.waiters.map(\.continuation)
            }
            for continuation in leftovers { continuation.resume() }
        }
        return self.requests
    }

    /// Records `request` and returns the answer to give.
    fileprivate func received(_ request: Request) -> Reply {
        var request = request
        let (reply, ready) = self.state.withLock { state -> (Reply, [CheckedContinuation<Void, Never>]) in
            let reply = self.reply(state.requests.count, request)
            request.reply = reply
            state.requests.append(request)
            let count = state.requests.count
            let ready = state.waiters.filter { $0.count <= count }.map(\.continuation)
            state.waiters.removeAll { $0.count <= count }
            return (reply, ready)
        }
        for continuation in ready { continuation.resume() }
        return reply
    }

    /// Collects one request and answers it.
    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        private let receiver: WebhookReceiver
        private var head: HTTPRequestHead?
        private var body: [UInt8] = []

        init(receiver: WebhookReceiver) {
            self.receiver = receiver
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch self.unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                self.body = []
            case .body(var buffer):
                self.body += buffer.readBytes(length: buffer.readableBytes) ?? []
            case .end:
                guard let head = self.head else { return }
                var headers: [String: String] = [:]
                for (name, value) in head.headers {
                    headers[name.lowercased()] = value
                }
                let request = Request(method: head.method.rawValue, uri: head.uri, headers: headers, body: self.body)
                self.head = nil
                switch self.receiver.received(request) {
                case .hang:
                    break
                case .status(let code):
                    var responseHeaders = HTTPHeaders()
                    responseHeaders.add(name: "Content-Length", value: "0")
                    let response = HTTPResponseHead(
                        version: head.version,
                        status: HTTPResponseStatus(statusCode: code),
                        headers: responseHeaders
                    )
                    context.write(self.wrapOutboundOut(.head(response)), promise: nil)
                    context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
                }
            }
        }
    }
}
