import Foundation
import SegmentsTesting
import Testing

/// `segments-console` over real daemons: access control, error pages and the editor over plain HTTP, then every
/// page in a real headless Chromium — numbers equal to the CLI's, a transition appearing live in the feed after a
/// `track` — with screenshots saved in `test-output/console/` beside the build products (`.build/<triple>/…`).
@Suite(.serialized) struct ConsoleTests {
    static let token = "console-test-token-0123456789"

    /// A console over `pair` (or over the sockets given), stopped when `body` returns.
    private static func withConsole<Result>(
        _ pair: DaemonPair,
        evaluatorSocket: String? = nil,
        _ body: (_ base: String) async throws -> Result
    ) async throws -> Result {
        let port = try LoopbackPort.free()
        let console = try await DaemonProcess.start(
            BuiltProducts.path(of: "segments-console"),
            arguments: [
                "--store", pair.storeSocket, "--evaluator", evaluatorSocket ?? pair.evaluatorSocket,
                "--listen", "127.0.0.1:\(port)", "--token", Self.token,
            ],
            logPath: pair.directory + "/console.log",
            listening: "on port \(port)"
        ) {
            LoopbackPort.accepts(port)
        }
        defer { console.terminate() }
        return try await body("http://127.0.0.1:\(port)")
    }

