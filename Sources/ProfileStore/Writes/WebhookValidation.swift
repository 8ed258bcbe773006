import Foundation

/// The rules for a webhook registration (`AddWebhook`): its URL, segment filter and secret.
package enum WebhookValidation {
    /// Longest webhook URL accepted, in UTF-8 bytes.
    static let maximumURLBytes = 2048
    /// Longest webhook secret accepted, in UTF-8 bytes.
    static let maximumSecretBytes = 1024
    /// Most segments one webhook may filter on.
    static let maximumSegments = 1000

    /// Checks a registration.
    /// - Parameters:
    ///   - url: where transitions are to be POSTed.
    ///   - segments: the segments (or lists) whose transitions are wanted; empty for all.
    ///   - secret: the HMAC-SHA256 key the deliveries are signed with.
    /// - Returns: the segment names, each once, in the order given.
    /// - Throws: ``ProfileStoreError`` `invalidArgument` naming what is wrong.
    package static func check(
        url: String,
        segments: [String],
        secret: String
    ) throws(ProfileStoreError) -> [String] {
        try Self.checkURL(url)
        let distinct = try Self.checkSegments(segments)
        let secretBytes = secret.utf8.count
        guard secretBytes > 0 else {
            throw ProfileStoreError(.invalidArgument, "webhook secret is empty; give a shared secret to sign with")
        }
        guard secretBytes <= Self.maximumSecretBytes else {
            throw ProfileStoreError(
                .invalidArgument,
                "webhook secret is \(secretBytes) bytes; the limit is \(Self.maximumSecretBytes)"
            )
        }
        return distinct
    }

    /// An absolute `http` or `https` URL with a host and, if it names one, a port from 1 to 65535, as the
    /// evaluator's HTTP client will parse it. (AsyncHTTPClient stops the process on a port beyond 65535 with an IP
    /// address for a host and on a host that is only brackets, e.g. `%5B%5D`; it reaches no server on port 0.)
    static func checkURL(_ text: String) throws(ProfileStoreError) {
        let bytes = text.utf8.count
        guard bytes > 0 else {
            throw ProfileStoreError(.invalidArgument, "webhook URL is empty")
        }
        guard bytes <= Self.maximumURLBytes else {
            throw ProfileStoreError(
                .invalidArgument,
                "webhook URL is \(bytes) bytes; the limit is \(Self.maximumURLBytes)"
            )
        }
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased() else {
            throw ProfileStoreError(.invalidArgument, "invalid webhook URL '\(text)': not an absolute URL")
        }
        guard scheme == "http" || scheme == "https" else {
            throw ProfileStoreError(
                .invalidArgument,
                "invalid webhook URL '\(text)': the scheme must be http or https, not \(scheme)"
            )
        }
        // The host as AsyncHTTPClient takes it: without IPv6 brackets (it stops the process when nothing is left).
        guard let host = url.host, !host.isEmpty, !Self.withoutBrackets(host).isEmpty else {
            throw ProfileStoreError(.invalidArgument, "invalid webhook URL '\(text)': no host")
        }
        if let port = url.port, !(1...65_535).contains(port) {
            throw ProfileStoreError(
                .invalidArgument,
                "invalid webhook URL '\(text)': the port must be from 1 to 65535, not \(port)"
            )
        }
    }

    /// Valid, distinct segment names, in the order given.
    static func checkSegments(_ names: [String]) throws(ProfileStoreError) -> [String] {
        guard names.count <= Self.maximumSegments else {
            throw ProfileStoreError(
                .invalidArgument,
                "a webhook may name at most \(Self.maximumSegments) segments, not \(names.count)"
            )
        }
        var seen: Set<String> = []
        var result: [String] = []
        for name in names {
            try InputValidation.checkSegmentName(name)
            if seen.insert(name).inserted {
                result.append(name)
            }
        }
        return result
    }

    /// `host` without a leading `[` and a trailing `]`, as AsyncHTTPClient trims an IPv6 address.
    static func withoutBrackets(_ host: String) -> Substring {
        var trimmed = host[...]
        if trimmed.first == "[" { trimmed = trimmed.dropFirst() }
        if trimmed.last == "]" { trimmed = trimmed.dropLast() }
        return trimmed
    }
}
