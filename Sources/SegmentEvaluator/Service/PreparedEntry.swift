import DaemonSupport
import SegmentLanguage
import SegmentsWire

/// A change-log entry made ready for the engine: its events and profile values converted to the engine's types, the
/// users of other shards left out.
///
/// The feed prepares each batch on the task that receives and decodes it (see `FeedApplier`), on the second core,
/// while the feed's thread — the evaluator's busiest during a catch-up — applies the previous one. The protobuf events
/// and values it replaces are freed there too: the entry keeps the kind of its change, without them.
struct PreparedEntry: Sendable {
    /// A profile write for one user of this shard.
    struct Profile: Sendable {
        let userID: String
        let set: [String: AttributeValue]
        let removed: [String]
    }

    /// The entry; an `eventsTracked` or `profilesUpserted` change without its events or changes (see ``events`` and
    /// ``profiles``).
    let entry: Segments_V1_ChangeEntry
    /// The tracked events of this shard's users, in log order.
    let events: [(userID: String, event: EventRecord)]
    /// The profile writes of this shard's users, in log order.
    let profiles: [Profile]

    /// - Parameters:
    ///   - entry: The entry as decoded.
    ///   - owns: Whether a user belongs to this shard.
    init(_ entry: Segments_V1_ChangeEntry, owns: (String) -> Bool) {
        var kept = entry
        var events: [(userID: String, event: EventRecord)] = []
        var profiles: [Profile] = []
        switch entry.change {
        case .eventsTracked(let tracked):
            events.reserveCapacity(tracked.events.count)
            for event in tracked.events where owns(event.userID) {
                events.append((event.userID, EventRecord(wire: event)))
            }
            kept.eventsTracked = Segments_V1_EventsTracked()
        case .profilesUpserted(let upserted):
            for change in upserted.changes where owns(change.userID) {
                profiles.append(
                    Profile(
                        userID: change.userID,
                        set: change.set.compactMapValues(AttributeValue.init(wire:)),
                        removed: change.removed
                    )
                )
            }
            kept.profilesUpserted = Segments_V1_ProfilesUpserted()
        default:
            break
        }
        self.entry = kept
        self.events = events
        self.profiles = profiles
    }
}
