/// Everything one run measured; written as `results.json`.
///
/// Optional sections are `nil` when a phase was skipped (e.g. daemon restarts when pointed at
/// running daemons). Times are seconds, latencies microseconds, sizes bytes.
public struct BenchResults: Codable, Sendable {
    /// Where and how the run happened.
    public struct Run: Codable, Sendable {
        /// When the run started (RFC 3339, UTC).
        public var date: String
        /// The exact command line.
        public var commandLine: String
        /// Scale name, users and events.
        public var scale: String
        /// Number of users generated.
        public var users: Int
        /// Number of events generated.
        public var events: Int
        /// Seed of the generator.
        public var seed: UInt64
        /// Whether `--quick` shortened the timed phases.
        public var quick: Bool
        /// Number of segments saved.
        public var segments: Int
        /// Git commit of the binaries, when known.
        public var daemons: String
        /// Creates the section; rates are derived from the counts and times.
        public init(
            date: String,
            commandLine: String,
            scale: String,
            users: Int,
            events: Int,
            seed: UInt64,
            quick: Bool,
            segments: Int,
            daemons: String
        ) {
            self.date = date
            self.commandLine = commandLine
            self.scale = scale
            self.users = users
            self.events = events
            self.seed = seed
            self.quick = quick
            self.segments = segments
            self.daemons = daemons
        }
    }

    /// The machine.
    public struct Machine: Codable, Sendable {
        /// Online CPU cores.
        public var cores: Int
        /// Physical memory (MemTotal).
        public var memoryBytes: UInt64
        /// CPU model from /proc/cpuinfo.
        public var cpuModel: String
        /// Kernel release.
        public var kernel: String
        /// 1-minute load average when the run started (other work on the machine skews figures).
        public var loadAverageAtStart: Double
        /// The median round trip of a small message between two threads over a Unix socket pair
        /// (blocking read and write, nothing else): the floor under any call over a socket on this
        /// machine, which moves with the virtual machine's scheduling from day to day. `nil` in
        /// results from before it was measured.
        public var socketRoundTripP50Us: Double?
        /// Creates the section; rates are derived from the counts and times.
        public init(
            cores: Int,
            memoryBytes: UInt64,
            cpuModel: String,
            kernel: String,
            loadAverageAtStart: Double,
            socketRoundTripP50Us: Double? = nil
        ) {
            self.cores = cores
            self.memoryBytes = memoryBytes
            self.cpuModel = cpuModel
            self.kernel = kernel
            self.loadAverageAtStart = loadAverageAtStart
            self.socketRoundTripP50Us = socketRoundTripP50Us
        }
    }

    /// Bulk import acknowledged by the store.
    public struct Import: Codable, Sendable {
        /// Profiles written.
        public var profiles: Int
        /// Seconds for all profile writes.
        public var profileSeconds: Double
        /// Profiles acknowledged per second.
        public var profilesPerSecond: Double
        /// Number of events generated.
        public var events: Int
        /// Seconds for all event writes.
        public var eventSeconds: Double
        /// Events per second.
        public var eventsPerSecond: Double
        /// Events per `track` call, and calls in flight.
        public var batchSize: Int
        /// Calls outstanding at once.
        public var inFlight: Int
        /// CPU seconds of the store during the event import.
        public var storeCPUSeconds: Double
        /// Creates the section; rates are derived from the counts and times.
        public init(
            profiles: Int,
            profileSeconds: Double,
            events: Int,
            eventSeconds: Double,
            batchSize: Int,
            inFlight: Int,
            storeCPUSeconds: Double
        ) {
            self.profiles = profiles
            self.profileSeconds = profileSeconds
            self.profilesPerSecond = Double(profiles) / max(profileSeconds, 1e-9)
            self.events = events
            self.eventSeconds = eventSeconds
            self.eventsPerSecond = Double(events) / max(eventSeconds, 1e-9)
            self.batchSize = batchSize
            self.inFlight = inFlight
            self.storeCPUSeconds = storeCPUSeconds
        }
    }

    /// Evaluator start on the loaded store until it has applied the head.
    public struct CatchUp: Codable, Sendable {
        /// Wall-clock seconds.
        public var seconds: Double
        /// Number of events generated.
        public var events: Int
        /// Events per second.
        public var eventsPerSecond: Double
        /// Evaluator CPU seconds (user + system).
        public var evaluatorCPUSeconds: Double
        /// Evaluator CPU per event (the cost of one change, amortised).
        public var cpuMicrosecondsPerEvent: Double
        /// Store CPU seconds spent serving the change feed meanwhile.
        public var storeCPUSeconds: Double
        /// Creates the section; rates are derived from the counts and times.
        public init(seconds: Double, events: Int, evaluatorCPUSeconds: Double, storeCPUSeconds: Double) {
            self.seconds = seconds
            self.events = events
            self.eventsPerSecond = Double(events) / max(seconds, 1e-9)
            self.evaluatorCPUSeconds = evaluatorCPUSeconds
            self.storeCPUSeconds = storeCPUSeconds
            self.cpuMicrosecondsPerEvent = evaluatorCPUSeconds * 1e6 / Double(max(events, 1))
        }
    }

