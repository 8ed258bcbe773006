import DaemonSupport
import Logging
import SegmentEngine
import SegmentLanguage
import SegmentsWire
import Synchronization

/// The engine and everything that must change together with it: the transition log, the
/// checkpoint and a pending back-fill. One lock guards all of it, so that what queries see, what
/// is persisted and what watchers are told always agree.
///
/// The feed applier and the wall-clock timer mutate it; query handlers read it.
final class EvaluatorCore: Sendable {
    /// The engine, reachable only through ``state``'s lock.
    final class EngineBox: @unchecked Sendable {
        // @unchecked: the engine is touched only while `EvaluatorCore.state` is locked.
        let engine: MembershipEngine

        init(_ engine: MembershipEngine) {
            self.engine = engine
        }
    }

    struct State: ~Copyable {
        var box: EngineBox
        var engine: MembershipEngine { self.box.engine }
        /// A back-fill whose snapshot is loaded, waiting for the engine to reach its sequence number.
        var backfill: MembershipBackfill?
        /// The first applied entry from which a segment waits for a back-fill (it is not evaluated
        /// until then): reads must not take that entry as applied before the back-fill is installed.
        var unmetSinceSeq: UInt64?
        /// Set after a restart until the engine has passed the recorded checkpoint.
        var recovery: Recovery?
        /// A back-fill was installed since the engine state was last saved: save it at the next
        /// persist, so that a restart never replays across a back-fill.
        var saveStateSoon = false
        /// Transitions produced but not yet persisted.
        var pending: [Pending] = []
        /// The commit time of the store's first change, once applied and until persisted (the transition log's
        /// coverage start).
        var coverageStartMs: Int64?
        /// Users deleted since the last persist, with the store change that deleted them: their transitions up to
        /// that change are erased from the log with it.
        var erasedUsers: [(userID: String, storeSeq: UInt64)] = []
    }

    /// What a restarted evaluator already recorded: every transition for store positions before
    /// the checkpoint, and these transitions at the checkpoint's position (time-driven ones
    /// recorded after that entry). A replay's transitions for those positions are not recorded
    /// again; the log, not the replay, is the truth for them (a replay can differ where the
    /// store has since scrubbed a deleted user's data, or where a back-fill saw a later snapshot).
    struct Recovery {
        struct Key: Hashable {
            var segment: String
            var userID: String
            var enter: Bool
            var atMs: Int64
        }

        let checkpointSeq: UInt64
        var recordedAtCheckpoint: [Key: Int]

        /// Whether a replayed transition was already recorded (consuming it if so).
        mutating func alreadyRecorded(_ transition: Pending) -> Bool {
            if transition.storeSeq < self.checkpointSeq { return true }
            guard transition.storeSeq == self.checkpointSeq else { return false }
            let key = Key(
                segment: transition.segment,
                userID: transition.userID,
                enter: transition.enter,
                atMs: transition.atMs
            )
            guard let count = self.recordedAtCheckpoint[key], count > 0 else { return false }
            self.recordedAtCheckpoint[key] = count - 1
            return true
        }
    }

    typealias Pending = (segment: String, userID: String, enter: Bool, atMs: Int64, storeSeq: UInt64)

    let state: SleepingMutex<State>
    /// Held while persisting, around the state lock (never the other way round): orders writes.
    private let persisting = SleepingMutex(())
    let log: TransitionLog
    /// The store change-log number applied and persisted.
    let applied: ProgressNotifier
    /// The transition-log head.
    let transitions: ProgressNotifier
    /// How long the last persist that saved the engine's state held the state lock taking it (ns).
    private let stateTakeNanoseconds = Atomic<Int64>(0)
    /// How long the last persist that saved the engine's state held the state lock (and so the feed and
    /// reads) taking the changed users' states.
    var lastStateTakeDuration: Duration { .nanoseconds(self.stateTakeNanoseconds.load(ordering: .relaxed)) }
    /// The engine's sizes and schedule as of the last persist, for status calls and metrics, which must not wait
    /// for the state lock while a batch is applied.
    struct Figures: Sendable, Equatable {
        var users = 0
        var segments = 0
        /// Users with a scheduled wake-up.
        var scheduledWakeups = 0
        /// The earliest wake-up, ms since the Unix epoch.
        var nextDueMs: Int64?
        /// Users re-evaluated at their due instant since the engine was created or restored.
        var dueWakeups = 0
    }

