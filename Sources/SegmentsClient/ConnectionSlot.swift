import SegmentsRPC
import SegmentsWire

/// One lazily opened, automatically reopened connection to a daemon socket.
actor ConnectionSlot {
    private let path: String
    private let maximumFrameLength: Int
    private var connection: RPCConnection?

    init(path: String, maximumFrameLength: Int) {
        self.path = path
        self.maximumFrameLength = maximumFrameLength
    }

    /// The open connection, connecting first if there is none or it closed.
    func get() async throws(SegmentsClientError) -> RPCConnection {
        if let connection, connection.isActive {
            return connection
        }
        do {
            let connection = try await RPCConnection.connect(to: self.path, maximumFrameLength: self.maximumFrameLength)
            self.connection = connection
            return connection
        } catch let error as RPCError {
            throw SegmentsClientError(error)
        } catch {
            throw SegmentsClientError(.unavailable, "cannot connect to \(self.path): \(error)")
        }
    }

    /// A new connection of its own, for a long-lived stream: a reader that stalls its stream then
    /// holds up only that connection's flow control, never the calls sharing ``get()``.
    func dedicated() async throws(SegmentsClientError) -> RPCConnection {
        do {
            return try await RPCConnection.connect(to: self.path, maximumFrameLength: self.maximumFrameLength)
        } catch let error as RPCError {
            throw SegmentsClientError(error)
        } catch {
            throw SegmentsClientError(.unavailable, "cannot connect to \(self.path): \(error)")
        }
    }

    /// Closes the connection if open.
    func close() async {
        await self.connection?.close()
        self.connection = nil
    }
}
