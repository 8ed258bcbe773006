import SegmentsWire

/// The profile store's state: its change log's head, its clock and its sizes.
public struct SegmentsStoreInfo: Sendable, Hashable {
    /// A registered reader of the change log (an evaluator shard): the store keeps deleted users' data replayable
    /// for it until its durable position has passed the deletion.
    public struct FeedSubscriber: Sendable, Hashable {
        /// The subscriber's own id (an evaluator's, made when its data directory was created).
        public var id: String
        /// What the subscriber calls itself (e.g. `segment-evaluator shard 0/2`).
        public var name: String
        /// The subscriber's durable position: after a crash it replays the log from the entry after this one.
        public var durableSeq: UInt64
        /// When it last subscribed or acknowledged (ms since the Unix epoch, wall clock).
        public var seenAtMs: Int64

        public init(id: String, name: String, durableSeq: UInt64, seenAtMs: Int64) {
            self.id = id
            self.name = name
            self.durableSeq = durableSeq
            self.seenAtMs = seenAtMs
        }
    }

    /// The number of the last change-log entry written.
    public var headSeq: UInt64
    /// The store's clock now (ms since the Unix epoch).
    public var nowMs: Int64
    /// Whether the clock is the manual test clock (moved with ``SegmentsClient/setClock(toMs:)``).
    public var manualClock: Bool
    /// The store's version.
    public var version: String
    public var userCount: UInt64
    public var eventCount: UInt64
    public var feedSubscribers: [FeedSubscriber]
    /// Change-log entries kept only because a deleted user's replay may still need them.
    public var heldEntryCount: UInt64

    public init(
        headSeq: UInt64,
        nowMs: Int64,
        manualClock: Bool,
        version: String,
        userCount: UInt64,
        eventCount: UInt64,
        feedSubscribers: [FeedSubscriber],
        heldEntryCount: UInt64
    ) {
        self.headSeq = headSeq
        self.nowMs = nowMs
        self.manualClock = manualClock
        self.version = version
        self.userCount = userCount
        self.eventCount = eventCount
        self.feedSubscribers = feedSubscribers
        self.heldEntryCount = heldEntryCount
    }

    init(_ wire: Segments_V1_StoreInfo) {
        self.init(
            headSeq: wire.headSeq,
            nowMs: wire.nowMs,
            manualClock: wire.manualClock,
            version: wire.version,
            userCount: wire.userCount,
            eventCount: wire.eventCount,
            feedSubscribers: wire.feedSubscribers.map {
                FeedSubscriber(id: $0.subscriberID, name: $0.name, durableSeq: $0.durableSeq, seenAtMs: $0.seenAtMs)
            },
            heldEntryCount: wire.heldEntryCount
        )
    }
}

/// The store's clock after ``SegmentsClient/setClock(toMs:)`` or ``SegmentsClient/advanceClock(byMs:)``.
public struct SegmentsClockReading: Sendable, Hashable {
    /// The clock now (ms since the Unix epoch).
    public var nowMs: Int64
    /// The change-log number of the clock move (read at least this to see its effects).
    public var seq: UInt64

    public init(nowMs: Int64, seq: UInt64) {
        self.nowMs = nowMs
        self.seq = seq
    }

    init(_ wire: Segments_V1_ClockResponse) {
        self.init(nowMs: wire.nowMs, seq: wire.seq)
    }
}

/// One evaluator shard's progress and sizes.
public struct SegmentsEvaluatorStatus: Sendable, Hashable {
    /// The last store change-log entry the shard has applied (and made visible to reads).
    public var appliedSeq: UInt64
    /// The store's head as the shard last heard it.
    public var storeHeadSeq: UInt64
    public var shardIndex: Int
    public var shardCount: Int
    /// The number of the last transition the shard recorded.
    public var transitionSeq: UInt64
    public var userCount: UInt64
    public var segmentCount: Int
    /// The evaluator's version.
    public var version: String

    public init(
        appliedSeq: UInt64,
        storeHeadSeq: UInt64,
        shardIndex: Int,
        shardCount: Int,
        transitionSeq: UInt64,
        userCount: UInt64,
        segmentCount: Int,
        version: String
    ) {
        self.appliedSeq = appliedSeq
        self.storeHeadSeq = storeHeadSeq
        self.shardIndex = shardIndex
        self.shardCount = shardCount
        self.transitionSeq = transitionSeq
        self.userCount = userCount
        self.segmentCount = segmentCount
        self.version = version
    }

    init(_ wire: Segments_V1_EvaluatorStatus) {
        self.init(
            appliedSeq: wire.appliedSeq,
            storeHeadSeq: wire.storeHeadSeq,
            shardIndex: Int(wire.shardIndex),
            shardCount: Int(wire.shardCount),
            transitionSeq: wire.transitionSeq,
            userCount: wire.userCount,
            segmentCount: Int(wire.segmentCount),
            version: wire.version
        )
    }
}