    private let published = Mutex(Figures())
    /// See ``Figures``.
    var figures: Figures { self.published.withLock { $0 } }
    private let entriesAppliedCount = Atomic<UInt64>(0)
    private let eventsAppliedCount = Atomic<UInt64>(0)
    private let transitionsRecordedCount = Atomic<UInt64>(0)
    /// Store change-log entries applied since the process started.
    var entriesApplied: UInt64 { self.entriesAppliedCount.load(ordering: .relaxed) }
    /// Events (of this shard's users) applied since the process started.
    var eventsApplied: UInt64 { self.eventsAppliedCount.load(ordering: .relaxed) }
    /// Transitions written to the transition log since the process started.
    var transitionsRecorded: UInt64 { self.transitionsRecordedCount.load(ordering: .relaxed) }
    /// When the store's changes were first seen, for the lag in time.
    let lag = FeedLag()
    /// Why the evaluator cannot move on (its disk is full), while that lasts; `nil` normally. Reads that need more
    /// than is recorded are refused at once with this reason instead of waiting, and status reports it.
    let blockedBy = Mutex<String?>(nil)

    /// The applied position, the store's head as observed (never behind the applied position) and the lag in time,
    /// for status calls and metrics.
    var progress: (appliedSeq: UInt64, storeHeadSeq: UInt64, lagMs: Int64) {
        let applied = self.applied.headSeq
        return (applied, max(self.lag.latestHead, applied), self.lag.lagMs(appliedSeq: applied))
    }
    let shardIndex: UInt32
    let shardCount: UInt32
    let logger: Logger
    /// Counts written transitions when the evaluator serves metrics.
    let transitionMetrics: TransitionMetrics?

    init(
        log: TransitionLog,
        shardIndex: UInt32,
        shardCount: UInt32,
        logger: Logger,
        transitionMetrics: TransitionMetrics? = nil
    ) {
        self.log = log
        self.transitionMetrics = transitionMetrics
        self.shardIndex = shardIndex
        self.shardCount = shardCount
        self.logger = logger
        self.state = SleepingMutex(State(box: EngineBox(MembershipEngine(nowMs: Int64.min, appliedSeq: 0))))
        self.applied = ProgressNotifier(headSeq: 0)
        self.transitions = ProgressNotifier(headSeq: log.headSeq)
    }

    /// Whether this shard owns `userID`.
    func owns(_ userID: String) -> Bool {
        self.shardCount <= 1 || UserShard.index(of: userID, shardCount: self.shardCount) == self.shardIndex
    }

    // MARK: - Applying the change log

