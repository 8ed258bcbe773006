import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A real Chromium (Debian's `chromium`), headless, driven over the DevTools protocol on a pipe
/// (`--remote-debugging-pipe`: commands on file descriptor 3, answers and events on 4, each a JSON message ended by a
/// NUL byte). One page: navigate, run JavaScript, wait for a condition, take a screenshot.
public final class HeadlessChromium: @unchecked Sendable {
    // @unchecked: `process`, the pipes and `sessionID` are set in `launch` and only read afterwards; the pending
    // answers are behind `state`'s lock.

    /// A DevTools call that failed or timed out.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    private struct State {
        var nextID = 1
        /// Answers by call id, as received (JSON).
        var answers: [Int: Data] = [:]
        var closed = false
    }

    private let state = Mutex(State())
    private let arrived = NSCondition()
    private var pid: pid_t = 0
    private var commands: Int32 = -1
    private var sessionID = ""
    private let profile: String

    /// The browser binary, or `nil` when Chromium is not installed.
    public static var executable: String? {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }

    /// Starts the browser with one blank page.
    /// - Parameter directory: where the browser keeps its profile (a temporary directory of the test).
    public init(directory: String, width: Int = 1280, height: Int = 900) throws {
        guard let executable = Self.executable else { throw Failure(description: "chromium is not installed") }
        self.profile = directory + "/chromium-profile"
        var toBrowser: [Int32] = [0, 0]
        var fromBrowser: [Int32] = [0, 0]
        guard pipe(&toBrowser) == 0, pipe(&fromBrowser) == 0 else { throw Failure(description: "pipe() failed") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, toBrowser[0], 3)
        posix_spawn_file_actions_adddup2(&actions, fromBrowser[1], 4)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, directory + "/chromium.log", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let arguments = [
            executable, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--remote-debugging-pipe", "--user-data-dir=\(self.profile)", "--window-size=\(width),\(height)",
            "about:blank",
        ]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, &argv, environ)
        close(toBrowser[0])
        close(fromBrowser[1])
        guard spawned == 0 else { throw Failure(description: "cannot start \(executable): error \(spawned)") }
        self.pid = pid
        self.commands = toBrowser[1]
        let answers = fromBrowser[0]
        let thread = Thread { [self] in self.readAnswers(from: answers) }
        thread.start()
        let target = try self.call("Target.createTarget", ["url": "about:blank"], session: false)
        let targetID = (target["targetId"] as? String) ?? ""
        let attached = try self.call("Target.attachToTarget", ["targetId": targetID, "flatten": true], session: false)
        self.sessionID = (attached["sessionId"] as? String) ?? ""
        _ = try self.call("Page.enable", [:])
        _ = try self.call("Runtime.enable", [:])
    }

    deinit {
        self.quit()
    }

    /// Closes the browser.
    public func quit() {
        guard self.pid > 0 else { return }
        _ = try? self.call("Browser.close", [:], session: false, timeout: 5)
        var status: Int32 = 0
        if waitpid(self.pid, &status, WNOHANG) == 0 {
            kill(self.pid, SIGKILL)
            waitpid(self.pid, &status, 0)
        }
        self.pid = 0
        close(self.commands)
    }

    /// Opens `url` and waits until the page has loaded.
    public func navigate(to url: String, timeout: Double = 20) throws {
        _ = try self.call("Page.navigate", ["url": url])
        try self.wait(until: "document.readyState === 'complete' && location.href !== 'about:blank'", timeout: timeout)
    }

    /// The value of a JavaScript expression (strings, numbers, booleans; `nil` for undefined or null).
    @discardableResult
    public func evaluate(_ expression: String) throws -> Any? {
        let result = try self.call(
            "Runtime.evaluate",
            ["expression": expression, "returnByValue": true, "awaitPromise": true]
        )
        if let exception = result["exceptionDetails"] as? [String: Any] {
            throw Failure(description: "JavaScript failed: \(exception["text"] ?? exception)")
        }
        return (result["result"] as? [String: Any])?["value"]
    }

    /// The text content of the first element matching a CSS selector, or `nil` when there is none.
    public func text(of selector: String) throws -> String? {
        try self.evaluate(
            "(function(){var e=document.querySelector(\(Self.quoted(selector)));return e?e.textContent:null})()"
        )
            as? String
    }

    /// Waits until a JavaScript condition is true.
    public func wait(until condition: String, timeout: Double = 20) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if (try? self.evaluate("!!(\(condition))")) as? Bool == true { return }
            usleep(100_000)
        }
        throw Failure(description: "waited \(timeout) s for \(condition)")
    }

    /// A PNG of the page as shown.
    public func screenshot() throws -> Data {
        let result = try self.call("Page.captureScreenshot", ["format": "png", "captureBeyondViewport": true])
        guard let base64 = result["data"] as? String, let data = Data(base64Encoded: base64) else {
            throw Failure(description: "the screenshot has no data")
        }
        return data
    }

    /// JSON string literal for JavaScript.
    public static func quoted(_ text: String) -> String {
        let data = try? JSONSerialization.data(withJSONObject: [text])
        let array = data.map { String(decoding: $0, as: UTF8.self) } ?? "[\"\"]"
        return String(array.dropFirst().dropLast())
    }

    // MARK: - The protocol

    private func call(
        _ method: String,
        _ parameters: [String: Any],
        session: Bool = true,
        timeout: Double = 30
    ) throws -> [String: Any] {
        let id = self.state.withLock { state -> Int in
            defer { state.nextID += 1 }
            return state.nextID
        }
        var message: [String: Any] = ["id": id, "method": method, "params": parameters]
        if session { message["sessionId"] = self.sessionID }
        var bytes = [UInt8](try JSONSerialization.data(withJSONObject: message))
        bytes.append(0)
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { write(self.commands, $0.baseAddress, $0.count) }
            guard count > 0 else { throw Failure(description: "the browser closed its pipe (\(method))") }
            written += count
        }
        let deadline = Date().addingTimeInterval(timeout)
        self.arrived.lock()
        defer { self.arrived.unlock() }
        while true {
            let (received, closed) = self.state.withLock { state in
                (state.answers.removeValue(forKey: id), state.closed)
            }
            if let received {
                let answer = (try? JSONSerialization.jsonObject(with: received) as? [String: Any]) ?? [:]
                if let error = answer["error"] as? [String: Any] {
                    throw Failure(description: "\(method): \(error["message"] ?? error)")
                }
                return answer["result"] as? [String: Any] ?? [:]
            }
            if closed { throw Failure(description: "the browser exited (\(method))") }
            guard self.arrived.wait(until: deadline) else {
                throw Failure(description: "no answer to \(method) within \(timeout) s")
            }
        }
    }

    /// Reads NUL-separated messages until the browser closes its end; keeps the answers (events are not needed).
    private func readAnswers(from descriptor: Int32) {
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            pending += buffer[..<count]
            while let end = pending.firstIndex(of: 0) {
                let message = Array(pending[..<end])
                pending.removeSubrange(...end)
                guard let object = try? JSONSerialization.jsonObject(with: Data(message)) as? [String: Any],
                    let id = object["id"] as? Int
                else { continue }
                self.arrived.lock()
                let data = Data(message)
                self.state.withLock { $0.answers[id] = data }
                self.arrived.broadcast()
                self.arrived.unlock()
            }
        }
        close(descriptor)
        self.arrived.lock()
        self.state.withLock { $0.closed = true }
        self.arrived.broadcast()
        self.arrived.unlock()
    }
}
