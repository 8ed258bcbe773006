import AsyncHTTPClient
import CoreMetrics
import DaemonSupport
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import SegmentsWire

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Delivers one endpoint's transitions: reads them from the transition log in order after the
/// persisted position, POSTs them in batches, and moves the position only after a 2xx answer.
/// A failure (non-2xx, timeout, connection error) retries the same batch after an exponential
/// back-off, persisted so that a restart keeps waiting instead of hammering the endpoint.
///
/// The worker never touches the evaluator core's lock: a slow or dead endpoint delays only itself.
struct WebhookWorker: Sendable {
    let endpoint: WebhookEndpoint
    let ledger: WebhookLedger
    /// The transition-log head, published after each persist.
    let transitions: ProgressNotifier
    let client: HTTPClient
    let configuration: WebhookDeliveryConfiguration
    let shardIndex: UInt32
    let shardCount: UInt32
    let logger: Logger

    /// The outcome of one attempt.
    enum Attempt: Sendable, Equatable {
        case delivered
        case failed(String)
    }

    /// Longest error text kept for `webhook list`.
    static let maximumErrorLength = 300
    /// Response bytes read (and dropped) before the connection is given up.
    static let maximumResponseBytes = 1 << 20

    /// Runs until `stop` finishes (the webhook was removed) or the task is cancelled.
    func run(until stop: AsyncStream<Void>) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.run() }
            group.addTask {
                for await _ in stop {}
            }
            await group.next()
            group.cancelAll()
        }
    }

    /// Delivers until cancelled.
    func run() async {
        var logger = self.logger
        logger[metadataKey: "webhook"] = "\(self.endpoint.id)"
        let failures = CoreMetrics.Counter(
            label: "segments_evaluator_webhook_failures_total",
            dimensions: [("webhook", self.endpoint.id)]
        )
        var state: WebhookDeliveryState
        while true {
            do throws(SegmentEvaluatorError) {
                let id = self.endpoint.id
                state = try await self.ledger.perform { ledger throws(SegmentEvaluatorError) in
                    try ledger.deliveryState(of: id)
                }
                break
            } catch {
                logger.error("cannot read the webhook's delivery state", metadata: ["error": "\(error)"])
                guard (try? await Task.sleep(for: .seconds(1))) != nil else { return }
            }
        }
        // A back-off that was running when the evaluator stopped keeps running.
        let waitMs = state.nextAttemptAtMs - WallClock.nowMs()
        if waitMs > 0 {
            guard (try? await Task.sleep(for: .milliseconds(waitMs))) != nil else { return }
        }
        // Every matching transition in `(state.deliveredSeq, scannedThrough]` is in `batch`.
        var scannedThrough = state.deliveredSeq
        var batch: [Segments_V1_Transition] = []
        var payload: WebhookPayload?
        while !Task.isCancelled {
            if batch.isEmpty {
                let head = self.transitions.headSeq
                do throws(SegmentEvaluatorError) {
                    let (endpoint, after, limit) = (self.endpoint, scannedThrough, self.configuration.maximumBatchSize)
                    batch = try await self.ledger.perform { ledger throws(SegmentEvaluatorError) in
                        try ledger.transitions(for: endpoint, after: after, through: head, limit: limit)
                    }
                } catch {
                    logger.error("cannot read transitions for a webhook", metadata: ["error": "\(error)"])
                    guard (try? await Task.sleep(for: .seconds(1))) != nil else { return }
                    continue
                }
                if batch.isEmpty {
                    scannedThrough = max(scannedThrough, head)
                    guard (try? await self.transitions.waitForHead(after: head)) != nil else { return }
                    continue
                }
                scannedThrough =
                    batch.count < self.configuration.maximumBatchSize
                    ? max(head, scannedThrough) : batch[batch.count - 1].seq
                payload = WebhookPayload(
                    endpoint: self.endpoint,
                    shardIndex: self.shardIndex,
                    shardCount: self.shardCount,
                    transitions: batch
                )
            }
            guard let request = payload else { continue }
            let attempt = await self.post(request)
            if Task.isCancelled { return }
            let now = WallClock.nowMs()
            switch attempt {
            case .delivered:
                if state.failedAttempts > 0 {
                    logger.info("webhook endpoint recovered", metadata: ["failed-attempts": "\(state.failedAttempts)"])
                }
                state.deliveredSeq = request.lastSeq
                state.deliveredCount += UInt64(batch.count)
                state.lastDeliveredAtMs = now
                state.failedAttempts = 0
                state.lastError = ""
                state.nextAttemptAtMs = 0
                logger.debug(
                    "webhook batch delivered",
                    metadata: ["first-seq": "\(request.firstSeq)", "last-seq": "\(request.lastSeq)"]
                )
                batch = []
                payload = nil
                await self.save(state, logger: logger)
            case .failed(let reason):
                failures.increment()
                state.failedAttempts &+= 1
                let delay = self.configuration.retryDelay(afterFailures: state.failedAttempts)
                state.lastError = reason
                state.lastErrorAtMs = now
                state.nextAttemptAtMs = now + delay.inMilliseconds
                logger.debug(
                    "webhook delivery failed; retrying later",
                    metadata: [
                        "first-seq": "\(request.firstSeq)", "error": "\(reason)",
                        "attempts": "\(state.failedAttempts)", "retry-in": "\(delay)",
                    ]
                )
                if state.failedAttempts == 1 || state.failedAttempts % 10 == 0 {
                    logger.warning(
                        "webhook endpoint is failing",
                        metadata: ["error": "\(reason)", "attempts": "\(state.failedAttempts)"]
                    )
                }
                await self.save(state, logger: logger)
                guard (try? await Task.sleep(for: delay)) != nil else { return }
            }
        }
    }

    private func save(_ state: WebhookDeliveryState, logger: Logger) async {
        do throws(SegmentEvaluatorError) {
            let id = self.endpoint.id
            try await self.ledger.perform { ledger throws(SegmentEvaluatorError) in try ledger.save(state, of: id) }
        } catch {
            // Delivery goes on; a restart re-sends from the last saved position (at least once).
            logger.error("cannot save the webhook's delivery position", metadata: ["error": "\(error)"])
        }
    }

    /// One POST of `payload`.
    func post(_ payload: WebhookPayload) async -> Attempt {
        if let reason = Self.undeliverable(self.endpoint.url) {
            return .failed(reason)
        }
        var request = HTTPClientRequest(url: self.endpoint.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "segments-evaluator/\(EvaluatorRouter.version)")
        request.headers.add(name: WebhookPayload.signatureHeader, value: payload.signature)
        request.headers.add(name: WebhookPayload.idempotencyHeader, value: payload.idempotencyKey)
        request.body = .bytes(ByteBuffer(bytes: payload.body))
        do {
            let response = try await self.client.execute(
                request,
                timeout: .nanoseconds(self.configuration.requestTimeout.inNanoseconds)
            )
            // Read (and drop) the answer so the connection can be reused.
            var read = 0
            for try await chunk in response.body {
                read += chunk.readableBytes
                if read > Self.maximumResponseBytes { break }
            }
            let code = response.status.code
            guard (200..<300).contains(code) else {
                return .failed(
                    "HTTP \(code)\(response.status.reasonPhrase.isEmpty ? "" : " \(response.status.reasonPhrase)")"
                )
            }
            return .delivered
        } catch {
            return .failed(Self.describe(error))
        }
    }

    /// Why no request can be made to `url`, or `nil`. AsyncHTTPClient stops the process on a port beyond 65535 with
    /// an IP address for a host, and on a host that is only IPv6 brackets (`%5B%5D`); the store now refuses such
    /// URLs, but one registered before it did is still in the change log, and must fail every attempt, saying why,
    /// instead of stopping the evaluator.
    static func undeliverable(_ url: String) -> String? {
        guard let parsed = URL(string: url) else { return nil }
        if let port = parsed.port, !(1...65_535).contains(port) {
            return "the URL's port \(port) is not from 1 to 65535"
        }
        if let host = parsed.host, !host.isEmpty {
            // AsyncHTTPClient's trimming of an IPv6 address.
            var trimmed = host[...]
            if trimmed.first == "[" { trimmed = trimmed.dropFirst() }
            if trimmed.last == "]" { trimmed = trimmed.dropLast() }
            if trimmed.isEmpty { return "the URL's host \(host) is empty" }
        }
        return nil
    }

    /// A short, single-line reason for a failed request, e.g. `cannot connect to 127.0.0.1:9:
    /// Connection refused` or `timed out`.
    static func describe(_ error: any Error) -> String {
        let text: String
        switch error {
        case let error as HTTPClientError:
            switch error {
            case .deadlineExceeded: text = "timed out"
            case .readTimeout: text = "timed out reading the response"
            case .connectTimeout: text = "timed out connecting"
            case .remoteConnectionClosed: text = "the endpoint closed the connection"
            default: text = "\(error)"
            }
        case let error as NIOConnectionError:
            if let failure = error.connectionErrors.first {
                text = "cannot connect to \(error.host):\(error.port): \(Self.describe(failure.error))"
            } else if let dns = error.dnsAError ?? error.dnsAAAAError {
                text = "cannot resolve \(error.host): \(dns)"
            } else {
                text = "cannot connect to \(error.host):\(error.port)"
            }
        case let error as IOError:
            text = String(cString: strerror(error.errnoCode))
        default:
            text = "\(error)"
        }
        let line = text.split(whereSeparator: \.isNewline).joined(separator: " ")
        return line.count > Self.maximumErrorLength ? String(line.prefix(Self.maximumErrorLength)) + "…" : line
    }
}