    /// Applies one change-log entry at its commit time. Transitions are kept for ``persist()``.
    func apply(_ entry: Segments_V1_ChangeEntry) {
        self.state.withLock { state in
            let engine = state.engine
            var produced = self.advance(engine, to: entry.committedAtMs).map { ($0, engine.appliedSeq) }
            let seq = entry.seq
            if seq == 1 { state.coverageStartMs = entry.committedAtMs }
            switch entry.change {
            case .profilesUpserted(let upserted):
                for change in upserted.changes where self.owns(change.userID) {
                    let set = change.set.compactMapValues(AttributeValue.init(wire:))
                    produced += engine.upsertProfile(userID: change.userID, set: set, removed: change.removed, seq: seq)
                        .map { ($0, seq) }
                }
            case .userDeleted(let deleted):
                if self.owns(deleted.userID) {
                    let exits = engine.deleteUser(userID: deleted.userID, seq: seq).map { ($0, seq) }
                    // A replay up to the checkpoint finds the deletion recorded and erased already: its exits,
                    // recorded under the erased name, must not be recorded again under the real one.
                    let replayed = state.recovery.map { seq <= $0.checkpointSeq } ?? false
                    if !replayed {
                        produced += exits
                        state.erasedUsers.append((deleted.userID, seq))
                    }
                }
            case .eventsTracked(let tracked):
                var events: [(userID: String, event: EventRecord)] = []
                events.reserveCapacity(tracked.events.count)
                for event in tracked.events where self.owns(event.userID) {
                    events.append((event.userID, EventRecord(wire: event)))
                }
                if !events.isEmpty {
                    produced += engine.addEvents(events, seq: seq).map { ($0, seq) }
                    self.eventsAppliedCount.add(UInt64(events.count), ordering: .relaxed)
                }
            case .segmentPut(let put):
                do throws(SegmentLanguageError) {
                    let expression = try SegmentExpression.parse(put.segment.evaluated)
                    let clock = ContinuousClock()
                    let start = clock.now
                    let outcome = engine.putSegment(name: put.segment.name, expression: expression, seq: seq)
                    produced += outcome.transitions.map { ($0, seq) }
                    self.logger.info(
                        "segment applied",
                        metadata: [
                            "segment": "\(put.segment.name)", "seq": "\(seq)",
                            "transitions": "\(outcome.transitions.count)",
                            "took": "\(clock.now - start)",
                        ]
                    )
                } catch {
                    self.logger.error(
                        "stored segment does not parse; ignored",
                        metadata: ["segment": "\(put.segment.name)", "error": "\(error.message)"]
                    )
                }
            case .segmentDeleted(let deleted):
                produced += engine.deleteSegment(name: deleted.name, seq: seq).map { ($0, seq) }
            case .clockMoved(let moved):
                produced += engine.advance(to: moved.nowMs).map { ($0, seq) }
            case .listCreated(let created):
                produced += engine.createList(name: created.name, seq: seq).map { ($0, seq) }
            case .listMembersChanged(let changed):
                produced += engine.addToList(name: changed.name, userIDs: changed.added.filter(self.owns), seq: seq)
                    .map { ($0, seq) }
                produced += engine.removeFromList(
                    name: changed.name,
                    userIDs: changed.removed.filter(self.owns),
                    seq: seq
                ).map { ($0, seq) }
            case .listDeleted(let deleted):
                produced += engine.deleteList(name: deleted.name, seq: seq).map { ($0, seq) }
            case .webhookAdded, .webhookRemoved, .traitPut, .traitDeleted, nil:
                // Traits reach the evaluator through the segments reading them, re-saved with each change.
                break
            }
            // Entries with nothing for this shard still move the applied position.
            engine.accept(seq)
            self.entriesAppliedCount.add(1, ordering: .relaxed)
            Self.finishBackfillIfDue(&state, into: &produced)
            if state.unmetSinceSeq != nil {
                Self.trackUnmetNeeds(&state, seq: seq)
            } else if case .segmentPut = entry.change {
                Self.trackUnmetNeeds(&state, seq: seq)
            }
            state.pending += produced.map { transition, storeSeq in
                (transition.segment, transition.userID, transition.kind == .enter, transition.atMs, storeSeq)
            }
        }
    }

    /// `engine.advance(to:)`, logged at `info` when it takes 100 ms or more (a long move: after downtime, or a
    /// manual clock moved far).
    private func advance(_ engine: MembershipEngine, to nowMs: Int64) -> [MembershipTransition] {
        let clock = ContinuousClock()
        let start = clock.now
        let fromMs = engine.nowMs
        let transitions = engine.advance(to: nowMs)
        let took = clock.now - start
        if took >= .milliseconds(100) {
            self.logger.info(
                "moved time forward",
                metadata: [
                    "from": "\(RFC3339.format(fromMs))", "to": "\(RFC3339.format(nowMs))",
                    "transitions": "\(transitions.count)", "took": "\(took)",
                ]
            )
        }
        return transitions
    }

    /// Moves time forward (wall-clock mode); due transitions are kept for ``persist()``.
    func advance(to nowMs: Int64) {
        self.state.withLock { state in
            let engine = state.engine
            let seq = engine.appliedSeq
            state.pending += self.advance(engine, to: nowMs).map {
                ($0.segment, $0.userID, $0.kind == .enter, $0.atMs, seq)
            }
        }
    }

