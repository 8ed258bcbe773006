import CoreMetrics
import DaemonSupport
import SegmentsMetrics
import SegmentsWire
import Synchronization

/// The store's figures for Prometheus that are read rather than counted as writes happen: the change log's head,
/// sizes, feed subscribers' durable positions and the process's memory. ``collect()`` brings them up to date before
/// each scrape (see ``MetricsServer``); the writer counts commits itself (``StoreWriter/Metrics``).
final class StoreMetrics: Sendable {
    private let database: StoreDatabase
    private let headSeq = Gauge(label: "segments_store_log_head_seq")
    private let users = Gauge(label: "segments_store_users")
    private let events = Gauge(label: "segments_store_events")
    private let heldEntries = Gauge(label: "segments_store_held_entries")
    private let process = ProcessMetrics()
    /// Per feed subscriber (by name): its durable position.
    private let subscribers = Mutex<[String: Gauge]>([:])

    init(database: StoreDatabase) {
        self.database = database
    }

    /// Reads every figure and records it.
    func collect() async {
        self.headSeq.record(Double(self.database.notifier.headSeq))
        self.process.update()
        // Counting users reads the database; an error leaves the last figures in place until the next scrape.
        guard let info = try? await self.database.info(version: ProfileStoreService.version) else { return }
        self.users.record(Double(info.userCount))
        self.events.record(Double(info.eventCount))
        self.heldEntries.record(Double(info.heldEntryCount))
        self.subscribers.withLock { known in
            for subscriber in info.feedSubscribers {
                let gauge =
                    known[subscriber.name]
                    ?? Gauge(
                        label: "segments_store_feed_subscriber_durable_seq",
                        dimensions: [("subscriber", subscriber.name)]
                    )
                known[subscriber.name] = gauge
                gauge.record(Double(subscriber.durableSeq))
            }
        }
    }
}
