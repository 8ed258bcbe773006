import AsyncHTTPClient
import DaemonSupport
import Logging
import NIOCore
import NIOPosix

/// Runs one ``WebhookWorker`` per registered webhook: starts a worker when a webhook is added,
/// stops it when the webhook is removed, and stops them all when cancelled.
///
/// Each evaluator shard delivers the transitions of its own transition log, i.e. of the users it
/// owns; with N shards an endpoint receives N independent, individually ordered streams.
struct WebhookDispatcher: Sendable {
    let ledger: WebhookLedger
    /// The transition-log head (the evaluator core's notifier).
    let transitions: ProgressNotifier
    let configuration: WebhookDeliveryConfiguration
    let shardIndex: UInt32
    let shardCount: UInt32
    let logger: Logger

    /// Delivers until cancelled, then shuts the HTTP client down.
    func run() async {
        var clientConfiguration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(
                connect: .nanoseconds(self.configuration.connectTimeout.inNanoseconds),
                read: .nanoseconds(self.configuration.requestTimeout.inNanoseconds)
            )
        )
        clientConfiguration.httpVersion = .http1Only
        let client = HTTPClient(
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            configuration: clientConfiguration,
            backgroundActivityLogger: self.logger
        )
        await withDiscardingTaskGroup { group in
            var running: [String: AsyncStream<Void>.Continuation] = [:]
            while !Task.isCancelled {
                let seen = self.ledger.changes.headSeq
                do throws(SegmentEvaluatorError) {
                    let endpoints = try await self.ledger.perform { ledger throws(SegmentEvaluatorError) in
                        try ledger.activeEndpoints()
                    }
                    let active = Set(endpoints.map(\.id))
                    for (id, stop) in running where !active.contains(id) {
                        stop.finish()
                        running[id] = nil
                        self.logger.info("webhook delivery stopped", metadata: ["webhook": "\(id)"])
                    }
                    for endpoint in endpoints where running[endpoint.id] == nil {
                        let (stop, continuation) = AsyncStream.makeStream(of: Void.self)
                        running[endpoint.id] = continuation
                        let worker = WebhookWorker(
                            endpoint: endpoint,
                            ledger: self.ledger,
                            transitions: self.transitions,
                            client: client,
                            configuration: self.configuration,
                            shardIndex: self.shardIndex,
                            shardCount: self.shardCount,
                            logger: self.logger
                        )
                        group.addTask { await worker.run(until: stop) }
                        self.logger.info("webhook delivery started", metadata: ["webhook": "\(endpoint.id)"])
                    }
                } catch {
                    self.logger.error("cannot read the webhook registry", metadata: ["error": "\(error)"])
                    guard (try? await Task.sleep(for: .seconds(1))) != nil else { break }
                    continue
                }
                guard (try? await self.ledger.changes.waitForHead(after: seen)) != nil else { break }
            }
            for stop in running.values {
                stop.finish()
            }
            group.cancelAll()
        }
        do {
            try await client.shutdown()
        } catch {
            self.logger.debug("HTTP client shutdown failed", metadata: ["error": "\(error)"])
        }
    }
}
