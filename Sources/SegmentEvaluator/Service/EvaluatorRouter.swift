import DaemonSupport
import Logging
import SegmentEngine
import SegmentLanguage
import SegmentsRPC
import SegmentsWire
import Synchronization

/// The `segments.v1.Evaluator` API over an ``EvaluatorCore``.
struct EvaluatorRouter {
    let core: EvaluatorCore
    let webhooks: WebhookLedger
    let configuration: SegmentEvaluatorConfiguration
    let storeHead: PublishedStoreHead
    /// Watch streams being served.
    private let watchers = WatcherCount()

    init(core: EvaluatorCore, webhooks: WebhookLedger, configuration: SegmentEvaluatorConfiguration) {
        self.core = core
        self.webhooks = webhooks
        self.configuration = configuration
        self.storeHead = PublishedStoreHead(stores: configuration.storeAddresses, tls: configuration.storeTLS)
    }
    static let version = "0.1.0"
    /// User ids per streamed members chunk; transitions per watch/history batch.
    static let chunkSize = 1000

    var router: RPCRouter {
        var router = RPCRouter()
        let core = self.core
        let pastCheck = PastRead<Segments_V1_CheckRequest, Segments_V1_CheckResponse>(
            instant: { $0.hasAt ? $0.at.atMs : nil },
            answer: { request, atMs throws(SegmentEvaluatorError) in
                try self.requirePastSegment(request.segment)
                try self.requirePastUser(request.userID)
                var response = Segments_V1_CheckResponse()
                response.member = try core.log.isMember(request.userID, of: request.segment, atMs: atMs)
                response.appliedSeq = core.applied.headSeq
                return response
            }
        )
        self.registerRead(&router, EvaluatorAPI.check, minSeq: \.minSeq, past: pastCheck) {
            request,
            engine throws(SegmentEvaluatorError) in
            try Self.requireSegment(request.segment, in: engine)
            try Self.requireUser(request.userID, in: engine)
            let membership = engine.isMember(userID: request.userID, segment: request.segment)
            var response = Segments_V1_CheckResponse()
            response.member = membership.member
            response.sinceMs = membership.sinceMs ?? 0
            response.appliedSeq = engine.appliedSeq
            return response
        }
        let pastSegmentsOf = PastRead<Segments_V1_SegmentsOfRequest, Segments_V1_SegmentsOfResponse>(
            instant: { $0.hasAt ? $0.at.atMs : nil },
            answer: { request, atMs throws(SegmentEvaluatorError) in
                try self.requirePastUser(request.userID)
                var response = Segments_V1_SegmentsOfResponse()
                response.segments = try core.log.segments(of: request.userID, atMs: atMs)
                response.appliedSeq = core.applied.headSeq
                return response
            }
        )
        self.registerRead(&router, EvaluatorAPI.segmentsOf, minSeq: \.minSeq, past: pastSegmentsOf) {
            request,
            engine throws(SegmentEvaluatorError) in
            try Self.requireUser(request.userID, in: engine)
            var response = Segments_V1_SegmentsOfResponse()
            response.segments = engine.segments(of: request.userID)
            response.appliedSeq = engine.appliedSeq
            return response
        }
        let pastCount = PastRead<Segments_V1_CountMembersRequest, Segments_V1_CountMembersResponse>(
            instant: { $0.hasAt ? $0.at.atMs : nil },
            answer: { request, atMs throws(SegmentEvaluatorError) in
                try self.requirePastSegment(request.segment)
                var response = Segments_V1_CountMembersResponse()
                response.count = UInt64(try core.log.members(of: request.segment, atMs: atMs).count)
                response.appliedSeq = core.applied.headSeq
                return response
            }
        )
        self.registerRead(&router, EvaluatorAPI.countMembers, minSeq: \.minSeq, past: pastCount) {
            request,
            engine throws(SegmentEvaluatorError) in
            try Self.requireSegment(request.segment, in: engine)
            var response = Segments_V1_CountMembersResponse()
            response.count = UInt64(engine.memberCount(of: request.segment))
            response.appliedSeq = engine.appliedSeq
            return response
        }
        router.register(EvaluatorAPI.members) { request, writer, _ in
            try await self.waitApplied(request.minSeq)
            let (all, seq) = try self.mapped { try self.listing(request) }
            let members = request.limit > 0 ? Array(all.prefix(Int(request.limit))) : all
            // At least one chunk, so the caller learns the position even of an empty listing.
            var start = 0
            repeat {
                var chunk = Segments_V1_MembersChunk()
                chunk.userIds = Array(members[start..<min(start + Self.chunkSize, members.count)])
                chunk.seq = seq
                try await writer.write(chunk)
                start += Self.chunkSize
            } while start < members.count
        }
        router.register(EvaluatorAPI.overlap) { request, _ in
            try await self.waitApplied(request.minSeq)
            return try self.mapped { try self.overlap(request) }
        }
        self.registerRead(&router, EvaluatorAPI.explain, minSeq: \.minSeq) {
            request,
            engine throws(SegmentEvaluatorError) in
            try Self.requireSegment(request.segment, in: engine)
            try Self.requireUser(request.userID, in: engine)
            guard let tree = engine.explain(userID: request.userID, segment: request.segment) else {
                throw SegmentEvaluatorError(.notFound, "'\(request.segment)' is a static list, not a segment")
            }
            var response = Segments_V1_ExplainResponse()
            response.member = engine.isMember(userID: request.userID, segment: request.segment).member
            response.root = tree.wire
            response.nowMs = engine.nowMs
            return response
        }
        router.register(EvaluatorAPI.preview) { request, _ in
            try await self.waitApplied(request.minSeq)
            return try await SegmentPreview.run(
                request,
                storeSocketPath: self.configuration.storeAddresses.current,
                storeTLS: self.configuration.storeTLS,
                shardIndex: self.configuration.shardIndex,
                shardCount: self.configuration.shardCount
            )
        }
        router.register(EvaluatorAPI.watch) { request, writer, _ in
            try await self.watch(request, writer: writer)
        }
        router.register(EvaluatorAPI.history) { request, writer, _ in
            try await self.history(request, writer: writer)
        }
        router.register(EvaluatorAPI.sizeSeries) { request, _ in
            try await self.waitApplied(request.minSeq)
            return try self.mapped { try self.sizeSeries(request) }
        }
        // Not under the engine's lock: a status poll must not wait while a batch is applied.
        router.register(EvaluatorAPI.getStatus) { _, _ in
            try await self.status()
        }
        return router
    }

