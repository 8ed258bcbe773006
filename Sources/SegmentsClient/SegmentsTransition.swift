import SegmentsWire

/// A membership change delivered by `watch` or `history`.
public struct SegmentsTransition: Sendable, Hashable {
    /// Enter or exit.
    public enum Kind: String, Sendable {
        case enter, exit
    }

    /// Position in the owning evaluator shard's transition log.
    public var seq: UInt64
    /// The evaluator shard that recorded it.
    public var shard: Int
    public var segment: String
    public var userID: String
    public var kind: Kind
    /// When it became true (ms since the Unix epoch).
    public var atMs: Int64
    /// The store change-log number applied when it happened.
    public var storeSeq: UInt64

    public init(seq: UInt64, shard: Int, segment: String, userID: String, kind: Kind, atMs: Int64, storeSeq: UInt64) {
        self.seq = seq
        self.shard = shard
        self.segment = segment
        self.userID = userID
        self.kind = kind
        self.atMs = atMs
        self.storeSeq = storeSeq
    }

    /// Reads a wire transition recorded by evaluator shard `shard`.
    init(_ wire: Segments_V1_Transition, shard: Int) {
        self.init(
            seq: wire.seq,
            shard: shard,
            segment: wire.segment,
            userID: wire.userID,
            kind: wire.kind == .exit ? .exit : .enter,
            atMs: wire.atMs,
            storeSeq: wire.storeSeq
        )
    }
}

/// The transitions of one evaluator shard as they are recorded (``SegmentsClient/watch(segments:fromSeq:shard:)``),
/// in batches: each element holds the transitions of one delivery, in log order, never empty.
///
/// The watch has a connection of its own, closed when the stream and its iterators are gone. Iterating throws
/// ``SegmentsClientError``.
public struct SegmentsTransitionStream: AsyncSequence {
    public typealias Element = [SegmentsTransition]

    let batches: SegmentsStream<Segments_V1_TransitionBatch>
    /// The shard watched.
    public let shard: Int

    /// Iterates the batches.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: SegmentsStream<Segments_V1_TransitionBatch>.AsyncIterator
        let shard: Int

        /// The next batch, or `nil` when the stream ends.
        @concurrent public mutating func next() async throws -> [SegmentsTransition]? {
            while let batch = try await self.base.next() {
                guard !batch.transitions.isEmpty else { continue }
                return batch.transitions.map { SegmentsTransition($0, shard: self.shard) }
            }
            return nil
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: self.batches.makeAsyncIterator(), shard: self.shard)
    }
}
