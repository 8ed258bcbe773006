import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One plain HTTP request from a test, without following redirects.
public enum HTTPFetch {
    /// An answer: status, headers (lower-cased names) and body as text.
    public struct Answer: Sendable {
        public var status: Int
        public var headers: [String: String]
        public var body: String
    }

    /// Sends a request and returns the answer, whatever its status.
    public static func send(
        _ url: String,
        method: String = "GET",
        headers: [String: String] = [:],
        body: String? = nil
    ) async throws -> Answer {
        guard let target = URL(string: url) else { throw DaemonProcessError(message: "not a URL: \(url)") }
        var request = URLRequest(url: target)
        request.httpMethod = method
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        request.httpBody = body.map { Data($0.utf8) }
        let session = URLSession(configuration: .ephemeral, delegate: NoRedirects(), delegateQueue: nil)
        defer { session.finishTasksAndInvalidate() }
        let (data, response) = try await session.data(for: request)
        let http = response as? HTTPURLResponse
        var fields: [String: String] = [:]
        for (name, value) in http?.allHeaderFields ?? [:] {
            fields["\(name)".lowercased()] = "\(value)"
        }
        return Answer(status: http?.statusCode ?? 0, headers: fields, body: String(decoding: data, as: UTF8.self))
    }

    private final class NoRedirects: NSObject, URLSessionTaskDelegate, Sendable {
        func urlSession(
            _ session: URLSession,
            task: URLSessionTask,
            willPerformHTTPRedirection response: HTTPURLResponse,
            newRequest request: URLRequest,
            completionHandler: @escaping @Sendable (URLRequest?) -> Void
        ) {
            completionHandler(nil)
        }
    }
}