    /// Progress, lag, sizes and vitals, from figures published at each persist (never the engine's lock).
    private func status() async throws -> Segments_V1_EvaluatorStatus {
        var status = Segments_V1_EvaluatorStatus()
        (status.appliedSeq, status.storeHeadSeq, status.lagMs) = self.core.progress
        status.shardIndex = self.configuration.shardIndex
        status.shardCount = self.configuration.shardCount
        status.transitionSeq = self.core.transitions.headSeq
        let figures = self.core.figures
        status.userCount = UInt64(figures.users)
        status.segmentCount = UInt32(figures.segments)
        status.scheduledWakeups = UInt64(figures.scheduledWakeups)
        status.nextDueMs = figures.nextDueMs ?? 0
        status.version = Self.version
        status.residentBytes = ProcessVitals.residentBytes()
        status.startedAtMs = ProcessVitals.startedAtMs
        status.uptimeMs = ProcessVitals.uptime.inMilliseconds
        status.entriesApplied = self.core.entriesApplied
        status.eventsApplied = self.core.eventsApplied
        status.transitionsRecorded = self.core.transitionsRecorded
        status.blockedBy = self.core.blockedBy.withLock { $0 } ?? ""
        status.coversFromMs = self.core.log.coversFromMs ?? 0
        do throws(SegmentEvaluatorError) {
            status.webhookBacklog = try await WebhookRoutes.deliveries(in: self.webhooks).reduce(0) { $0 + $1.pending }
        } catch {
            throw error.rpcError
        }
        return status
    }