    /// Writes the pending transitions and the checkpoint in one transaction — with the engine's
    /// state (catalog and changed users) when `includingState` or a back-fill asked for it — then
    /// tells readers and watchers.
    ///
    /// What to write is taken under the state lock (memory only); the SQLite transaction runs
    /// after it is released, under the persist lock alone, so reads of the engine never wait on
    /// the disk. The persist lock keeps writes in the order their contents were taken.
    ///
    /// When a state save is due and transitions are waiting, the transitions are written and
    /// published first, and the state is taken and saved in a second round: taking it encodes every
    /// changed user under the state lock (3–14 ms after a new segment's back-fill at 100k users),
    /// which reads waiting for those transitions need not wait for.
    func persist(includingState: Bool = false) throws(SegmentEvaluatorError) {
        try self.persisting.withLock { _ throws(SegmentEvaluatorError) in
            if try self.persistOnce(includingState: includingState, deferringState: true) {
                try self.persistOnce(includingState: includingState, deferringState: false)
            }
            try self.log.indexUsersWhenDue()
        }
    }

    /// One round of ``persist(includingState:)``, under the persist lock.
    /// - Returns: whether a due state save was left to another round (only when `deferringState`).
    @discardableResult
    private func persistOnce(includingState: Bool, deferringState: Bool) throws(SegmentEvaluatorError) -> Bool {
        let clock = ContinuousClock()
        let takeStart = clock.now
        let batch = self.state.withLock { state in
            self.takePersistBatch(&state, includingState: includingState, deferringState: deferringState)
        }
        if batch.write?.engineState != nil {
            self.stateTakeNanoseconds.store((clock.now - takeStart).inNanoseconds, ordering: .relaxed)
        }
        if let write = batch.write {
            let commitStart = clock.now
            do throws(SegmentEvaluatorError) {
                try self.log.append(
                    write.transitions,
                    checkpointSeq: write.checkpointSeq,
                    coversFromMs: write.coversFromMs,
                    erasing: write.erasedUsers
                )
            } catch {
                self.state.withLock { state in
                    state.coverageStartMs = state.coverageStartMs ?? write.coversFromMs
                    state.erasedUsers.insert(contentsOf: write.erasedUsers, at: 0)
                    // Written again with the next batch. The changed users taken for the
                    // state are gone, so no state is saved before a restart: it would be
                    // incomplete (the restart replays from the last complete one).
                    state.pending.insert(contentsOf: write.transitions, at: 0)
                    if write.engineState != nil {
                        self.log.engineState.abandon()
                    }
                }
                throw error
            }
            self.transitionsRecordedCount.add(UInt64(write.transitions.count), ordering: .relaxed)
            if let metrics = self.transitionMetrics {
                metrics.recordCommit(nanoseconds: (clock.now - commitStart).inNanoseconds)
                metrics.record(write.transitions)
            }
            // Only now: the saved state must never be ahead of the recorded transitions.
            if let engineState = write.engineState {
                self.log.engineState.save(engineState, atSeq: write.checkpointSeq)
            }
        }
        self.transitions.publish(headSeq: self.log.headSeq)
        self.applied.publish(headSeq: batch.visibleSeq)
        return batch.stateDeferred
    }

    /// Persists with the engine's state and waits until that state is written (shutdown).
    func persistWithState() throws(SegmentEvaluatorError) {
        // A save still being written would make this one wait for the next persist.
        self.log.engineState.flush()
        try self.persist(includingState: true)
        self.log.engineState.flush()
    }

    /// What one ``persist(includingState:)`` writes.
    private struct PersistBatch {
        struct Write {
            var transitions: [Pending]
            var checkpointSeq: UInt64
            var engineState: EngineStateStore.Save?
            var coversFromMs: Int64?
            var erasedUsers: [(userID: String, storeSeq: UInt64)]
        }

        /// `nil` when nothing changed since the last write.
        var write: Write?
        /// The store change reads may take as applied once the write is done.
        var visibleSeq: UInt64
        /// A state save was due but left to a second round, after these transitions.
        var stateDeferred = false
    }

