import DaemonSupport
import Logging
import NIOCore
import SegmentEngine
import SegmentLanguage
import SegmentsRPC
import SegmentsWire
import Synchronization

/// Follows the store's change log into the evaluator core: subscribes from the last applied
/// entry, applies every entry in order, loads back-fills when a new segment needs data the engine
/// did not keep, persists after each batch, and in real-time mode moves time forward at each due
/// instant. Reconnects when the store goes away, and — through a ``FeedWatchdog`` — when the
/// feed stalls.
///
/// The live feed and each back-fill read are separate streams on separate connections, each
/// flow-controlled on its own: a back-fill never waits behind live batches nobody reads.
struct FeedApplier: Sendable {
    let core: EvaluatorCore
    /// Webhook registrations learned from the log (delivery runs elsewhere).
    let webhooks: WebhookLedger
    let configuration: SegmentEvaluatorConfiguration
    let logger: Logger
    let progress = FeedProgress()

    /// The feed's time between state saves, as a multiple of the time the last save held the
    /// feed (taking the changed users' states under the state lock): keeps saving under 4 % of
    /// the feed's time when most users change between saves (a high write rate over many users),
    /// at the price of a longer replay after a crash.
    static let stateIntervalPerSaveTime = 25
    /// The same, as a multiple of the time the state thread took to encode and write the last
    /// save: keeps that thread busy at most a quarter of the time (it shares the machine with the
    /// feed), and makes a save still in flight at shutdown, which the final save waits for, rare.
    static let stateIntervalPerWriteTime = 4

