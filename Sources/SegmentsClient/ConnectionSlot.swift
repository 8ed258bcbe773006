import Logging
import NIOCore
import NIOPosix
import SegmentsRPC
import SegmentsWire
import Synchronization

/// One lazily opened, automatically reopened connection to a daemon socket — or to whichever of
/// several addresses serves (profile stores on one PostgreSQL database: the writer; see
/// ``RPCAddressList``).
///
/// One connect at a time: callers that arrive while a connect is under way wait for it and share
/// its connection (the actor is re-entered at the connect's `await`, so without this every first
/// call of a burst opened a connection of its own, and all but the last leaked until the client
/// closed). A connect tries as often as the configuration's reconnect policy says.
actor ConnectionSlot {
    /// The connection, readable without entering the actor: a call on a connection that is up (nearly every call)
    /// then takes no executor hop (one of the hand-offs issue 11 counts in a `check`).
    private nonisolated let connection = Mutex<RPCConnection?>(nil)
    /// Where to connect: one address, or several tried in turn.
    nonisolated let addresses: RPCAddressList
    private let tls: RPCTLSFiles?
    private let options: SegmentsClientConfiguration.Options
    private let logger: Logger?
    private let eventLoopGroup: any EventLoopGroup
    /// The connect under way, shared by every caller that needs it.
    private var connecting: Task<RPCConnection, any Error>?

    init(
        path: String,
        tls: SegmentsClientTLS? = nil,
        options: SegmentsClientConfiguration.Options = .init(),
        logger: Logger? = nil,
        eventLoopGroup: (any EventLoopGroup)? = nil
    ) {
        self.addresses = RPCAddressList(path)
        self.tls = tls.map {
            RPCTLSFiles(
                certificatePath: $0.certificatePath,
                privateKeyPath: $0.privateKeyPath,
                trustedCAPath: $0.trustedCAPath
            )
        }
        self.options = options
        self.logger = logger
        self.eventLoopGroup = eventLoopGroup ?? MultiThreadedEventLoopGroup.singleton
    }

    /// The open connection, connecting first if there is none or it closed.
    /// - Parameter method: the call it is for, named in a connect failure.
    nonisolated func get(for method: String? = nil) async throws(SegmentsClientError) -> RPCConnection {
        if let connection = self.connection.withLock({ $0 }), connection.isActive {
            return connection
        }
        return try await self.reconnect(for: method)
    }

    /// ``get(for:)`` when there is no open connection: one connect, shared by every caller waiting for it.
    private func reconnect(for method: String?) async throws(SegmentsClientError) -> RPCConnection {
        if let connection = self.connection.withLock({ $0 }), connection.isActive {
            return connection
        }
        let attempt: Task<RPCConnection, any Error>
        if let connecting {
            attempt = connecting
        } else {
            let (addresses, tls, options, logger, group) = (
                self.addresses, self.tls, self.options, self.logger, self.eventLoopGroup
            )
            attempt = Task {
                try await Self.open(addresses, tls: tls, options: options, logger: logger, eventLoopGroup: group)
            }
            self.connecting = attempt
        }
        let result = await attempt.result
        if self.connecting == attempt {
            // The first waiter to resume settles the attempt: later calls see its connection, or
            // start a new connect after a failure.
            self.connecting = nil
            if case .success(let connection) = result { self.connection.withLock { $0 = connection } }
        }
        switch result {
        case .success(let connection): return connection
        case .failure(let error): throw self.clientError(error, method: method)
        }
    }

    /// A new connection of its own, for a long-lived stream: a reader that stalls its stream then
    /// holds up only that connection's flow control, never the calls sharing ``get(for:)``.
    /// - Parameter method: the stream it is for, named in a connect failure.
    func dedicated(for method: String) async throws(SegmentsClientError) -> RPCConnection {
        do {
            return try await Self.open(
                self.addresses,
                tls: self.tls,
                options: self.options,
                logger: self.logger,
                eventLoopGroup: self.eventLoopGroup
            )
        } catch {
            throw self.clientError(error, method: method)
        }
    }

    /// Connects to the current address, trying again as `options.reconnect` says; with several
    /// addresses, each failure moves on to the next, and the delay comes once all were tried.
    private static func open(
        _ addresses: RPCAddressList,
        tls: RPCTLSFiles?,
        options: SegmentsClientConfiguration.Options,
        logger: Logger?,
        eventLoopGroup: any EventLoopGroup
    ) async throws -> RPCConnection {
        var attempt = 1
        let count = addresses.addresses.count
        while true {
            let path = addresses.current
            do {
                let connection = try await RPCConnection.connect(
                    to: path,
                    tls: tls,
                    maximumFrameLength: options.maximumFrameLength,
                    connectTimeout: options.connectTimeout,
                    eventLoopGroup: eventLoopGroup
                )
                logger?.debug("connected", metadata: ["socket": "\(path)", "attempt": "\(attempt)"])
                return connection
            } catch {
                // A wrong address or unusable certificate files do not get better by trying again.
                let permanent = (error as? RPCError)?.code == .invalidArgument
                guard attempt < options.reconnect.attempts * count, !Task.isCancelled, !permanent else {
                    logger?.info(
                        "cannot connect",
                        metadata: ["socket": "\(path)", "attempts": "\(attempt)", "error": "\(error)"]
                    )
                    throw error
                }
                addresses.advance(from: path)
                attempt += 1
                // With several addresses, the others are tried at once; the delay comes between rounds.
                guard (attempt - 1) % count == 0 else { continue }
                let delay = options.reconnect.delay(before: (attempt - 1) / count + 1)
                logger?.debug(
                    "cannot connect; trying again",
                    metadata: ["socket": "\(path)", "attempt": "\(attempt)", "in": "\(delay)", "error": "\(error)"]
                )
                try await Task.sleep(for: delay)
            }
        }
    }

    /// A failed connect as the error of the call (`method`) it was for.
    private func clientError(_ error: any Error, method: String?) -> SegmentsClientError {
        if let error = error as? RPCError { return SegmentsClientError(error, method: method) }
        return SegmentsClientError(
            .unavailable,
            "cannot connect to \(self.addresses): \(error)",
            method: method,
            underlying: error
        )
    }

    /// After a standby store refused a call on `connection` (made to `address`): drops that connection,
    /// so that the next call connects to the writer it named (or the next address).
    func follow(_ refusal: RPCError, on connection: RPCConnection, address: String) async {
        self.addresses.follow(refusal, from: address)
        let dropped = self.connection.withLock { current -> RPCConnection? in
            guard current === connection else { return nil }
            current = nil
            return connection
        }
        await dropped?.close()
    }

    /// Stops using `connection` for new calls (the next one connects again) and closes it after `grace`,
    /// when the calls still on it have had their time.
    func abandon(_ connection: RPCConnection, after grace: Duration) {
        let abandoned = self.connection.withLock { current -> Bool in
            guard current === connection else { return false }
            current = nil
            return true
        }
        guard abandoned else { return }
        Task {
            try? await Task.sleep(for: grace)
            await connection.close()
        }
    }

    /// Closes the connection if open, and the one a connect under way opens.
    func close() async {
        if let connecting {
            self.connecting = nil
            await (try? connecting.value)?.close()
        }
        let connection = self.connection.withLock { connection in
            defer { connection = nil }
            return connection
        }
        await connection?.close()
    }
}