    /// Writes as fast as the store takes them while the evaluator follows.
    public struct LiveIngest: Codable, Sendable {
        /// Wall-clock seconds.
        public var seconds: Double
        /// Number of events generated.
        public var events: Int
        /// Events per `track` call.
        public var batchSize: Int
        /// Events per second acknowledged by the store.
        public var storeEventsPerSecond: Double
        /// Events per second the evaluator applied, from the first write to having applied the last.
        public var evaluatorEventsPerSecond: Double
        /// Largest gap seen between store head and evaluator, in events (sampled every 50 ms).
        public var maxLagEvents: Int
        /// Time after the last acknowledgement until the evaluator had applied it.
        public var drainMilliseconds: Double
        /// Evaluator CPU per live event.
        public var evaluatorCPUMicrosecondsPerEvent: Double
        /// The last paced run (80 %, 70 %, … 30 % of the unpaced rate, until one drains within 500 ms): target, achieved, lag and drain.
        public var pacedTargetEventsPerSecond: Double?
        /// Rate written in the last paced run.
        public var pacedEventsPerSecond: Double?
        /// Largest lag in the last paced run, in events.
        public var pacedMaxLagEvents: Int?
        /// Drain time after the last paced run.
        public var pacedDrainMilliseconds: Double?
        /// The highest rate measured with bounded lag (drain under 500 ms): the paced rate when it
        /// stayed bounded, the unpaced one when that did.
        public var sustainedEventsPerSecond: Double {
            if self.drainMilliseconds < 500 { return self.evaluatorEventsPerSecond }
            if let paced = self.pacedEventsPerSecond, let drain = self.pacedDrainMilliseconds, drain < 500 {
                return paced
            }
            return 0
        }
        /// Creates the section; rates are derived from the counts and times.
        public init(
            seconds: Double,
            events: Int,
            batchSize: Int,
            evaluatorSeconds: Double,
            maxLagEvents: Int,
            drainMilliseconds: Double,
            evaluatorCPUSeconds: Double
        ) {
            self.seconds = seconds
            self.events = events
            self.batchSize = batchSize
            self.storeEventsPerSecond = Double(events) / max(seconds, 1e-9)
            self.evaluatorEventsPerSecond = Double(events) / max(evaluatorSeconds, 1e-9)
            self.maxLagEvents = maxLagEvents
            self.drainMilliseconds = drainMilliseconds
            self.evaluatorCPUMicrosecondsPerEvent = evaluatorCPUSeconds * 1e6 / Double(max(events, 1))
        }
    }

    /// Time-driven transitions in wall-clock mode.
    public struct TimeDriven: Codable, Sendable {
        /// Due instant → exit delivered on `watch`, one user at a time.
        public var lateness: LatencySummary
        /// Window of the segment used (e.g. `2s`).
        public var window: String
        /// Many users due at the same instant: count and delivery rate.
        public var burstTransitions: Int
        /// Due instant → last exit delivered, in seconds.
        public var burstSeconds: Double
        /// Exits delivered per second of that span.
        public var burstPerSecond: Double
        /// Lateness of the first and last transition of the burst.
        public var burstFirstLatenessMs: Double
        /// Lateness of the last exit of the burst.
        public var burstLastLatenessMs: Double
        /// Creates the section; rates are derived from the counts and times.
        public init(
            lateness: LatencySummary,
            window: String,
            burstTransitions: Int,
            burstFirstLatenessMs: Double,
            burstLastLatenessMs: Double
        ) {
            self.lateness = lateness
            self.window = window
            self.burstTransitions = burstTransitions
            self.burstSeconds = burstLastLatenessMs / 1000
            self.burstPerSecond = Double(burstTransitions) / max(burstLastLatenessMs / 1000, 1e-6)
            self.burstFirstLatenessMs = burstFirstLatenessMs
            self.burstLastLatenessMs = burstLastLatenessMs
        }
    }

    /// Latency and throughput of one query at one concurrency.
    public struct QueryLoad: Codable, Sendable {
        /// `check` or `segments-of`.
        public var query: String
        /// Concurrent clients, one connection each.
        public var clients: Int
        /// Per-call latency.
        public var latency: LatencySummary
        /// Calls completed per second, all clients together.
        public var callsPerSecond: Double
        /// Creates the section; rates are derived from the counts and times.
        public init(query: String, clients: Int, latency: LatencySummary, callsPerSecond: Double) {
            self.query = query
            self.clients = clients
            self.latency = latency
            self.callsPerSecond = callsPerSecond
        }
    }