    /// Runs until cancelled, then saves the engine's state.
    func run() async {
        defer {
            do {
                try self.core.persistWithState()
            } catch {
                self.logger.error("cannot save the engine state at shutdown", metadata: ["error": "\(error)"])
            }
        }
        let watchdog = FeedWatchdog(
            progress: self.progress,
            applied: self.core.applied,
            storeHead: PublishedStoreHead(stores: self.configuration.storeAddresses, tls: self.configuration.storeTLS),
            timeout: self.configuration.stallTimeout,
            logger: self.logger
        )
        while !Task.isCancelled {
            let store = self.configuration.storeAddresses.current
            do {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await self.followOnce() }
                    group.addTask { try await watchdog.watch() }
                    // The first to end (the feed failing, or the watchdog finding it stalled)
                    // ends the other.
                    try await group.next()
                    group.cancelAll()
                }
            } catch is CancellationError {
                return
            } catch {
                if Task.isCancelled { return }
                if let diskFull = error as? SegmentEvaluatorError, diskFull.code == .diskFull {
                    await self.waitForSpace(diskFull)
                    continue
                }
                // Several stores: a standby names the writer to follow; any other failure tries the next store.
                if let refusal = error as? RPCError, refusal.isStandbyRefusal {
                    self.configuration.storeAddresses.follow(refusal, from: store)
                } else {
                    self.configuration.storeAddresses.advance(from: store)
                }
                self.logger.warning(
                    "store feed interrupted; reconnecting",
                    metadata: ["error": "\(error)", "store": "\(self.configuration.storeAddresses.current)"]
                )
            }
            try? await Task.sleep(for: self.configuration.reconnectDelay)
        }
    }

    /// The disk holding the evaluator's data is full. Following the store on would only pile up transitions in memory
    /// that cannot be recorded, so the feed stops: reads of what is recorded go on, reads that need more are told why
    /// (``EvaluatorCore/blockedBy``), and every second the waiting transitions are tried again. Once they fit, the
    /// feed goes on from where it stopped, by itself.
    private func waitForSpace(_ error: SegmentEvaluatorError) async {
        let reason =
            "\(error.message); the evaluator has stopped following the store and goes on by itself once space is freed"
        self.core.blockedBy.withLock { $0 = reason }
        self.logger.error(
            "the disk holding the evaluator's data is full; waiting for space",
            metadata: ["error": "\(error.message)", "applied": "\(self.core.applied.headSeq)"]
        )
        let started = ContinuousClock.now
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            do {
                try self.core.persist()
                break
            } catch {
                guard error.code == .diskFull else {
                    self.logger.warning("cannot record the waiting transitions", metadata: ["error": "\(error)"])
                    break
                }
            }
        }
        self.core.blockedBy.withLock { $0 = nil }
        if !Task.isCancelled {
            self.logger.notice(
                "space is free again: the waiting transitions are recorded; following the store again",
                metadata: ["waited": "\(ContinuousClock.now - started)", "applied": "\(self.core.applied.headSeq)"]
            )
        }
    }

    private func followOnce() async throws {
        self.progress.enter(.connecting)
        let connection = try await self.configuration.connectToStore()
        do {
            try await self.follow(over: connection)
        } catch {
            await connection.close()
            throw error
        }
    }

    private func follow(over connection: RPCConnection) async throws {
        let info = try await connection.call(ProfileStoreAPI.getInfo, .init())
        let builtFrom = self.core.log.storeID
        if !info.storeID.isEmpty, builtFrom != info.storeID {
            if let builtFrom {
                // Same socket, another database (restored elsewhere, or replaced): this evaluator's positions
                // mean nothing there, even when that log is longer.
                self.logger.warning(
                    "this evaluator's data was built from another store; rebuilding from the store",
                    metadata: ["built-from": "\(builtFrom)", "store": "\(info.storeID)"]
                )
                try self.core.reset()
                try self.webhooks.reset()
            }
            try self.core.recordStoreID(info.storeID)
        }
        let applied = self.core.read { $0.appliedSeq }
        if info.headSeq < applied || info.headSeq < self.core.log.checkpointSeq {
            self.logger.warning(
                "the store's change log is behind this evaluator's checkpoint; rebuilding from the store",
                metadata: ["store-head": "\(info.headSeq)", "checkpoint": "\(self.core.log.checkpointSeq)"]
            )
            try self.core.reset()
            try self.webhooks.reset()
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.follow(connection, catchingUpTo: info.headSeq) }
            group.addTask { try await self.acknowledgeDurablePositions(over: connection) }
            group.addTask { try await self.saveStateWhenIdle() }
            if !info.manualClock {
                group.addTask { try await self.runClock() }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    /// A subscription as this evaluator: registered with the store under its own id, so that
    /// deleted users' data stays replayable for it until its saved state has passed the deletion.
    private func subscribeRequest(from seq: UInt64) -> Segments_V1_SubscribeRequest {
        var request = Segments_V1_SubscribeRequest()
        request.fromSeq = seq
        request.subscriberID = self.core.log.evaluatorID
        request.durableSeq = self.core.log.stateSeq
        request.name = "segment-evaluator shard \(self.configuration.shardIndex)/\(self.configuration.shardCount)"
        request.resuming = self.core.log.checkpointSeq > 0
        return request
    }

    /// Tells the store each new durable position — the store change a restart replays from, which
    /// moves with every saved engine state — and, at least every 10 s, that this evaluator is
    /// still there.
    private func acknowledgeDurablePositions(over connection: RPCConnection) async throws {
        let clock = ContinuousClock()
        var acknowledged: UInt64?
        var last = clock.now
        while true {
            try await Task.sleep(for: .milliseconds(500))
            let durable = self.core.log.stateSeq
            guard durable != acknowledged || clock.now - last >= .seconds(10) else { continue }
            var request = Segments_V1_AcknowledgeFeedRequest()
            request.subscriberID = self.core.log.evaluatorID
            request.durableSeq = durable
            request.name = self.subscribeRequest(from: 0).name
            do {
                _ = try await connection.call(ProfileStoreAPI.acknowledgeFeed, request)
                (acknowledged, last) = (durable, clock.now)
            } catch {
                if Task.isCancelled { throw CancellationError() }
                self.logger.debug("cannot acknowledge the durable position", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Applies the feed from the engine's position on. `headSeq` is the store's head when the
    /// connection was made: reaching it is logged once, with the time it took and what the engine
    /// holds.
    private func follow(_ connection: RPCConnection, catchingUpTo headSeq: UInt64) async throws {
        // A back-fill interrupted by a restart or a resubscription is loaded again first.
        if let session = self.core.beginBackfill() {
            try await self.loadBackfill(session)
        }
        // Publishes the position restored at start-up to readers, who would otherwise wait for
        // the next store write.
        try self.core.persist()
        let request = self.subscribeRequest(from: self.core.read { $0.appliedSeq } + 1)
        let clock = ContinuousClock()
        var lastState = clock.now
        var stateInterval = self.configuration.stateSaveInterval
        var catchUp = request.fromSeq <= headSeq ? (start: clock.now, from: request.fromSeq - 1) : nil
        let persisting = PersistPipeline(core: self.core)
        // Whatever was requested is written before this feed ends, even by an error.
        defer { try? persisting.drain() }
        self.progress.enter(.awaitingFeed(after: request.fromSeq - 1))
        let batches = PrefetchingIterator(connection.stream(ProfileStoreAPI.subscribe, request).makeAsyncIterator())
        defer { batches.cancel() }
        var next: Segments_V1_ChangeBatch?
        do {
            next = try await batches.next()
        } catch let error as RPCError where error.code == .failedPrecondition {
            self.logger.warning(
                "the store can no longer replay its log as this evaluator saw it; rebuilding from the store",
                metadata: ["reason": "\(error.message)"]
            )
            try self.core.reset()
            try self.webhooks.reset()
            throw error
        }
        while let batch = next {
            // The next batch is received and decoded on another thread while this one is applied.
            batches.prefetch()
            if let last = batch.entries.last {
                self.core.lag.observe(headSeq: last.seq)
            }
            self.progress.enter(.applying(through: batch.entries.last?.seq ?? 0))
            for entry in batch.entries {
                // Before the engine: a failure here resubscribes from this entry (see WebhookLedger).
                try self.webhooks.apply(entry)
                self.core.apply(entry)
                // At this very entry, whatever the batching: the transitions a back-fill causes
                // depend only on the log, so a replay after a crash records the same ones.
                if let session = self.core.beginBackfill() {
                    try await self.loadBackfill(session)
                    self.progress.enter(.applying(through: batch.entries.last?.seq ?? 0))
                }
            }
            let saveState = clock.now - lastState >= stateInterval
            // Written on the pipeline's thread while the next batch is applied.
            try persisting.request(includingState: saveState)
            if saveState {
                lastState = clock.now
                stateInterval = max(
                    self.configuration.stateSaveInterval,
                    self.core.lastStateTakeDuration * Self.stateIntervalPerSaveTime,
                    self.core.log.engineState.lastWriteDuration * Self.stateIntervalPerWriteTime
                )
            }
            if let started = catchUp, let last = batch.entries.last, last.seq >= headSeq {
                // The catch-up's garbage (decoded batches, grown and moved arrays) goes back now; while
                // the feed stays busy nothing is handed back (see `FreeMemory.releaseToSystem()`).
                catchUp = nil
                self.core.log.engineState.releaseFreeMemory()
                self.logCaughtUp(from: started.from, through: last.seq, took: clock.now - started.start)
            }
            self.progress.enter(.awaitingFeed(after: self.core.read { $0.appliedSeq }))
            next = try await batches.next()
        }
        throw SegmentEvaluatorError(.unavailable, "the store ended the change feed")
    }

    /// Logs that the feed has applied the store's head as of the connection, with the engine's
    /// memory by kind of state (an estimate walking every user: once per connection).
    private func logCaughtUp(from: UInt64, through: UInt64, took: Duration) {
        guard self.logger.logLevel <= .info else { return }
        let (users, usage) = self.core.read { ($0.userCount, $0.memoryUsage()) }
        var metadata: Logger.Metadata = [
            "from-seq": "\(from)", "through-seq": "\(through)", "took": "\(took)", "users": "\(users)",
            "engine-bytes": "\(usage.total)", "window-entries": "\(usage.windowEntryCount)",
        ]
        for (name, bytes) in usage.categories {
            metadata["engine-bytes-" + name.split(separator: " ").joined(separator: "-")] = "\(bytes)"
        }
        self.logger.info("caught up with the store's change log", metadata: metadata)
    }

    /// Fills a back-fill with what the engine needs as of the entry it has just applied, from the
    /// store's change log (which holds every write; as a registered subscriber, this evaluator
    /// reads entries scrubbed of deleted users as they were, until its saved state has passed the
    /// deletion), and hands it to the core.
    ///
    /// Reading the log prefix rather than a snapshot of the store's current state makes a
    /// back-fill exact whenever it runs: live, or while a restarted evaluator replays old entries.
    /// The session is filled outside the engine's lock (reads go on meanwhile); the feed, the only
    /// writer of the segments whose definitions the session reads, waits for it.
    ///
    /// The log is read over a connection of its own, so the live feed's stream, which nobody reads
    /// meanwhile, holds up nothing but itself.
    private func loadBackfill(_ filled: EvaluatorCore.BackfillSession) async throws {
        let session = filled.session
        let upTo = session.snapshotSeq
        self.progress.enter(.loadingBackfill(upTo: upTo, readThrough: 0))
        let clock = ContinuousClock()
        let start = clock.now
        var events = 0
        if upTo > 0 {
            let connection = try await self.configuration.connectToStore()
            do {
                events = try await self.read(into: session, through: upTo, over: connection)
            } catch {
                await connection.close()
                throw error
            }
            await connection.close()
        }
        // Installing it is work of the evaluator's own (seconds with millions of users).
        self.progress.enter(.applying(through: upTo))
        self.logger.info(
            "back-fill read from the change log",
            metadata: [
                "up-to-seq": "\(upTo)", "needs": "\(session.needs)", "events-kept": "\(events)",
                "read-time": "\(clock.now - start)",
            ]
        )
        self.core.installBackfill(filled)
    }

    /// Reads the store's log from its first entry through `upTo` into `session`: this shard's
    /// users, with the attributes and events the session's needs name.
    /// - Returns: The number of events taken.
    private func read(
        into session: MembershipBackfill,
        through upTo: UInt64,
        over connection: RPCConnection
    ) async throws -> Int {
        let needs = session.needs
        let filter = ChangeFilter(profiles: !needs.attributes.isEmpty, eventNames: needs.events.keys)
        var taken = 0
        var payloads = connection.stream(ProfileStoreAPI.subscribe, self.subscribeRequest(from: 1))
            .makeAsyncIterator()
        while let payload = try await payloads.nextPayload() {
            // Events of other names are skipped undecoded: most of a log, for most new segments.
            let decoded = payload.withUnsafeReadableBytes {
                Segments_V1_ChangeBatch(fastDecoding: $0, keeping: filter)
            }
            let batch: Segments_V1_ChangeBatch
            do {
                batch = try decoded ?? Segments_V1_ChangeBatch(buffer: payload)
            } catch {
                throw SegmentEvaluatorError(.unavailable, "the store sent a change batch that does not decode")
            }
            self.progress.enter(.loadingBackfill(upTo: upTo, readThrough: batch.entries.last?.seq ?? 0))
            for entry in batch.entries {
                guard entry.seq <= upTo else { return taken }
                switch entry.change {
                case .profilesUpserted(let upserted) where !needs.attributes.isEmpty:
                    for change in upserted.changes where self.core.owns(change.userID) {
                        var set: [String: AttributeValue] = [:]
                        for (name, value) in change.set where needs.attributes.contains(name) {
                            set[name] = AttributeValue(wire: value)
                        }
                        session.updateProfile(userID: change.userID, set: set, removed: change.removed)
                    }
                case .eventsTracked(let tracked):
                    for event in tracked.events where needs.needsEvent(event.name) && self.core.owns(event.userID) {
                        session.addEvent(userID: event.userID, EventRecord(wire: event))
                        taken += 1
                    }
                case .userDeleted(let deleted):
                    session.removeUser(deleted.userID)
                default:
                    break
                }
                if entry.seq == upTo { return taken }
            }
        }
        throw SegmentEvaluatorError(.unavailable, "the store ended the change feed before store change \(upTo)")
    }

    /// Saves the engine's state when the feed has waited for the store a whole state interval
    /// with changes applied since the last save: the feed saves only after a batch, so without
    /// this the last changes before a quiet spell would be replayed at the next restart.
    private func saveStateWhenIdle() async throws {
        var before = self.progress.snapshot
        while true {
            try await Task.sleep(for: self.configuration.stateSaveInterval)
            let now = self.progress.snapshot
            defer { before = now }
            guard case .awaitingFeed = now.activity, now.ticks == before.ticks else { continue }
            if self.core.log.engineState.stateSeq < self.core.read({ $0.appliedSeq }) {
                try self.core.persist(includingState: true)
                // Quiet now: the memory the saves freed goes back (after this save is written).
                self.core.log.engineState.releaseFreeMemory()
            }
        }
    }

    /// Real-time mode: re-evaluates users at the instants their memberships fall due.
    private func runClock() async throws {
        while !Task.isCancelled {
            let waitMs = try self.advanceDueUsers()
            guard waitMs > 0 else { continue }
            // Sleep until the next due instant, but wake when new entries may have moved it.
            let seen = self.core.applied.headSeq
            _ = await self.core.applied.wait(untilReaching: seen + 1, timeout: .milliseconds(waitMs))
        }
    }

    /// Moves time to now if a user is due, persisting the transitions.
    /// - Returns: how long to wait for the next due instant, in ms (0: check again at once).
    // Not inlined: the Swift 6.3.1 optimizer crashes splitting `runClock` when it is.
    @inline(never)
    private func advanceDueUsers() throws -> Int64 {
        let due = self.core.read { $0.nextDueMs() }
        let now = WallClock.nowMs()
        guard let due else { return 1000 }
        if due <= now {
            self.core.advance(to: now)
            try self.core.persist()
            return 0
        }
        return min(due - now, 1000)
    }
}

/// An iterator of change batches that can fetch and decode the next batch in a task of its own
/// (``prefetch()``) while the caller applies the current one: during a catch-up, decoding is a
/// fifth of the work, and this puts it on the second core.
///
/// Used by one task; at most one fetch is in flight.
private final class PrefetchingIterator: @unchecked Sendable {
    // @unchecked: `iterator` is used by one fetch at a time — the caller's `next()` or the one
    // prefetch task, which `next()` awaits before touching it.
    private var iterator: RPCResponseStream<Segments_V1_ChangeBatch>.AsyncIterator
    private var pending: Task<Segments_V1_ChangeBatch?, any Error>?

    init(_ iterator: RPCResponseStream<Segments_V1_ChangeBatch>.AsyncIterator) {
        self.iterator = iterator
    }

    /// Starts fetching the next batch, unless a fetch is already in flight.
    func prefetch() {
        guard self.pending == nil else { return }
        self.pending = Task { try await self.fetch() }
    }

    private func fetch() async throws -> Segments_V1_ChangeBatch? {
        try await self.iterator.next()
    }

    /// The next batch: the prefetched one, or fetched now.
    func next() async throws -> Segments_V1_ChangeBatch? {
        guard let pending = self.pending else { return try await self.fetch() }
        self.pending = nil
        return try await withTaskCancellationHandler {
            try await pending.value
        } onCancel: {
            pending.cancel()
        }
    }

    /// Cancels a fetch in flight.
    func cancel() {
        self.pending?.cancel()
    }
}