    /// Takes the pending transitions (and, when due, the engine's state) out of `state`.
    /// Called under both locks.
    /// - Parameter deferringState: leave a due state save to a second round when transitions are
    ///   waiting (see ``persist(includingState:)``).
    private func takePersistBatch(
        _ state: inout State,
        includingState: Bool,
        deferringState: Bool
    ) -> PersistBatch {
        let appliedSeq = state.engine.appliedSeq
        self.publishSizes(of: state.engine)
        if var recovery = state.recovery {
            state.pending.removeAll { recovery.alreadyRecorded($0) }
            state.recovery = appliedSeq > recovery.checkpointSeq ? nil : recovery
        }
        // The checkpoint never moves back while a restart replays up to it.
        let checkpointSeq = max(appliedSeq, self.log.checkpointSeq)
        // While a back-fill waits for its snapshot's entry, or a replay has not reached the
        // checkpoint, the engine's state is not the recorded one: save it only after. While the
        // previous save is still being written, the changed users wait for the next one.
        let stateDue =
            (includingState || state.saveStateSoon) && state.backfill == nil && state.recovery == nil
            && self.log.engineState.canSave
        let stateDeferred = stateDue && deferringState && !state.pending.isEmpty
        let saveState = stateDue && !stateDeferred
        // Read your writes: a segment put at `unmetSinceSeq` has no members until its back-fill
        // is installed, so reads waiting for that entry keep waiting until then.
        let visibleSeq = state.unmetSinceSeq.map { min(appliedSeq, $0 - 1) } ?? appliedSeq
        guard
            !state.pending.isEmpty || checkpointSeq != self.log.checkpointSeq || saveState || !state.erasedUsers.isEmpty
        else {
            return PersistBatch(write: nil, visibleSeq: visibleSeq)
        }
        var engineState: EngineStateStore.Save?
        if saveState {
            let engine = state.engine
            let complete = self.log.engineState.wantsCompleteSave
            engineState = EngineStateStore.Save(
                catalog: engine.encodeCatalog(),
                users: complete ? engine.takeAllUserStates() : engine.takeDirtyUserStates(),
                userCount: engine.userCount,
                complete: complete
            )
            state.saveStateSoon = false
        }
        let transitions = state.pending
        state.pending.removeAll(keepingCapacity: true)
        let coversFromMs = state.coverageStartMs
        state.coverageStartMs = nil
        let erasedUsers = state.erasedUsers
        state.erasedUsers.removeAll()
        return PersistBatch(
            write: .init(
                transitions: transitions,
                checkpointSeq: checkpointSeq,
                engineState: engineState,
                coversFromMs: coversFromMs,
                erasedUsers: erasedUsers
            ),
            visibleSeq: visibleSeq,
            stateDeferred: stateDeferred
        )
    }

    private func publishSizes(of engine: MembershipEngine) {
        let figures = Figures(
            users: engine.userCount,
            segments: engine.segmentCount,
            scheduledWakeups: engine.scheduledWakeupCount,
            nextDueMs: engine.nextDueMs(),
            dueWakeups: engine.statistics.dueWakeups
        )
        self.published.withLock { $0 = figures }
    }

    // MARK: - Back-fill

    /// A back-fill being read, handed between the lock and the task filling it.
    final class BackfillSession: @unchecked Sendable {
        // @unchecked: the session is filled by one task while the engine's feed waits for it; it
        // reads only the engine's aggregate definitions, which change only when the feed applies
        // a segment (see `FeedApplier.loadBackfill`).
        let session: MembershipBackfill

        init(_ session: MembershipBackfill) {
            self.session = session
        }
    }

    /// Starts a back-fill of what segments wait for, as of the entry just applied; `nil` when
    /// nothing waits (or a back-fill is already loaded and waiting).
    func beginBackfill() -> BackfillSession? {
        self.state.withLock { state in
            guard state.backfill == nil, state.engine.hasPendingNeeds else { return nil }
            return BackfillSession(state.engine.beginBackfill(snapshotSeq: state.engine.appliedSeq))
        }
    }

    /// Installs a filled back-fill once the engine has applied its entry (now, if it already has).
    func installBackfill(_ filled: BackfillSession) {
        self.state.withLock { state in
            state.backfill = filled.session
            var produced: [(MembershipTransition, UInt64)] = []
            Self.finishBackfillIfDue(&state, into: &produced)
            state.pending += produced.map { ($0.segment, $0.userID, $0.kind == .enter, $0.atMs, $1) }
            if state.unmetSinceSeq != nil {
                Self.trackUnmetNeeds(&state, seq: state.engine.appliedSeq)
            }
        }
    }

