import SegmentsRPC
import SegmentsWire
import SwiftProtobuf

/// The Swift client of Segments: writes to the profile store and asks the evaluators.
///
/// ```swift
/// let client = SegmentsClient(configuration: .init(storeSocketPath: "/run/segments/store.sock"))
/// let write = try await client.setProfile("u1", ["plan": .string("pro"), "age": .number(34)])
/// try await client.track([SegmentsEvent(userID: "u1", name: "purchase", properties: ["amount": .number(42.5)])])
/// let profile = try await client.profile("u1")
/// await client.close()
/// ```
///
/// Connections open on first use and reopen after a failure; every method may be called
/// concurrently. Errors are ``SegmentsClientError``.
public final class SegmentsClient: Sendable {
    /// Where the daemons are, and how the client talks to them.
    public let configuration: SegmentsClientConfiguration
    let store: ConnectionSlot
    let evaluators: [ConnectionSlot]

    /// Creates a client; nothing connects until the first call.
    /// - Parameter configuration: the daemons' sockets and the connections' options.
    public init(configuration: SegmentsClientConfiguration) {
        self.configuration = configuration
        func slot(_ path: String) -> ConnectionSlot {
            ConnectionSlot(
                path: path,
                tls: configuration.tls,
                options: configuration.options,
                logger: configuration.logger,
                eventLoopGroup: configuration.eventLoopGroup
            )
        }
        self.store = slot(configuration.storeSocketPath)
        self.evaluators = configuration.evaluatorSocketPaths.map(slot)
    }

    /// Closes all connections.
    public func close() async {
        await self.store.close()
        for evaluator in self.evaluators {
            await evaluator.close()
        }
    }

    /// Calls the store; see ``onStore(_:_:)``.
    func callStore<Request, Response>(
        _ method: UnaryMethod<Request, Response>,
        _ request: Request
    ) async throws(SegmentsClientError) -> Response {
        let timeout = self.configuration.options.requestTimeout
        return try await self.onStore(method.name) { connection throws(RPCError) in
            try await connection.call(method, request, timeout: timeout)
        }
    }

    /// Runs one unary call of the store (`method`) on a store connection. A standby store's refusal
    /// (the call was not run) sends the call on to the writer it names, or to the next address while a
    /// takeover is under way, for as long as the reconnect policy allows.
    func onStore<Response>(
        _ method: String,
        _ call: (RPCConnection) async throws(RPCError) -> Response
    ) async throws(SegmentsClientError) -> Response {
        let options = self.configuration.options
        var refusals = 0
        while true {
            let address = self.store.addresses.current
            let connection = try await self.store.get(for: method)
            do {
                return try await call(connection)
            } catch  where error.isStandbyRefusal {
                refusals += 1
                guard refusals < options.reconnect.attempts * max(2, self.store.addresses.addresses.count) else {
                    throw SegmentsClientError(error, method: method)
                }
                await self.store.follow(error, on: connection, address: address)
                if refusals > 1 {
                    // Refused again: a takeover is under way (the standby may still name the writer that died). Give
                    // it time, longer each round.
                    try? await Task.sleep(for: options.reconnect.delay(before: refusals))
                }
            } catch {
                if error.code == .deadlineExceeded, self.store.addresses.hasAlternatives {
                    // No answer in time, with several stores: the next calls take a new connection rather than wait
                    // on this one, which may lead to a store that stopped serving it (one store: the connection is
                    // kept, a slow store is no reason to reconnect).
                    await self.store.abandon(connection, after: options.requestTimeout ?? .seconds(10))
                }
                throw SegmentsClientError(error, method: method)
            }
        }
    }

    func streamStore<Request, Response>(
        _ method: ServerStreamMethod<Request, Response>,
        _ request: Request
    ) async throws(SegmentsClientError) -> SegmentsStream<Response> {
        let connection = try await self.store.get(for: method.name)
        return SegmentsStream(responses: connection.stream(method, request))
    }
}

/// The responses of a streaming call, in wire messages; iterating throws ``SegmentsClientError``. Public only
/// for the feed calls outside the stable API (``SegmentsClient/changes(fromSeq:maxBatch:)``).
@_spi(SegmentsInternal)
public struct SegmentsStream<Element: Message>: AsyncSequence {
    let responses: RPCResponseStream<Element>
    /// A connection opened for this stream alone, closed when the stream and its iterators are gone.
    let owner: RPCConnection?

    init(responses: RPCResponseStream<Element>, owner: RPCConnection? = nil) {
        self.responses = responses
        self.owner = owner
    }

    /// Iterates the responses.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: RPCResponseStream<Element>.AsyncIterator
        let owner: RPCConnection?

        /// The next response, or `nil` at the end of the stream.
        @concurrent public mutating func next() async throws -> Element? {
            do {
                return try await self.base.next()
            } catch let error as RPCError {
                throw SegmentsClientError(error)
            } catch let error as CancellationError {
                throw SegmentsClientError(.cancelled, "stream cancelled", underlying: error)
            }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: self.responses.makeAsyncIterator(), owner: self.owner)
    }
}