    private static func seed(_ pair: DaemonPair) async throws {
        for user in ["alice", "bob", "carol", "dave"] {
            try await pair.segclientOK(["profile", "set", user, #"{"plan":"pro","country":"DE"}"#])
            try await pair.segclientOK(["track", user, "page_view"])
        }
        try await pair.segclientOK(["profile", "set", "erin", #"{"plan":"free"}"#])
        try await pair.segclientOK(["segment", "create", "recent", "count(page_view within 1h) >= 1"])
        try await pair.segclientOK(["segment", "create", "pro", #"plan = "pro""#])
        try await pair.segclientOK(["clock", "advance", "30m"])
        try await pair.segclientOK(["track", "erin", "page_view"])
        try await pair.segclientOK(["clock", "advance", "45m"])
    }

    @Test func accessErrorsAndTheEditorOverHTTP() async throws {
        try await DaemonPair.with { pair in
            try await Self.seed(pair)
            try await Self.withConsole(pair) { base in
                // No token, a wrong token, a wrong cookie: 401 and no data.
                for headers in [
                    [:], ["Authorization": "Bearer wrong-token-0123456789"],
                    ["Cookie": "segments_console=0000"],
                ] {
                    let answer = try await HTTPFetch.send(base + "/", headers: headers)
                    #expect(answer.status == 401)
                    #expect(!answer.body.contains("recent"))
                    let preview = try await HTTPFetch.send(base + "/api/preview?expression=true", headers: headers)
                    #expect(preview.status == 401)
                    #expect(!preview.body.contains("count"))
                }
                let refused = try await HTTPFetch.send(
                    base + "/login",
                    method: "POST",
                    headers: ["Content-Type": "application/x-www-form-urlencoded"],
                    body: "token=nope"
                )
                #expect(refused.status == 401)
                #expect(refused.headers["set-cookie"] == nil)
                let signedIn = try await HTTPFetch.send(
                    base + "/login",
                    method: "POST",
                    headers: ["Content-Type": "application/x-www-form-urlencoded"],
                    body: "token=\(Self.token)"
                )
                #expect(signedIn.status == 303)
                let cookie = try #require(signedIn.headers["set-cookie"]?.split(separator: ";").first.map(String.init))
                #expect(cookie.hasPrefix("segments_console="))
                #expect(signedIn.headers["set-cookie"]?.contains("HttpOnly") == true)
                let list = try await HTTPFetch.send(base + "/", headers: ["Cookie": cookie])
                #expect(list.status == 200)
                #expect(list.body.contains(#"data-count="recent">1<"#))

                let bearer = ["Authorization": "Bearer \(Self.token)"]
                let unknown = try await HTTPFetch.send(base + "/segments/nope", headers: bearer)
                #expect(unknown.status == 404)
                #expect(unknown.body.contains("Not found"))
                let nobody = try await HTTPFetch.send(base + "/users/nobody", headers: bearer)
                #expect(nobody.status == 404)

                let invalid = try await HTTPFetch.send(
                    base + "/api/preview?expression=" + "count(page_view within 1h) >=".addingPercentEncoding(
                        withAllowedCharacters: .alphanumerics
                    )!,
                    headers: bearer
                )
                #expect(invalid.body.contains(#""line":1,"column":30"#), "\(invalid.body)")
                let valid = try await HTTPFetch.send(
                    base + "/api/preview?expression=" + #"plan = "pro""#.addingPercentEncoding(
                        withAllowedCharacters: .alphanumerics
                    )!,
                    headers: bearer
                )
                #expect(valid.body.contains(#""count":4"#), "\(valid.body)")

                // An invalid expression is shown with its position and saves nothing.
                let before = try await pair.segclientOK(["segment", "list"])
                let save = try await HTTPFetch.send(
                    base + "/editor",
                    method: "POST",
                    headers: bearer.merging(["Content-Type": "application/x-www-form-urlencoded"]) { $1 },
                    body: "name=broken&expression=count%28page_view+within%29"
                )
                #expect(save.status == 400)
                #expect(save.body.contains("^"))
                #expect(try await pair.segclientOK(["segment", "list"]) == before)
                let saved = try await HTTPFetch.send(
                    base + "/editor",
                    method: "POST",
                    headers: bearer.merging(["Content-Type": "application/x-www-form-urlencoded"]) { $1 },
                    body: "name=germany&expression=country+%3D+%22DE%22"
                )
                #expect(saved.status == 303)
                #expect(saved.headers["location"] == "/segments/germany")
                #expect(try await pair.segclientOK(["members", "germany", "--count"]) == "4\n")
            }
            // An evaluator that is not there: a clear page, not a crash.
            try await Self.withConsole(pair, evaluatorSocket: pair.directory + "/missing.sock") { base in
                let answer = try await HTTPFetch.send(base + "/", headers: ["Authorization": "Bearer \(Self.token)"])
                #expect(answer.status == 503)
                #expect(answer.body.contains("unreachable"))
            }
        }
    }

    /// A browser that opens a segment's live feed and stops reading while thousands of transitions happen: the
    /// console keeps at most its buffer for it (the browser is told what it missed), and answers others meanwhile.
    @Test func aLiveFeedNobodyReadsStaysBounded() async throws {
        try await DaemonPair.with { pair in
            try await pair.segclientOK(["segment", "create", "seen", "count(page_view within 1h) >= 1"])
            try await Self.withConsole(pair) { base in
                let port = Int(base.split(separator: ":").last ?? "") ?? 0
                let reader = try StalledHTTPReader(
                    port: port,
                    request: "GET /segments/seen/feed HTTP/1.1\r\nHost: console\r\n"
                        + "Authorization: Bearer \(Self.token)\r\n\r\n"
                )
                defer { reader.close() }
                let bearer = ["Authorization": "Bearer \(Self.token)"]
                let deadline = ContinuousClock.now + .seconds(20)
                while try await HTTPFetch.send(base + "/api/status", headers: bearer).body != #"{"live_feeds":1}"# {
                    guard ContinuousClock.now < deadline else { throw DaemonProcessError(message: "no live feed") }
                    try await Task.sleep(for: .milliseconds(50))
                }
                let users = 30_000
                let lines = (0..<users).map { #"{"user":"u\#($0)","event":"page_view"}"# }.joined(separator: "\n")
                try await pair.segclientOK(["import", "events", "-"], input: lines + "\n")
                #expect(try await pair.segclientOK(["members", "seen", "--count"]) == "\(users)\n")
                try await Task.sleep(for: .seconds(1))
                // Others are answered while the feed is stuck.
                let list = try await HTTPFetch.send(base + "/", headers: bearer)
                #expect(list.status == 200)
                #expect(list.body.contains(#"data-count="seen">\#(users)<"#))
                // What the stalled browser finally reads: less than every transition, and a note of the rest.
                let text = reader.readAvailable(seconds: 3)
                let delivered = text.components(separatedBy: "event: transition").count - 1
                #expect(delivered < users / 2, "\(delivered) transitions were held for a browser that did not read")
                #expect(text.contains("event: skipped"))
            }
        }
    }

    @Test func everyPageInARealBrowser() async throws {
        let output = URL(fileURLWithPath: BuiltProducts.directory).deletingLastPathComponent()
            .appendingPathComponent("test-output/console").path
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        try await DaemonPair.with { pair in
            try await Self.seed(pair)
            try await Self.withConsole(pair) { base in
                let browser = try HeadlessChromium(directory: pair.directory)
                defer { browser.quit() }
                func save(_ name: String) throws {
                    try browser.screenshot().write(to: URL(fileURLWithPath: output + "/\(name).png"))
                }
                // Sign in as a person does.
                try browser.navigate(to: base + "/login")
                try browser.evaluate(
                    "document.querySelector('input[name=token]').value=\(HeadlessChromium.quoted(Self.token));"
                        + "document.querySelector('main form').submit();true"
                )
                try browser.wait(until: "location.pathname === '/' && document.querySelector('table')")

                // The list: every count equals the CLI's.
                for segment in ["recent", "pro"] {
                    let cli = try await pair.segclientOK(["members", segment, "--count"])
                    #expect(
                        try browser.text(of: "[data-count=\"\(segment)\"]") == cli.trimmingCharacters(in: .newlines)
                    )
                }
                #expect(try browser.evaluate("document.querySelectorAll('svg.spark').length") as? Int == 2)
                try save("segments")

                // One segment, and a transition arriving live.
                try browser.navigate(to: base + "/segments/recent")
                try browser.wait(until: "document.getElementById('feed-state').textContent === 'live'")
                let count = try await pair.segclientOK(["members", "recent", "--count"])
                #expect(try browser.text(of: "#member-count") == count.trimmingCharacters(in: .newlines))
                #expect(try browser.text(of: "#overlap")?.contains("pro") == true)
                #expect(try browser.text(of: "svg.chart")?.contains("recent — members over time") == true)
                try await pair.segclientOK(["track", "frank", "page_view"])
                try browser.wait(until: "document.getElementById('feed').textContent.indexOf('frank') >= 0")
                let after = try await pair.segclientOK(["members", "recent", "--count"])
                #expect(try browser.text(of: "#member-count") == after.trimmingCharacters(in: .newlines))
                #expect(try browser.text(of: "#feed li")?.contains("enter") == true)
                try save("segment")

                // One user, with the explanation of a segment.
                try browser.navigate(to: base + "/users/alice?explain=pro")
                let segments = try await pair.segclientOK(["segments-of", "alice"]).split(separator: "\n")
                #expect(
                    try browser.evaluate(
                        "Array.from(document.querySelectorAll('#segments a')).map(function(a){return a.textContent}).join(',')"
                    ) as? String == segments.joined(separator: ",")
                )
                #expect(try browser.text(of: "#explain")?.contains("is a member of pro") == true)
                #expect(try browser.text(of: "#attributes")?.contains("country") == true)
                #expect(try browser.text(of: "#events")?.contains("page_view") == true)
                try save("user")

                // The editor: live preview, then a positioned error.
                try browser.navigate(to: base + "/editor")
                try browser.evaluate(
                    "var e=document.getElementById('expression');e.value='country = \"DE\"';"
                        + "e.dispatchEvent(new Event('input'));true"
                )
                try browser.wait(until: "document.getElementById('preview-count')")
                #expect(try browser.text(of: "#preview-count") == "4 users match")
                try save("editor")
                try browser.evaluate(
                    "var e=document.getElementById('expression');e.value='count(page_view within) >= 1';"
                        + "e.dispatchEvent(new Event('input'));true"
                )
                try browser.wait(until: "document.getElementById('error').textContent.indexOf('^') >= 0")
                #expect(try browser.text(of: "#error")?.contains("1:") == true)
                try save("editor-error")
            }
        }
    }
}

/// A raw HTTP connection that sends a request and then does not read (a small receive buffer, so the server sees
/// a slow client at once), until asked to drain what arrived.
private final class StalledHTTPReader: @unchecked Sendable {
    // @unchecked: used by one test task.
    private let descriptor: Int32

    init(port: Int, request: String) throws {
        self.descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var size: Int32 = 4096
        setsockopt(self.descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(self.descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard connected else { throw DaemonProcessError(message: "cannot connect to port \(port)") }
        let bytes = Array(request.utf8)
        guard bytes.withUnsafeBytes({ send(self.descriptor, $0.baseAddress, $0.count, 0) }) == bytes.count else {
            throw DaemonProcessError(message: "cannot send the request")
        }
    }

    /// Reads whatever arrives for `seconds`.
    func readAvailable(seconds: Double) -> String {
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(self.descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let count = buffer.withUnsafeMutableBytes { recv(self.descriptor, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                received += buffer[..<count]
            } else if count == 0 {
                break
            }
        }
        return String(decoding: received, as: UTF8.self)
    }

    func close() {
        _ = Glibc.close(self.descriptor)
    }
}
