extension Duration {
    /// The duration in whole nanoseconds (truncated), for APIs that count in them (NIO's `TimeAmount`, metrics).
    public var inNanoseconds: Int64 {
        let (seconds, attoseconds) = self.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    /// The duration in whole milliseconds (truncated), the unit of every instant on the wire.
    public var inMilliseconds: Int64 {
        let (seconds, attoseconds) = self.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
