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
    /// The store's identity, made when its database was created.
    public var storeID: String

    public init(
        headSeq: UInt64,
        nowMs: Int64,
        manualClock: Bool,
        version: String,
        userCount: UInt64,
        eventCount: UInt64,
        feedSubscribers: [FeedSubscriber],
        heldEntryCount: UInt64,
        storeID: String = ""
    ) {
        self.headSeq = headSeq
        self.nowMs = nowMs
        self.manualClock = manualClock
        self.version = version
        self.userCount = userCount
        self.eventCount = eventCount
        self.feedSubscribers = feedSubscribers
        self.heldEntryCount = heldEntryCount
        self.storeID = storeID
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
            heldEntryCount: wire.heldEntryCount,
            storeID: wire.storeID
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

/// One evaluator shard's progress, lag, sizes and vitals.
public struct SegmentsEvaluatorStatus: Sendable, Hashable {
    /// The last store change-log entry the shard has applied (and made visible to reads).
    public var appliedSeq: UInt64
    /// The store's head as the shard last observed it.
    public var storeHeadSeq: UInt64
    /// How long the oldest store change the shard has not applied has been in the store's log, as the shard observed
    /// it (ms; 0 when caught up).
    public var lagMs: Int64
    public var shardIndex: Int
    public var shardCount: Int
    /// The number of the last transition the shard recorded.
    public var transitionSeq: UInt64
    public var userCount: UInt64
    public var segmentCount: Int
    /// Users with a scheduled wake-up (a membership that can change by time alone).
    public var scheduledWakeups: UInt64
    /// The earliest scheduled wake-up (ms since the Unix epoch), if any.
    public var nextDueMs: Int64?
    /// Transitions recorded for webhooks and not yet delivered, over all of the shard's webhooks.
    public var webhookBacklog: UInt64
    /// The shard's resident memory, bytes.
    public var residentBytes: UInt64
    /// When the shard's process started (ms since the Unix epoch), and for how long it has run (ms).
    public var startedAtMs: Int64
    public var uptimeMs: Int64
    /// Store entries, events and transitions the process has applied or recorded since it started (for rates).
    public var entriesApplied: UInt64
    public var eventsApplied: UInt64
    public var transitionsRecorded: UInt64
    /// The evaluator's version.
    public var version: String
    /// Why the shard cannot move on, while that lasts (e.g. its disk is full); `nil` normally.
    public var blockedBy: String?
    /// The instant from which the shard's transition log records every membership (ms since the Unix epoch): the
    /// earliest instant a read of the past may ask for. `nil` before the shard has applied anything.
    public var coversFromMs: Int64?

    /// The shard's lag in store change-log entries behind `storeHead` (the store's head as read by the caller, or
    /// the shard's own observation when that is later).
    public func lagEntries(storeHead: UInt64) -> UInt64 {
        let head = max(storeHead, self.storeHeadSeq)
        return head > self.appliedSeq ? head - self.appliedSeq : 0
    }

    init(_ wire: Segments_V1_EvaluatorStatus) {
        self.appliedSeq = wire.appliedSeq
        self.storeHeadSeq = wire.storeHeadSeq
        self.lagMs = wire.lagMs
        self.shardIndex = Int(wire.shardIndex)
        self.shardCount = Int(wire.shardCount)
        self.transitionSeq = wire.transitionSeq
        self.userCount = wire.userCount
        self.segmentCount = Int(wire.segmentCount)
        self.scheduledWakeups = wire.scheduledWakeups
        self.nextDueMs = wire.nextDueMs == 0 ? nil : wire.nextDueMs
        self.webhookBacklog = wire.webhookBacklog
        self.residentBytes = wire.residentBytes
        self.startedAtMs = wire.startedAtMs
        self.uptimeMs = wire.uptimeMs
        self.entriesApplied = wire.entriesApplied
        self.eventsApplied = wire.eventsApplied
        self.transitionsRecorded = wire.transitionsRecorded
        self.version = wire.version
        self.blockedBy = wire.blockedBy.isEmpty ? nil : wire.blockedBy
        self.coversFromMs = wire.coversFromMs == 0 ? nil : wire.coversFromMs
    }
}
