import AsyncHTTPClient
import ProfileStore

/// Checks of the webhook registration rules (`AddWebhook`) on arbitrary URLs, secrets and
/// segment filters.
///
/// Input: the URL, the secret and the segment names, separated by zero bytes.
///
/// Properties:
/// - a refusal is INVALID_ARGUMENT with a message;
/// - an accepted URL is one the evaluator's HTTP client (AsyncHTTPClient) can make a request of,
///   to a host and port it can connect to: an accepted webhook must never be one that cannot be
///   delivered, or that stops the evaluator trying;
/// - the accepted segment filter is the given names, each once, in order, and survives the
///   comma-joined form the store and the evaluator keep it in.
public enum WebhookChecks {
    /// Runs every check on one input.
    /// - Parameter input: the fuzz input.
    /// - Throws: ``FuzzFinding`` when a property does not hold.
    public static func check(_ input: [UInt8]) throws(FuzzFinding) {
        let parts = input.split(separator: 0, omittingEmptySubsequences: false).map {
            String(decoding: $0, as: UTF8.self)
        }
        let url = parts.first ?? ""
        let secret = parts.count > 1 ? parts[1] : ""
        let segments = Array(parts.dropFirst(2))
        let accepted: [String]
        do {
            accepted = try WebhookValidation.check(url: url, segments: segments, secret: secret)
        } catch {
            guard error.code == .invalidArgument, !error.message.isEmpty else {
                throw FuzzFinding("webhook \(url.debugDescription) refused with \(error)")
            }
            return
        }
        let request: HTTPClient.Request
        do {
            request = try HTTPClient.Request(url: url)
        } catch {
            throw FuzzFinding("accepted webhook URL \(url.debugDescription) is refused by the HTTP client: \(error)")
        }
        guard !request.host.isEmpty, (1...65_535).contains(request.port) else {
            throw FuzzFinding(
                "accepted webhook URL \(url.debugDescription) leads to host \(request.host.debugDescription) port \(request.port)"
            )
        }
        var distinct: [String] = []
        for name in segments where !distinct.contains(name) {
            distinct.append(name)
        }
        guard accepted == distinct else {
            throw FuzzFinding("webhook segments \(segments) accepted as \(accepted)")
        }
        let stored = accepted.joined(separator: ",")
        let readBack = stored.isEmpty ? [] : stored.split(separator: ",").map(String.init)
        guard readBack == accepted else {
            throw FuzzFinding("webhook segments \(accepted) are read back as \(readBack)")
        }
    }

    /// Inputs to start fuzzing from: valid and invalid registrations.
    public static var seeds: [[UInt8]] {
        let registrations: [[String]] = [
            ["https://hooks.example.com/segments", "s3cret", "vip", "churned"],
            ["http://127.0.0.1:8080/hook?x=1#f", "k"],
            ["http://[::1]:9/hook", "secret", "a.b-c_d"],
            ["HTTPS://Example.COM", "secret", "vip", "vip"],
            ["http://user:pass@host:65535/p%20q", "s"],
            ["ftp://example.com/", "s"],
            ["http:///path", "s"],
            ["http://example.com:99999/", "s"],
            ["http://127.0.0.1:99999/", "s"],
            ["http://example.com:0/", "s"],
            ["http://[]/", "s"],
            ["http://%5B%5D/", "s"],
            ["/relative/path", "s"],
            ["", "s"],
            ["http://example.com/", ""],
            ["http://example.com/", "s", "-bad"],
            ["http://example.com/", "s", "has,comma"],
            ["http://ex ample.com/", "s"],
            ["http://example.com\r\n/", "s"],
        ]
        return registrations.map { Array($0.joined(separator: "\0").utf8) }
    }
}