    // MARK: - Reads

    /// Registers a read of the engine that must reflect store change `minSeq` (0: the store's head
    /// when the read arrives). When the engine has applied that far already — the usual case — the
    /// read is answered on the connection's event loop; otherwise a task waits for it first.
    private func registerRead<Request, Response>(
        _ router: inout RPCRouter,
        _ method: UnaryMethod<Request, Response>,
        minSeq: @escaping @Sendable (Request) -> UInt64,
        past: PastRead<Request, Response>? = nil,
        _ body: @escaping @Sendable (Request, MembershipEngine) throws(SegmentEvaluatorError) -> Response
    ) {
        let core = self.core
        router.register(
            method,
            inline: { request in
                // A read of the past scans the transition log: in a task, never on the event loop.
                if let past, past.instant(request) != nil { return nil }
                guard self.isApplied(minSeq(request)) else { return nil }
                return try self.mapped {
                    try core.read { engine throws(SegmentEvaluatorError) in try body(request, engine) }
                }
            },
            { request, _ in
                try await self.waitApplied(minSeq(request))
                if let past, let atMs = past.instant(request) {
                    return try self.mapped { try past.answer(request, atMs) }
                }
                return try self.mapped {
                    try core.read { engine throws(SegmentEvaluatorError) in try body(request, engine) }
                }
            }
        )
    }

    /// The members a `Members` call lists, now or at its past instant, and the position they reflect.
    private func listing(_ request: Segments_V1_MembersRequest) throws(SegmentEvaluatorError) -> ([String], UInt64) {
        if request.hasAt {
            try self.requirePastSegment(request.segment)
            return (try self.core.log.members(of: request.segment, atMs: request.at.atMs), self.core.applied.headSeq)
        }
        return try self.core.read { engine throws(SegmentEvaluatorError) in
            try Self.requireSegment(request.segment, in: engine)
            return (engine.members(of: request.segment), engine.appliedSeq)
        }
    }

    /// How a read answers for a past instant, from the transition log instead of the engine.
    struct PastRead<Request, Response>: Sendable {
        /// The instant asked for, if any.
        let instant: @Sendable (Request) -> Int64?
        /// The answer at that instant.
        let answer: @Sendable (Request, Int64) throws(SegmentEvaluatorError) -> Response
    }

    /// Refuses a segment neither the engine nor the transition log knows.
    private func requirePastSegment(_ name: String) throws(SegmentEvaluatorError) {
        guard self.core.read({ $0.knowsSegmentOrList(name) }) else {
            guard try self.core.log.hasTransitions(of: name) else {
                throw SegmentEvaluatorError(.notFound, "no segment or list '\(name)'")
            }
            return
        }
    }

    /// Refuses a user neither the engine nor the transition log knows.
    private func requirePastUser(_ userID: String) throws(SegmentEvaluatorError) {
        guard self.core.read({ $0.knowsUser(userID) }) else {
            guard try self.core.log.hasTransitions(ofUser: userID) else {
                throw SegmentEvaluatorError(.notFound, "no user '\(userID)'")
            }
            return
        }
    }

    /// Whether store change `requested` (0: the published store head) is applied, without waiting;
    /// `false` when the head is not known without a round trip.
    private func isApplied(_ requested: UInt64) -> Bool {
        guard let target = requested > 0 ? requested : self.storeHead.published() else { return false }
        return self.core.applied.headSeq >= target
    }

    // MARK: - Size over time

