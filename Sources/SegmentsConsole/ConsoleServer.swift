import Hummingbird
import Logging
import SegmentLanguage
import SegmentsClient
import SegmentsJSON
import ServiceLifecycle
import Synchronization

/// The web console: a small HTTP server (Hummingbird) that renders pages from the store and the evaluators through
/// the client library, and pushes a segment's transitions to the browser as they happen (server-sent events).
public struct ConsoleServer: Service {
    private let configuration: ConsoleConfiguration
    private let logger: Logger
    private let onListening: @Sendable (Int) -> Void

    /// - Parameters:
    ///   - configuration: daemons, address, token.
    ///   - logger: the console's logger.
    ///   - onListening: called with the bound port once the console accepts connections.
    public init(
        configuration: ConsoleConfiguration,
        logger: Logger,
        onListening: @escaping @Sendable (Int) -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.logger = logger
        self.onListening = onListening
    }

    /// Serves until graceful shutdown.
    public func run() async throws {
        let client = SegmentsClient(configuration: self.configuration.client)
        let pages = ConsolePages(client: client, configuration: self.configuration)
        let feeds = LiveFeeds(client: client, maximum: self.configuration.maximumLiveFeeds)
        let router = Self.router(pages: pages, feeds: feeds, auth: ConsoleAuth(token: self.configuration.token))
        let onListening = self.onListening
        let logger = self.logger
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(self.configuration.host, port: self.configuration.port)),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                logger.info("console ready", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "")"])
                onListening(port)
            },
            logger: self.logger
        )
        do {
            // Open live feeds end at shutdown; otherwise the server would wait for browsers to hang up.
            try await withGracefulShutdownHandler {
                try await app.run()
            } onGracefulShutdown: {
                feeds.closeAll()
            }
        } catch {
            await client.close()
            throw error
        }
        await client.close()
    }

    static func router(pages: ConsolePages, feeds: LiveFeeds, auth: ConsoleAuth) -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: ConsoleAuthMiddleware(auth: auth))
        router.get("/login") { _, _ in Self.loginPage(message: nil, status: .ok) }
        router.post("/login") { request, _ -> Response in
            let form = try await Self.form(request)
            guard auth.isToken(form["token"] ?? "") else {
                return Self.loginPage(message: "That is not the console's token.", status: .unauthorized)
            }
            var response = Response(status: .seeOther, headers: [.location: "/"])
            response.setCookie(
                Cookie(
                    name: ConsoleAuth.cookieName,
                    value: auth.cookieValue,
                    path: "/",
                    httpOnly: true,
                    sameSite: .strict
                )
            )
            return response
        }
        router.get("/") { _, _ in await pages.segmentList() }
        router.get("/segments/:name") { _, context in
            await pages.segment(try context.parameters.require("name"))
        }
        router.get("/segments/:name/feed") { _, context in
            await feeds.response(for: try context.parameters.require("name"))
        }
        router.get("/users") { request, _ -> Response in
            let id = request.uri.queryParameters.get("id") ?? ""
            guard !id.isEmpty else {
                return ConsolePages.html(.badRequest, title: "User", body: "<h1>User</h1><p>Give a user id.</p>")
            }
            return Response(status: .seeOther, headers: [.location: "/users/" + HTML.urlComponent(id)])
        }
        router.get("/users/:id") { request, context in
            await pages.user(
                try context.parameters.require("id"),
                explaining: request.uri.queryParameters.get("explain")
            )
        }
        router.get("/editor") { _, _ in pages.editor() }
        router.post("/editor") { request, _ -> Response in
            let form = try await Self.form(request)
            return await pages.save(name: form["name"] ?? "", expression: form["expression"] ?? "")
        }
        router.get("/api/preview") { request, _ in
            await pages.preview(request.uri.queryParameters.get("expression") ?? "")
        }
        router.get("/api/status") { _, _ in
            ConsolePages.json(.object([("live_feeds", .number(Double(feeds.active)))]))
        }
        return router
    }

    private static func loginPage(message: String?, status: HTTPResponse.Status) -> Response {
        ConsolePages.html(
            status,
            title: "Sign in",
            body: """
                <h1>Sign in</h1>\(message.map { "<p class=\"error\">\(HTML.escape($0))</p>" } ?? "")
                <form method="post" action="/login"><input type="password" name="token" placeholder="access token" \
                aria-label="access token" autofocus> <button>Sign in</button></form>
                """
        )
    }

    /// Reads an `application/x-www-form-urlencoded` body (at most 64 KiB).
    private static func form(_ request: Request) async throws -> [String: String] {
        let body = try await request.body.collect(upTo: 64 * 1024)
        var fields: [String: String] = [:]
        for pair in String(buffer: body).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = parts.first.flatMap({ Self.decode($0) }) else { continue }
            fields[key] = parts.count > 1 ? Self.decode(parts[1]) ?? "" : ""
        }
        return fields
    }

    /// Decodes `+` and `%XX` of a form field.
    private static func decode(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var index = text.utf8.startIndex
        let utf8 = text.utf8
        while index < utf8.endIndex {
            let byte = utf8[index]
            if byte == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else if byte == UInt8(ascii: "%") {
                let high = utf8.index(after: index)
                guard high < utf8.endIndex, utf8.index(after: high) < utf8.endIndex,
                    let value = UInt8(String(decoding: utf8[high...utf8.index(after: high)], as: UTF8.self), radix: 16)
                else { return nil }
                bytes.append(value)
                index = utf8.index(after: high)
            } else {
                bytes.append(byte)
            }
            index = utf8.index(after: index)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
