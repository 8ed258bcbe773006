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
        public var users: Int
        public var events: Int
        public var seed: UInt64
        /// Whether `--quick` shortened the timed phases.
        public var quick: Bool
        /// Number of segments saved.
        public var segments: Int
        /// Git commit of the binaries, when known.
        public var daemons: String
        public init(date: String, commandLine: String, scale: String, users: Int, events: Int, seed: UInt64, quick: Bool, segments: Int, daemons: String) {
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
        public var cores: Int
        public var memoryBytes: UInt64
        public var cpuModel: String
        public var kernel: String
        /// 1-minute load average when the run started (other work on the machine skews figures).
        public var loadAverageAtStart: Double
        public init(cores: Int, memoryBytes: UInt64, cpuModel: String, kernel: String, loadAverageAtStart: Double) {
            self.cores = cores
            self.memoryBytes = memoryBytes
            self.cpuModel = cpuModel
            self.kernel = kernel
            self.loadAverageAtStart = loadAverageAtStart
        }
    }

    /// Bulk import acknowledged by the store.
    public struct Import: Codable, Sendable {
        public var profiles: Int
        public var profileSeconds: Double
        public var profilesPerSecond: Double
        public var events: Int
        public var eventSeconds: Double
        public var eventsPerSecond: Double
        /// Events per `track` call, and calls in flight.
        public var batchSize: Int
        public var inFlight: Int
        /// CPU seconds of the store during the event import.
        public var storeCPUSeconds: Double
        public init(profiles: Int, profileSeconds: Double, events: Int, eventSeconds: Double, batchSize: Int, inFlight: Int, storeCPUSeconds: Double) {
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
        public var seconds: Double
        public var events: Int
        public var eventsPerSecond: Double
        public var evaluatorCPUSeconds: Double
        /// Evaluator CPU per event (the cost of one change, amortised).
        public var cpuMicrosecondsPerEvent: Double
        /// Store CPU seconds spent serving the change feed meanwhile.
        public var storeCPUSeconds: Double
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
        public var seconds: Double
        public var events: Int
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
        /// The last paced run (80 %, then 50 %, then 30 % of the unpaced rate, until one drains within 500 ms): target, achieved, lag and drain.
        public var pacedTargetEventsPerSecond: Double?
        public var pacedEventsPerSecond: Double?
        public var pacedMaxLagEvents: Int?
        public var pacedDrainMilliseconds: Double?
        /// The highest rate measured with bounded lag (drain under 500 ms): the paced rate when it
        /// stayed bounded, the unpaced one when that did.
        public var sustainedEventsPerSecond: Double {
            if self.drainMilliseconds < 500 { return self.evaluatorEventsPerSecond }
            if let paced = self.pacedEventsPerSecond, let drain = self.pacedDrainMilliseconds, drain < 500 { return paced }
            return 0
        }
        public init(seconds: Double, events: Int, batchSize: Int, evaluatorSeconds: Double, maxLagEvents: Int, drainMilliseconds: Double, evaluatorCPUSeconds: Double) {
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
        public var burstSeconds: Double
        public var burstPerSecond: Double
        /// Lateness of the first and last transition of the burst.
        public var burstFirstLatenessMs: Double
        public var burstLastLatenessMs: Double
        public init(lateness: LatencySummary, window: String, burstTransitions: Int, burstFirstLatenessMs: Double, burstLastLatenessMs: Double) {
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
        public var query: String
        public var clients: Int
        public var latency: LatencySummary
        public var callsPerSecond: Double
        public init(query: String, clients: Int, latency: LatencySummary, callsPerSecond: Double) {
            self.query = query
            self.clients = clients
            self.latency = latency
            self.callsPerSecond = callsPerSecond
        }
    }

    /// Streaming `members` of the largest segments.
    public struct Members: Codable, Sendable {
        public var segments: [String]
        public var rows: Int
        public var seconds: Double
        public var rowsPerSecond: Double
        public init(segments: [String], rows: Int, seconds: Double) {
            self.segments = segments
            self.rows = rows
            self.seconds = seconds
            self.rowsPerSecond = Double(rows) / max(seconds, 1e-9)
        }
    }

    /// A new segment on the loaded data.
    public struct Backfill: Codable, Sendable {
        public var segment: String
        public var expression: String
        public var members: Int
        /// Put acknowledged … first read at its seq answered (read-your-writes waits for the back-fill).
        public var seconds: Double
        /// The same segment with one SQL query (baseline).
        public var baselineSQLSeconds: Double
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
        public var evaluatorPeakRSSBytes: UInt64
        /// Evaluator resident memory right after catching up, and per user / per stored event.
        public var evaluatorRSSAfterCatchUpBytes: UInt64
        public var evaluatorBytesPerUser: Double
        public var evaluatorBytesPerEvent: Double
        /// Evaluator resident memory right after a restart from its saved state.
        public var evaluatorRSSAfterRestartBytes: UInt64
        public var storeDiskBytes: UInt64
        public var evaluatorDiskBytes: UInt64
        public var storeDiskBytesPerEvent: Double
        public var evaluatorDiskBytesPerUser: Double
        public var baselineDiskBytes: UInt64
        public init(storePeakRSSBytes: UInt64, evaluatorPeakRSSBytes: UInt64, evaluatorRSSAfterCatchUpBytes: UInt64, users: Int, events: Int, evaluatorRSSAfterRestartBytes: UInt64, storeDiskBytes: UInt64, evaluatorDiskBytes: UInt64, baselineDiskBytes: UInt64) {
            self.storePeakRSSBytes = storePeakRSSBytes
            self.evaluatorPeakRSSBytes = evaluatorPeakRSSBytes
            self.evaluatorRSSAfterCatchUpBytes = evaluatorRSSAfterCatchUpBytes
            self.evaluatorBytesPerUser = Double(evaluatorRSSAfterCatchUpBytes) / Double(max(users, 1))
            self.evaluatorBytesPerEvent = Double(evaluatorRSSAfterCatchUpBytes) / Double(max(events, 1))
            self.evaluatorRSSAfterRestartBytes = evaluatorRSSAfterRestartBytes
            self.storeDiskBytes = storeDiskBytes
            self.evaluatorDiskBytes = evaluatorDiskBytes
            self.storeDiskBytesPerEvent = Double(storeDiskBytes) / Double(max(events, 1))
            self.evaluatorDiskBytesPerUser = Double(evaluatorDiskBytes) / Double(max(users, 1))
            self.baselineDiskBytes = baselineDiskBytes
        }
    }

    /// The naive approach: a relational copy in SQLite, membership recomputed with SQL.
    public struct Baseline: Codable, Sendable {
        /// Loading the relational copy (rows = users + events) and building its index.
        public var loadSeconds: Double
        public var indexSeconds: Double
        /// Segments computed whole by SQL (one `SELECT count(*)` each).
        public var segmentsQueried: Int
        public var wholeSegmentMedianMs: Double
        public var wholeSegmentMaxMs: Double
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
        public init(loadSeconds: Double, indexSeconds: Double, segmentsQueried: Int, wholeSegmentMedianMs: Double, wholeSegmentMaxMs: Double, wholeSegmentTotalSeconds: Double, segmentsAgreeing: Int, segmentsDiffering: [String], recomputeUser: LatencySummary, checkOneSegment: LatencySummary, membersRowsPerSecond: Double) {
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
        public var name: String
        public var goal: String
        public var measured: String
        /// `nil` when not measured in this run.
        public var met: Bool?
        public init(name: String, goal: String, measured: String, met: Bool?) {
            self.name = name
            self.goal = goal
            self.measured = measured
            self.met = met
        }
    }

    public var run: Run
    public var machine: Machine
    public var bulkImport: Import?
    public var catchUp: CatchUp?
    public var liveIngest: LiveIngest?
    /// Write acknowledged → enter delivered on `watch`.
    public var freshness: LatencySummary?
    public var timeDriven: TimeDriven?
    public var queries: [QueryLoad]
    public var members: Members?
    public var backfill: Backfill?
    /// SIGTERM + start until the evaluator answers at the store's head.
    public var restartToReadySeconds: Double?
    public var footprint: Footprint?
    public var baseline: Baseline?
    /// Our figure divided into the baseline's, so > 1 means we are faster.
    public var ratios: [String: Double]
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