    /// Streaming `members` of the largest segments.
    public struct Members: Codable, Sendable {
        /// The segments listed.
        public var segments: [String]
        /// Member ids received.
        public var rows: Int
        /// Wall-clock seconds.
        public var seconds: Double
        /// Rows per second.
        public var rowsPerSecond: Double
        /// Creates the section; rates are derived from the counts and times.
        public init(segments: [String], rows: Int, seconds: Double) {
            self.segments = segments
            self.rows = rows
            self.seconds = seconds
            self.rowsPerSecond = Double(rows) / max(seconds, 1e-9)
        }
    }

    /// A new segment on the loaded data.
    public struct Backfill: Codable, Sendable {
        /// The new segment.
        public var segment: String
        /// Its expression.
        public var expression: String
        /// Members after the back-fill.
        public var members: Int
        /// Put acknowledged … first read at its seq answered (read-your-writes waits for the back-fill).
        public var seconds: Double
        /// The same segment with one SQL query (baseline).
        public var baselineSQLSeconds: Double
        /// Creates the section; rates are derived from the counts and times.
        public init(segment: String, expression: String, members: Int, seconds: Double, baselineSQLSeconds: Double) {
            self.segment = segment
            self.expression = expression
            self.members = members
            self.seconds = seconds
            self.baselineSQLSeconds = baselineSQLSeconds
        }
    }

    /// Memory and disk.
    public struct Footprint: Codable, Sendable {
        /// Peak resident memory (VmHWM) over the run.
        public var storePeakRSSBytes: UInt64
        /// Evaluator peak resident memory (VmHWM), before and after its restart.
        public var evaluatorPeakRSSBytes: UInt64
        /// Evaluator resident memory after catching up, read once it has gone idle (after the SQL copy's load,
        /// seconds later: its post-catch-up state save written and its free memory handed back).
        public var evaluatorRSSAfterCatchUpBytes: UInt64
        /// Evaluator resident memory at the moment it reached the store's head (`nil` in runs before it was
        /// recorded).
        public var evaluatorRSSAtHeadBytes: UInt64?
        /// Resident memory of the same evaluator binary idle over the empty store, before the load (`nil` in runs
        /// before it was measured; then counted as 0).
        public var evaluatorIdleRSSBytes: UInt64?
        /// Evaluator memory per user: RSS after catch-up minus the idle RSS, divided by the users.
        public var evaluatorBytesPerUser: Double
        /// The same per generated event.
        public var evaluatorBytesPerEvent: Double
        /// Evaluator resident memory right after a restart from its saved state.
        public var evaluatorRSSAfterRestartBytes: UInt64
        /// Size of the store's data directory.
        public var storeDiskBytes: UInt64
        /// Size of the evaluator's data directory.
        public var evaluatorDiskBytes: UInt64
        /// Store disk bytes per generated event.
        public var storeDiskBytesPerEvent: Double
        /// Evaluator disk bytes per user.
        public var evaluatorDiskBytesPerUser: Double
        /// Size of the SQL copy (database + WAL).
        public var baselineDiskBytes: UInt64
        /// Creates the section; rates are derived from the counts and times.
        public init(
            storePeakRSSBytes: UInt64,
            evaluatorPeakRSSBytes: UInt64,
            evaluatorRSSAfterCatchUpBytes: UInt64,
            evaluatorRSSAtHeadBytes: UInt64,
            evaluatorIdleRSSBytes: UInt64,
            users: Int,
            events: Int,
            evaluatorRSSAfterRestartBytes: UInt64,
            storeDiskBytes: UInt64,
            evaluatorDiskBytes: UInt64,
            baselineDiskBytes: UInt64
        ) {
            self.storePeakRSSBytes = storePeakRSSBytes
            self.evaluatorPeakRSSBytes = evaluatorPeakRSSBytes
            self.evaluatorRSSAfterCatchUpBytes = evaluatorRSSAfterCatchUpBytes
            self.evaluatorRSSAtHeadBytes = evaluatorRSSAtHeadBytes
            self.evaluatorIdleRSSBytes = evaluatorIdleRSSBytes
            let loaded = Self.loadedBytes(after: evaluatorRSSAfterCatchUpBytes, idle: evaluatorIdleRSSBytes)
            self.evaluatorBytesPerUser = Double(loaded) / Double(max(users, 1))
            self.evaluatorBytesPerEvent = Double(loaded) / Double(max(events, 1))
            self.evaluatorRSSAfterRestartBytes = evaluatorRSSAfterRestartBytes
            self.storeDiskBytes = storeDiskBytes
            self.evaluatorDiskBytes = evaluatorDiskBytes
            self.storeDiskBytesPerEvent = Double(storeDiskBytes) / Double(max(events, 1))
            self.evaluatorDiskBytesPerUser = Double(evaluatorDiskBytes) / Double(max(users, 1))
            self.baselineDiskBytes = baselineDiskBytes
        }

