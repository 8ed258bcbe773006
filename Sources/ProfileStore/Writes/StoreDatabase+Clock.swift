import DaemonSupport
import SegmentLanguage
import SegmentsSQL
import SegmentsWire

extension StoreDatabase {
    /// Moves the manual clock forward and logs the move.
    func setClock(_ request: Segments_V1_SetClockRequest) async throws(ProfileStoreError) -> Segments_V1_ClockResponse {
        guard self.clock.isManual else {
            throw ProfileStoreError(
                .failedPrecondition,
                "the clock is real time; start the store with --manual-clock to move it"
            )
        }
        return try await self.writer.write { transaction in
            let now = transaction.now
            let target: Int64
            switch request.move {
            case .setMs(let ms):
                try InputValidation.checkInstant(ms, what: "clock time")
                guard ms >= now else {
                    throw ProfileStoreError(
                        .invalidArgument,
                        "the clock only moves forward: \(RFC3339.format(ms)) is before now (\(RFC3339.format(now)))"
                    )
                }
                target = ms
            case .advanceMs(let delta):
                guard delta >= 0 else {
                    throw ProfileStoreError(.invalidArgument, "the clock only moves forward: advance by \(delta) ms")
                }
                let (sum, overflow) = now.addingReportingOverflow(delta)
                guard !overflow else {
                    throw ProfileStoreError(.invalidArgument, "clock time is outside years 0001–9999")
                }
                try InputValidation.checkInstant(sum, what: "clock time")
                target = sum
            case nil:
                throw ProfileStoreError(.invalidArgument, "set_ms or advance_ms is required")
            }
            transaction.pendingManualNow = target
            let save = try transaction.connection.cachedStatement(
                "INSERT INTO meta(key, value) VALUES ('manual_clock_ms', ?1) ON CONFLICT(key) DO UPDATE SET value = ?1"
            )
            try save.bind(target, at: 1)
            try save.execute()
            var entry = Segments_V1_ChangeEntry()
            entry.clockMoved.nowMs = target
            var response = Segments_V1_ClockResponse()
            response.seq = try transaction.appendLog(&entry)
            response.nowMs = target
            return response
        }
    }

    /// The store's head, clock and sizes.
    func info(version: String) async throws(ProfileStoreError) -> Segments_V1_StoreInfo {
        let head = self.notifier.headSeq
        let counts = try await self.readers.read {
            connection -> (
                users: Int64, events: Int64, retention: (subscribers: [Segments_V1_FeedSubscriber], heldEntries: UInt64)
            ) in
            let users = try connection.cachedStatement("SELECT count(*) FROM users")
            defer { users.reset() }
            _ = try users.step()
            let events = try connection.cachedStatement(
                "SELECT coalesce((SELECT value FROM meta WHERE key = 'event_count'), 0)"
            )
            defer { events.reset() }
            _ = try events.step()
            return (users.int64(at: 0), events.int64(at: 0), try Self.feedRetention(in: connection))
        }
        var info = Segments_V1_StoreInfo()
        info.headSeq = head
        info.nowMs = self.clock.now()
        info.manualClock = self.clock.isManual
        info.version = version
        info.userCount = UInt64(counts.users)
        info.eventCount = UInt64(counts.events)
        info.feedSubscribers = counts.retention.subscribers
        info.heldEntryCount = counts.retention.heldEntries
        info.storeID = self.storeID
        return info
    }
}
