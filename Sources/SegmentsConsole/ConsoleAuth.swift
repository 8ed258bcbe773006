import Crypto
import Hummingbird

/// The console's one secret: the access token. A browser signs in once on `/login` and then carries a cookie
/// holding a digest of the token (the token itself is never stored in the browser); a script sends
/// `Authorization: Bearer TOKEN`. Anything else gets 401 and no data.
struct ConsoleAuth: Sendable {
    static let cookieName = "segments_console"
    private let token: String
    /// The cookie's value: SHA-256 of the token, hex.
    let cookieValue: String

    init(token: String) {
        self.token = token
        let digest = SHA256.hash(data: Array("segments-console:\(token)".utf8))
        self.cookieValue = digest.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }
            .joined()
    }

    /// Whether `candidate` is the token (compared in constant time).
    func isToken(_ candidate: String) -> Bool {
        Self.constantTimeEqual(Array(candidate.utf8), Array(self.token.utf8))
    }

    /// Whether the request carries the token (bearer) or the sign-in cookie.
    func admits(_ request: Request) -> Bool {
        if let header = request.headers[.authorization], header.hasPrefix("Bearer ") {
            return self.isToken(String(header.dropFirst("Bearer ".count)))
        }
        if let cookie = request.cookies[Self.cookieName] {
            return Self.constantTimeEqual(Array(cookie.value.utf8), Array(self.cookieValue.utf8))
        }
        return false
    }

    private static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0
    }
}

/// Lets through only requests that ``ConsoleAuth`` admits, and the login page.
struct ConsoleAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let auth: ConsoleAuth

    // @concurrent: Hummingbird's protocol is compiled without NonisolatedNonsendingByDefault.
    @concurrent func handle(
        _ request: Request,
        context: Context,
        next: @concurrent (Request, Context) async throws -> Response
    ) async throws -> Response {
        if request.uri.path == "/login" || self.auth.admits(request) {
            return try await next(request, context)
        }
        return ConsolePages.html(
            .unauthorized,
            title: "Sign in required",
            body: """
                <h1>Sign in required</h1><p>This console needs its access token. \
                <a href="/login">Sign in</a>, or send <code>Authorization: Bearer TOKEN</code>.</p>
                """
        )
    }
}