    /// Notes the first entry from which a segment waits for a back-fill; clears it once none does.
    private static func trackUnmetNeeds(_ state: inout State, seq: UInt64) {
        if state.engine.pendingNeeds.isEmpty {
            state.unmetSinceSeq = nil
        } else if state.unmetSinceSeq == nil {
            state.unmetSinceSeq = seq
        }
    }

    private static func finishBackfillIfDue(_ state: inout State, into produced: inout [(MembershipTransition, UInt64)])
    {
        guard let session = state.backfill, state.engine.appliedSeq >= session.snapshotSeq else { return }
        state.backfill = nil
        let seq = session.snapshotSeq
        do {
            produced += try state.engine.finishBackfill(session).map { ($0, seq) }
            state.saveStateSoon = true
        } catch {
            // The engine moved past the snapshot (cannot happen: the applier stops at it); the
            // needs stay pending and a new snapshot is taken.
        }
    }

    /// Restores the engine saved with the last state checkpoint, if any, else starts an empty
    /// engine; either way the store's log is then replayed from the engine's position, and what
    /// the replay produces for positions already recorded is not recorded again (``Recovery``).
    /// - Returns: whether a saved state was restored.
    @discardableResult
    func restore() -> Bool {
        do {
            if let saved = try self.log.engineState.load() {
                let engine = try MembershipEngine.restore(catalog: saved.catalog, users: saved.users)
                _ = engine.takeDirtyUsers()
                self.publishSizes(of: engine)
                let recovery = try self.recovery()
                self.state.withLock { state in
                    state.box = EngineBox(engine)
                    state.recovery = recovery
                    // A segment saved while awaiting its back-fill: reads wait until the applier
                    // has loaded it again (it does so before following the feed).
                    state.unmetSinceSeq = engine.pendingNeeds.isEmpty ? nil : 1
                }
                return true
            }
        } catch {
            self.logger.warning(
                "saved engine state is unusable; replaying the store's log",
                metadata: ["error": "\(error)"]
            )
        }
        let recovery = try? self.recovery()
        self.state.withLock { state in
            state.box = EngineBox(MembershipEngine(nowMs: Int64.min, appliedSeq: 0))
            state.recovery = recovery
        }
        return false
    }

    /// What the transition log already holds, for a restart.
    private func recovery() throws(SegmentEvaluatorError) -> Recovery? {
        let checkpoint = self.log.checkpointSeq
        guard checkpoint > 0 else { return nil }
        var recorded: [Recovery.Key: Int] = [:]
        for transition in try self.log.transitions(atStoreSeq: checkpoint) {
            let key = Recovery.Key(
                segment: transition.segment,
                userID: transition.userID,
                enter: transition.kind == .enter,
                atMs: transition.atMs
            )
            recorded[key, default: 0] += 1
        }
        return Recovery(checkpointSeq: checkpoint, recordedAtCheckpoint: recorded)
    }

    /// Records the identity of the store the evaluator follows (in the persist order, like every write to the log).
    func recordStoreID(_ id: String) throws(SegmentEvaluatorError) {
        try self.persisting.withLock { _ throws(SegmentEvaluatorError) in try self.log.recordStoreID(id) }
    }

    /// Starts over with an empty engine (the store's log no longer matches this evaluator's).
    func reset() throws(SegmentEvaluatorError) {
        try self.persisting.withLock { _ throws(SegmentEvaluatorError) in
            try self.resetUnderPersistLock()
        }
        self.lag.reset()
        self.transitions.publish(headSeq: 0)
    }

    private func resetUnderPersistLock() throws(SegmentEvaluatorError) {
        try self.state.withLock { state throws(SegmentEvaluatorError) in
            try self.log.reset()
            state.box = EngineBox(MembershipEngine(nowMs: Int64.min, appliedSeq: 0))
            state.backfill = nil
            state.unmetSinceSeq = nil
            state.pending.removeAll()
            state.recovery = nil
            state.saveStateSoon = false
        }
    }

    // MARK: - Reads

    /// Runs `body` on the engine under the lock (queries).
    func read<Result, Failure: Error>(_ body: (MembershipEngine) throws(Failure) -> Result) throws(Failure) -> Result {
        let box = self.state.withLock { $0.box }
        return try self.state.withLock { _ throws(Failure) in try body(box.engine) }
    }
}