    /// A segment's member count at `from`, `from + step`, … while ≤ `to`, from the transition log.
    private func sizeSeries(
        _ request: Segments_V1_SizeSeriesRequest
    ) throws(SegmentEvaluatorError) -> Segments_V1_SizeSeriesResponse {
        guard request.stepMs > 0, request.toMs >= request.fromMs else {
            throw SegmentEvaluatorError(.invalidArgument, "a size series needs a positive step and from ≤ to")
        }
        let count = (request.toMs - request.fromMs) / request.stepMs + 1
        guard count <= Int64(TransitionLog.maximumSeriesLength) else {
            throw SegmentEvaluatorError(
                .invalidArgument,
                "the series would have \(count) instants; at most \(TransitionLog.maximumSeriesLength): use a longer step"
            )
        }
        try self.requirePastSegment(request.segment)
        let instants = (0..<count).map { request.fromMs + $0 * request.stepMs }
        var response = Segments_V1_SizeSeriesResponse()
        response.counts = try self.core.log.sizes(of: request.segment, at: instants)
        response.coversFromMs = self.core.log.coversFromMs ?? 0
        return response
    }

    // MARK: - Overlap

    /// Sizes and pairwise intersections of 2–20 distinct segments or lists.
    private func overlap(
        _ request: Segments_V1_OverlapRequest
    ) throws(SegmentEvaluatorError)
        -> Segments_V1_OverlapResponse
    {
        let names = request.segments
        guard (2...Self.maximumOverlapNames).contains(names.count) else {
            throw SegmentEvaluatorError(
                .invalidArgument,
                "overlap takes 2 to \(Self.maximumOverlapNames) segments or lists, not \(names.count)"
            )
        }
        guard Set(names).count == names.count else {
            throw SegmentEvaluatorError(.invalidArgument, "overlap needs distinct names; one is repeated")
        }
        let overlap = try self.core.read { engine throws(SegmentEvaluatorError) in
            for name in names { try Self.requireSegment(name, in: engine) }
            return engine.overlap(of: names)
        }
        var response = Segments_V1_OverlapResponse()
        response.sizes = overlap.sizes.map(UInt64.init)
        for i in names.indices {
            for j in names.indices where j > i {
                var pair = Segments_V1_OverlapPair()
                pair.first = UInt32(i)
                pair.second = UInt32(j)
                let both = overlap.intersections[i][j]
                pair.intersection = UInt64(both)
                let union = overlap.sizes[i] + overlap.sizes[j] - both
                pair.jaccard = union == 0 ? 0 : Double(both) / Double(union)
                response.pairs.append(pair)
            }
        }
        return response
    }

    /// The most names one overlap request takes.
    static let maximumOverlapNames = 20

    // MARK: - Streams

    private func watch(
        _ request: Segments_V1_WatchRequest,
        writer: RPCResponseWriter<Segments_V1_TransitionBatch>
    )
        async throws
    {
        let limit = self.configuration.maximumWatchers
        guard self.watchers.enter(limit: limit) else {
            throw RPCError(
                .resourceExhausted,
                "the evaluator serves \(limit) watches, its limit (--max-watchers); try again later"
            )
        }
        defer { self.watchers.leave() }
        let head = self.core.transitions.headSeq
        guard request.fromSeq <= head + 1 else {
            throw RPCError(.outOfRange, "from_seq \(request.fromSeq) is beyond the transition log (head \(head))")
        }
        let filter = Set(request.segments)
        var next = request.fromSeq == 0 ? head + 1 : request.fromSeq
        while true {
            if self.core.transitions.headSeq < next {
                _ = try await self.core.transitions.waitForHead(after: next - 1)
                continue
            }
            let transitions = try self.mapped { try self.core.log.read(from: next, limit: Self.chunkSize) }
            guard let last = transitions.last else { continue }
            next = last.seq + 1
            var batch = Segments_V1_TransitionBatch()
            batch.transitions = filter.isEmpty ? transitions : transitions.filter { filter.contains($0.segment) }
            if !batch.transitions.isEmpty {
                try await self.write(batch, to: writer, resumeFrom: transitions[0].seq)
            }
        }
    }

