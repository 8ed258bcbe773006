import CoreMetrics
import DaemonSupport
import SegmentsMetrics
import SegmentsWire
import Synchronization

/// The evaluator's figures for Prometheus that are read rather than counted as work happens: positions, lag,
/// sizes, the schedule, totals the core keeps, webhook backlogs and the process's memory. ``collect()`` brings them
/// up to date before each scrape (see ``MetricsServer``).
final class EvaluatorMetrics: Sendable {
    private let core: EvaluatorCore
    private let webhooks: WebhookLedger

    private let appliedSeq = Gauge(label: "segments_evaluator_applied_seq")
    private let storeHeadSeq = Gauge(label: "segments_evaluator_store_head_seq")
    private let lagEntries = Gauge(label: "segments_evaluator_lag_entries")
    private let lagSeconds = Gauge(label: "segments_evaluator_lag_seconds")
    private let transitionSeq = Gauge(label: "segments_evaluator_transition_seq")
    private let users = Gauge(label: "segments_evaluator_users")
    private let segments = Gauge(label: "segments_evaluator_segments")
    private let scheduledWakeups = Gauge(label: "segments_evaluator_scheduled_wakeups")
    private let nextDue = Gauge(label: "segments_evaluator_next_wakeup_timestamp_seconds")
    private let stateSaveSeconds = Gauge(label: "segments_evaluator_last_state_save_seconds")
    private let entriesApplied = MirroredCounter(label: "segments_evaluator_entries_applied_total")
    private let eventsApplied = MirroredCounter(label: "segments_evaluator_events_applied_total")
    private let dueWakeups = MirroredCounter(label: "segments_evaluator_due_wakeups_total")
    private let process = ProcessMetrics()
    /// Per webhook: its backlog and the transitions it has delivered.
    private let webhookFigures = Mutex<[String: (backlog: Gauge, delivered: MirroredCounter)]>([:])

    init(core: EvaluatorCore, webhooks: WebhookLedger) {
        self.core = core
        self.webhooks = webhooks
    }

    /// Reads every figure and records it.
    func collect() async {
        let (applied, head, lagMs) = self.core.progress
        self.appliedSeq.record(Double(applied))
        self.storeHeadSeq.record(Double(head))
        self.lagEntries.record(Double(head - applied))
        self.lagSeconds.record(Double(lagMs) / 1000)
        self.transitionSeq.record(Double(self.core.transitions.headSeq))
        let figures = self.core.figures
        self.users.record(Double(figures.users))
        self.segments.record(Double(figures.segments))
        self.scheduledWakeups.record(Double(figures.scheduledWakeups))
        self.nextDue.record(figures.nextDueMs.map { Double($0) / 1000 } ?? 0)
        self.stateSaveSeconds.record(self.core.log.engineState.lastWriteDuration / .seconds(1))
        self.entriesApplied.update(to: self.core.entriesApplied)
        self.eventsApplied.update(to: self.core.eventsApplied)
        self.dueWakeups.update(to: UInt64(figures.dueWakeups))
        self.process.update()
        // The ledger answers on its own thread; an error leaves the last figures in place until the next scrape.
        guard let deliveries = try? await WebhookRoutes.deliveries(in: self.webhooks) else { return }
        self.webhookFigures.withLock { known in
            for delivery in deliveries {
                let figures =
                    known[delivery.webhookID]
                    ?? (
                        Gauge(
                            label: "segments_evaluator_webhook_backlog",
                            dimensions: [("webhook", delivery.webhookID)]
                        ),
                        MirroredCounter(
                            label: "segments_evaluator_webhook_delivered_total",
                            dimensions: [("webhook", delivery.webhookID)]
                        )
                    )
                known[delivery.webhookID] = figures
                figures.backlog.record(Double(delivery.pending))
                figures.delivered.update(to: delivery.deliveredCount)
            }
        }
    }
}

/// Transitions written to the transition log, counted per segment and kind
/// (`segments_evaluator_transitions_total{segment,kind}`), and the time each write's SQLite transaction took
/// (`segments_evaluator_sqlite_commit_seconds`). Used under the core's persist lock.
final class TransitionMetrics: Sendable {
    private let counters = Mutex<[String: (enter: Counter, exit: Counter)]>([:])
    private let commit = CoreMetrics.Timer(label: "segments_evaluator_sqlite_commit_seconds")

    init() {}

    /// Records how long one write's SQLite transaction took.
    func recordCommit(nanoseconds: Int64) {
        self.commit.recordNanoseconds(nanoseconds)
    }

    /// Counts written transitions.
    func record(_ transitions: [EvaluatorCore.Pending]) {
        self.counters.withLock { counters in
            for transition in transitions {
                if let pair = counters[transition.segment] {
                    (transition.enter ? pair.enter : pair.exit).increment()
                    continue
                }
                let pair = (
                    enter: Counter(
                        label: "segments_evaluator_transitions_total",
                        dimensions: [("segment", transition.segment), ("kind", "enter")]
                    ),
                    exit: Counter(
                        label: "segments_evaluator_transitions_total",
                        dimensions: [("segment", transition.segment), ("kind", "exit")]
                    )
                )
                counters[transition.segment] = pair
                (transition.enter ? pair.enter : pair.exit).increment()
            }
        }
    }
}