        /// What the evaluator holds above its idle resident memory after catching up.
        public var evaluatorLoadedBytes: UInt64 {
            Self.loadedBytes(after: self.evaluatorRSSAfterCatchUpBytes, idle: self.evaluatorIdleRSSBytes ?? 0)
        }

        /// Resident bytes above the idle ones (none when the idle figure is the larger).
        private static func loadedBytes(after: UInt64, idle: UInt64) -> UInt64 { after - min(idle, after) }
    }

    /// The naive approach: a relational copy in SQLite, membership recomputed with SQL.
    public struct Baseline: Codable, Sendable {
        /// Loading the relational copy (rows = users + events) and building its index.
        public var loadSeconds: Double
        /// Seconds to build the events index.
        public var indexSeconds: Double
        /// Segments computed whole by SQL (one `SELECT count(*)` each).
        public var segmentsQueried: Int
        /// Median whole-segment query time.
        public var wholeSegmentMedianMs: Double
        /// Slowest whole-segment query.
        public var wholeSegmentMaxMs: Double
        /// All whole-segment queries together.
        public var wholeSegmentTotalSeconds: Double
        /// Segments whose SQL count equals the evaluator's member count (read at nearly the same instant).
        public var segmentsAgreeing: Int
        /// Names of the segments that differed (expected only at window edges crossed in between).
        public var segmentsDiffering: [String]
        /// Recompute every segment for one user after a change (per-user SQL, prepared statements).
        public var recomputeUser: LatencySummary
        /// One segment for one user (the SQL equivalent of `check`), in-process, no IPC.
        public var checkOneSegment: LatencySummary
        /// `SELECT id … ORDER BY id` of the same segments as `members`.
        public var membersRowsPerSecond: Double
        /// Creates the section; rates are derived from the counts and times.
        public init(
            loadSeconds: Double,
            indexSeconds: Double,
            segmentsQueried: Int,
            wholeSegmentMedianMs: Double,
            wholeSegmentMaxMs: Double,
            wholeSegmentTotalSeconds: Double,
            segmentsAgreeing: Int,
            segmentsDiffering: [String],
            recomputeUser: LatencySummary,
            checkOneSegment: LatencySummary,
            membersRowsPerSecond: Double
        ) {
            self.loadSeconds = loadSeconds
            self.indexSeconds = indexSeconds
            self.segmentsQueried = segmentsQueried
            self.wholeSegmentMedianMs = wholeSegmentMedianMs
            self.wholeSegmentMaxMs = wholeSegmentMaxMs
            self.wholeSegmentTotalSeconds = wholeSegmentTotalSeconds
            self.segmentsAgreeing = segmentsAgreeing
            self.segmentsDiffering = segmentsDiffering
            self.recomputeUser = recomputeUser
            self.checkOneSegment = checkOneSegment
            self.membersRowsPerSecond = membersRowsPerSecond
        }
    }

    /// A goal from issue 5 and whether this run met it.
    public struct Goal: Codable, Sendable {
        /// What is measured.
        public var name: String
        /// The goal as issue 5 states it.
        public var goal: String
        /// This run's figure.
        public var measured: String
        /// `nil` when not measured in this run.
        public var met: Bool?
        /// Creates the section; rates are derived from the counts and times.
        public init(name: String, goal: String, measured: String, met: Bool?) {
            self.name = name
            self.goal = goal
            self.measured = measured
            self.met = met
        }
    }

    /// The run.
    public var run: Run
    /// The machine.
    public var machine: Machine
    /// Bulk import.
    public var bulkImport: Import?
    /// Evaluator catch-up.
    public var catchUp: CatchUp?
    /// Live ingest.
    public var liveIngest: LiveIngest?
    /// Write acknowledged → enter delivered on `watch`.
    public var freshness: LatencySummary?
    /// Time-driven transitions.
    public var timeDriven: TimeDriven?
    /// `check` and `segments-of` at each concurrency.
    public var queries: [QueryLoad]
    /// Members after the back-fill.
    public var members: Members?
    /// New-segment back-fill.
    public var backfill: Backfill?
    /// SIGTERM + start until the evaluator answers at the store's head.
    public var restartToReadySeconds: Double?
    /// Memory and disk.
    public var footprint: Footprint?
    /// The SQL baseline.
    public var baseline: Baseline?
    /// Our figure divided into the baseline's, so > 1 means we are faster.
    public var ratios: [String: Double]
    /// Issue 5's goals, met or missed.
    public var goals: [Goal]

    /// Creates empty results for a run.
    public init(run: Run, machine: Machine) {
        self.run = run
        self.machine = machine
        self.queries = []
        self.ratios = [:]
        self.goals = []
    }
}