    /// Sends a watch's batch, or ends the watch when its consumer takes nothing for ``watchStallTimeout`` (the
    /// stream's window stays full): a watcher that stopped reading must not hold one of the watch slots forever.
    private func write(
        _ batch: Segments_V1_TransitionBatch,
        to writer: RPCResponseWriter<Segments_V1_TransitionBatch>,
        resumeFrom seq: UInt64
    ) async throws {
        let timeout = self.configuration.watchStallTimeout
        let delivered = try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await writer.write(batch)
                return true
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return false
            }
            defer { group.cancelAll() }
            return try await group.next() ?? false
        }
        guard delivered else {
            throw RPCError(
                .resourceExhausted,
                "this watch took nothing for \(timeout) while transitions waited for it (its window is full); it is "
                    + "closed so as not to hold one of the evaluator's watch slots; resume with from_seq \(seq)"
            )
        }
    }

    private func history(
        _ request: Segments_V1_HistoryRequest,
        writer: RPCResponseWriter<Segments_V1_TransitionBatch>
    ) async throws {
        var userID: String?
        var segment: String?
        switch request.subject {
        case .userID(let id):
            userID = id
        case .segment(let name):
            segment = name
        case nil:
            throw RPCError(.invalidArgument, "history needs a user_id or a segment")
        }
        var all: [Segments_V1_Transition] = []
        var next: UInt64 = 1
        while true {
            let page = try self.mapped {
                try self.core.log.read(from: next, limit: 10_000, userID: userID, segment: segment)
            }
            guard let last = page.last else { break }
            all += page
            next = last.seq + 1
        }
        if all.isEmpty {
            try self.mapped {
                try self.core.read { engine throws(SegmentEvaluatorError) in
                    if let userID { try Self.requireUser(userID, in: engine) }
                    if let segment { try Self.requireSegment(segment, in: engine) }
                }
            }
        }
        if request.limit > 0, all.count > Int(request.limit) {
            all = Array(all.suffix(Int(request.limit)))
        }
        for start in stride(from: 0, to: all.count, by: Self.chunkSize) {
            var batch = Segments_V1_TransitionBatch()
            batch.transitions = Array(all[start..<min(start + Self.chunkSize, all.count)])
            try await writer.write(batch)
        }
    }

    // MARK: - Helpers

    /// Waits until the engine has applied store change `requested` (read your writes), or, when it
    /// is 0, everything the store had committed when the read arrived.
    private func waitApplied(_ requested: UInt64) async throws {
        let minSeq = requested > 0 ? requested : try await self.storeHead.current()
        guard minSeq > 0 else { return }
        if self.core.applied.headSeq < minSeq, let reason = self.core.blockedBy.withLock({ $0 }) {
            throw RPCError(
                .resourceExhausted,
                "the evaluator has applied store changes up to \(self.core.applied.headSeq), not \(minSeq): \(reason)"
            )
        }
        let timeout = self.configuration.readYourWritesTimeout
        guard await self.core.applied.wait(untilReaching: minSeq, timeout: timeout) else {
            throw RPCError(
                .deadlineExceeded,
                "the evaluator has applied store changes up to \(self.core.applied.headSeq), "
                    + "not yet \(minSeq) (waited \(timeout))"
            )
        }
    }

    /// Runs `body`, turning evaluator errors into the status clients receive.
    private func mapped<Result>(_ body: () throws -> Result) throws -> Result {
        do {
            return try body()
        } catch let error as SegmentEvaluatorError {
            throw error.rpcError
        }
    }

    static func requireSegment(_ name: String, in engine: MembershipEngine) throws(SegmentEvaluatorError) {
        guard engine.knowsSegmentOrList(name) else {
            throw SegmentEvaluatorError(.notFound, "no segment or list '\(name)'")
        }
    }

    static func requireUser(_ userID: String, in engine: MembershipEngine) throws(SegmentEvaluatorError) {
        guard engine.knowsUser(userID) else {
            throw SegmentEvaluatorError(.notFound, "no user '\(userID)'")
        }
    }
}

/// The number of watch streams being served, bounded.
private final class WatcherCount: Sendable {
    private let count = Mutex(0)

    /// Counts one more watcher unless `limit` are served already.
    func enter(limit: Int) -> Bool {
        self.count.withLock { count in
            guard count < limit else { return false }
            count += 1
            return true
        }
    }

    func leave() {
        self.count.withLock { $0 -= 1 }
    }
}
