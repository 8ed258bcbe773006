import SegmentsWire

/// Where a ``SegmentsClient`` finds the daemons.
public struct SegmentsClientConfiguration: Sendable {
    /// The profile store's socket.
    public var storeSocketPath: String
    /// The evaluators' sockets, one per shard in shard order (shard `i` at index `i`).
    public var evaluatorSocketPaths: [String]
    /// Largest response frame accepted. Default 16 MiB.
    public var maximumFrameLength: Int

    /// Creates a configuration.
    /// - Parameters:
    ///   - storeSocketPath: the store's socket.
    ///   - evaluatorSocketPaths: the evaluator shards' sockets, in shard order.
    ///   - maximumFrameLength: the frame size limit.
    public init(
        storeSocketPath: String,
        evaluatorSocketPaths: [String] = [],
        maximumFrameLength: Int = FrameDecoder.defaultMaximumFrameLength
    ) {
        self.storeSocketPath = storeSocketPath
        self.evaluatorSocketPaths = evaluatorSocketPaths
        self.maximumFrameLength = maximumFrameLength
    }
}
