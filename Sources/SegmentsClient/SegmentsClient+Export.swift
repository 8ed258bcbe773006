import SegmentsWire

/// Everything Segments holds about one user (the "right to know"): what ``SegmentsClient/exportProfile(_:)`` returns.
public struct SegmentsUserExport: Sendable {
    /// The profile: attributes and the change-log positions of its creation and last change.
    public var profile: SegmentsProfile
    /// Every stored event, in the order the store accepted them (first stored first).
    public var events: [SegmentsEvent]
    /// The segments the user is in now, sorted.
    public var segments: [String]
    /// The static lists the user is in now, sorted.
    public var lists: [String]
    /// Every recorded enter and exit, oldest first.
    public var history: [SegmentsTransition]
    /// Every computed trait's value for the user now, sorted by name.
    public var traits: [SegmentsTraitValue]
    /// The webhooks that were sent transitions of this user, each with those transitions.
    public var webhookDeliveries: [(webhook: SegmentsWebhook, transitions: [SegmentsTransition])]
}

extension SegmentsClient {
    /// Collects everything held about `userID`: attributes, every event, current memberships of segments and lists,
    /// the whole enter/exit history, the computed traits' values, and the webhook deliveries that carried the user's
    /// transitions.
    ///
    /// After ``deleteProfile(_:)`` this throws `notFound`, and neither the history nor any membership names the user
    /// any more (the evaluators erase the deleted user's id from their transition logs).
    /// - Parameter userID: the user.
    /// - Throws: ``SegmentsClientError`` `notFound` when the user does not exist.
    public func exportProfile(_ userID: String) async throws(SegmentsClientError) -> SegmentsUserExport {
        let profile = try await self.profile(userID)
        let events = try await self.allEvents(of: userID)
        let memberships = try await self.segments(of: userID)
        let listNames = Set(try await self.lists().map(\.name))
        let history = try await self.history(ofUser: userID)
        let traits = try await self.traitValues(of: userID).values
        let shard = Int(UserShard.index(of: userID, shardCount: UInt32(max(self.evaluators.count, 1))))
        var deliveries: [(webhook: SegmentsWebhook, transitions: [SegmentsTransition])] = []
        for status in try await self.webhookStatuses() {
            let delivered = status.deliveries.first { $0.shard == shard }?.deliveredSeq ?? 0
            let carried = history.filter { transition in
                transition.seq <= delivered && transition.storeSeq > status.webhook.createdSeq
                    && (status.webhook.segments.isEmpty || status.webhook.segments.contains(transition.segment))
            }
            if !carried.isEmpty { deliveries.append((status.webhook, carried)) }
        }
        return SegmentsUserExport(
            profile: profile,
            events: events,
            segments: memberships.filter { !listNames.contains($0) },
            lists: memberships.filter { listNames.contains($0) },
            history: history,
            traits: traits,
            webhookDeliveries: deliveries
        )
    }

    /// Every stored event of `userID`, first stored first, read a page of whole change-log entries at a time.
    private func allEvents(of userID: String) async throws(SegmentsClientError) -> [SegmentsEvent] {
        var request = Segments_V1_ListUserEventsRequest()
        request.userID = userID
        request.limit = 1000
        var newestFirst: [SegmentsEvent] = []
        while true {
            let page = try await self.callStore(ProfileStoreAPI.listUserEvents, request)
            newestFirst += page.events.map(SegmentsEvent.init(wire:))
            guard page.nextBeforeSeq > 0 else { break }
            request.beforeSeq = page.nextBeforeSeq
        }
        return newestFirst.reversed()
    }
}
