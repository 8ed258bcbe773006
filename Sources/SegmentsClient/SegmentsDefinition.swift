import SegmentsWire

/// A saved segment or computed trait: its name, its expression in canonical form, and the store changes that
/// created and last changed it.
public struct SegmentsDefinition: Sendable, Hashable {
    public var name: String
    /// The expression as the store saved it (canonical form: see the segment language).
    public var expression: String
    /// The change-log number of the write that created the segment.
    public var createdSeq: UInt64
    /// The change-log number of the write that last changed it.
    public var updatedSeq: UInt64
    /// When it was created (ms since the Unix epoch, store clock).
    public var createdAtMs: Int64
    /// When it was last changed (ms since the Unix epoch, store clock).
    public var updatedAtMs: Int64

    public init(
        name: String,
        expression: String,
        createdSeq: UInt64,
        updatedSeq: UInt64,
        createdAtMs: Int64,
        updatedAtMs: Int64
    ) {
        self.name = name
        self.expression = expression
        self.createdSeq = createdSeq
        self.updatedSeq = updatedSeq
        self.createdAtMs = createdAtMs
        self.updatedAtMs = updatedAtMs
    }

    init(_ wire: Segments_V1_Trait) {
        self.init(
            name: wire.name,
            expression: wire.expression,
            createdSeq: wire.createdSeq,
            updatedSeq: wire.updatedSeq,
            createdAtMs: wire.createdAtMs,
            updatedAtMs: wire.updatedAtMs
        )
    }

    init(_ wire: Segments_V1_Segment) {
        self.init(
            name: wire.name,
            expression: wire.expression,
            createdSeq: wire.createdSeq,
            updatedSeq: wire.updatedSeq,
            createdAtMs: wire.createdAtMs,
            updatedAtMs: wire.updatedAtMs
        )
    }
}

/// A static list and its size, as the store holds it.
public struct SegmentsList: Sendable, Hashable {
    public var name: String
    /// Number of members.
    public var size: UInt64
    /// The change-log number of the write that created the list.
    public var createdSeq: UInt64

    public init(name: String, size: UInt64, createdSeq: UInt64) {
        self.name = name
        self.size = size
        self.createdSeq = createdSeq
    }

    init(_ wire: Segments_V1_StaticList) {
        self.init(name: wire.name, size: wire.size, createdSeq: wire.createdSeq)
    }
}
