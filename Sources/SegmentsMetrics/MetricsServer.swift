import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import ServiceLifecycle

/// Serves `GET /metrics` in the Prometheus text format (version 0.0.4) over plain HTTP/1.1, until graceful
/// shutdown. Before each answer it runs the daemon's `collect` closure, which brings sampled figures (positions,
/// sizes, memory) up to date; the instruments the daemon records as it works are read as they are.
///
/// Any other path is 404 and any other method 405. Meant for a loopback address that Prometheus (or an agent
/// forwarding to it) scrapes: there is no authentication, and the figures name segments and webhooks.
public struct MetricsServer: Service {
    private let endpoint: MetricsEndpoint
    private let registry: PrometheusCollectorRegistry
    private let collect: @Sendable () async -> Void
    private let logger: Logger

    /// - Parameters:
    ///   - endpoint: where to listen.
    ///   - registry: what to serve (``SegmentsMetrics/registry``).
    ///   - logger: logs the address once listening.
    ///   - collect: updates sampled figures before each scrape.
    public init(
        endpoint: MetricsEndpoint,
        registry: PrometheusCollectorRegistry = SegmentsMetrics.registry,
        logger: Logger,
        collect: @escaping @Sendable () async -> Void
    ) {
        self.endpoint = endpoint
        self.registry = registry
        self.collect = collect
        self.logger = logger
    }

    /// Binds the address and serves until graceful shutdown.
    /// - Throws: `IOError` when the address cannot be bound (in use, not local, no permission).
    public func run() async throws {
        let channel = try await self.bind()
        let address = channel.localAddress.map { "\($0)" } ?? "\(self.endpoint)"
        self.logger.info("serving metrics", metadata: ["address": "\(address)", "path": "/metrics"])
        if !self.endpoint.isLoopback {
            self.logger.warning(
                "metrics are served on a non-loopback address without authentication",
                metadata: ["address": "\(self.endpoint)"]
            )
        }
        try? await gracefulShutdown()
        try? await channel.close()
    }

    /// Binds the listening socket and returns its channel (the port chosen when the endpoint's is 0).
    func bind() async throws -> any Channel {
        let registry = self.registry
        let collect = self.collect
        return try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: false)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        MetricsHTTPHandler(registry: registry, collect: collect)
                    )
                }
            }
            .bind(host: self.endpoint.host, port: self.endpoint.port)
            .get()
    }
}

/// Answers one HTTP request at a time on a connection: the metrics, or 404/405.
private final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let registry: PrometheusCollectorRegistry
    private let collect: @Sendable () async -> Void
    private var request: HTTPRequestHead?

    init(registry: PrometheusCollectorRegistry, collect: @escaping @Sendable () async -> Void) {
        self.registry = registry
        self.collect = collect
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.request = head
        case .body:
            break
        case .end:
            guard let head = self.request else { return }
            self.request = nil
            self.answer(head, context: context)
        }
    }

    private func answer(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        guard path == "/metrics" else {
            self.respond(.notFound, body: "not found: the metrics are at /metrics\n", head: head, context: context)
            return
        }
        guard head.method == .GET || head.method == .HEAD else {
            self.respond(.methodNotAllowed, body: "only GET and HEAD are served\n", head: head, context: context)
            return
        }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let registry = self.registry
        let collect = self.collect
        Task {
            await collect()
            let body = registry.emitToBuffer()
            bound.eventLoop.execute {
                let (handler, context) = bound.value
                handler.respond(
                    .ok,
                    body: body,
                    contentType: "text/plain; version=0.0.4; charset=utf-8",
                    head: head,
                    context: context
                )
            }
        }
    }

    private func respond(
        _ status: HTTPResponseStatus,
        body: String,
        head: HTTPRequestHead,
        context: ChannelHandlerContext
    ) {
        self.respond(
            status,
            body: Array(body.utf8),
            contentType: "text/plain; charset=utf-8",
            head: head,
            context: context
        )
    }

    private func respond(
        _ status: HTTPResponseStatus,
        body: [UInt8],
        contentType: String,
        head: HTTPRequestHead,
        context: ChannelHandlerContext
    ) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: "\(body.count)")
        if status == .methodNotAllowed {
            headers.add(name: "Allow", value: "GET, HEAD")
        }
        let keepAlive = head.isKeepAlive
        if !keepAlive {
            headers.add(name: "Connection", value: "close")
        }
        context.write(
            self.wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))),
            promise: nil
        )
        if head.method != .HEAD {
            context.write(
                self.wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))),
                promise: nil
            )
        }
        let done = context.writeAndFlush(self.wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
