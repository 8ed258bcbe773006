import SegmentsSQLite
import SegmentsWire

extension StoreDatabase {
    /// Stores a batch of events as one change-log entry. Events without `at` take the store's
    /// clock; a repeated event id of the same user is skipped (counted as a duplicate); an
    /// unknown user is created.
    func trackEvents(_ request: Segments_V1_TrackEventsRequest) async throws(ProfileStoreError)
        -> Segments_V1_WriteResponse
    {
        try await self.writer.write { transaction in
            let connection = transaction.connection
            let seq = transaction.nextSeq
            let now = transaction.now
            var response = Segments_V1_WriteResponse()
            var tracked = Segments_V1_EventsTracked()
            tracked.events.reserveCapacity(request.events.count)
            var touchedKeys: Set<Int64> = []
            for (index, event) in request.events.enumerated() {
                do throws(ProfileStoreError) {
                    try Self.validate(event)
                } catch {
                    response.rejected.append(.init(index: index, error: error))
                    continue
                }
                let key: Int64
                if let existing = try transaction.userKeys.key(for: event.userID, in: connection) {
                    key = existing
                } else {
                    key = try Self.createUser(event.userID, seq: seq, in: transaction)
                    tracked.createdUsers.append(event.userID)
                }
                if !event.eventID.isEmpty,
                    try !transaction.userIndex.insertEventID(event.eventID, userKey: key, in: connection)
                {
                    response.duplicates += 1
                    continue
                }
                var stored = event
                if !event.atGiven {
                    stored.atMs = now
                    stored.atGiven = true
                }
                tracked.events.append(stored)
                touchedKeys.insert(key)
                response.accepted += 1
            }
            guard !tracked.events.isEmpty || !tracked.createdUsers.isEmpty else {
                return response
            }
            var entry = Segments_V1_ChangeEntry()
            entry.eventsTracked = tracked
            response.seq = try transaction.appendLog(&entry)
            try transaction.addToCounter("event_count", Int64(tracked.events.count))
            for key in touchedKeys.sorted() {
                transaction.noteUserInLog(userKey: key, seq: seq)
            }
            return response
        }
    }

    private static func validate(_ event: Segments_V1_Event) throws(ProfileStoreError) {
        try InputValidation.checkUserID(event.userID)
        try InputValidation.checkName(event.name, what: "event name")
        if event.eventID.utf8.count > InputValidation.maximumIdentifierBytes {
            throw ProfileStoreError(
                .invalidArgument,
                "event id is \(event.eventID.utf8.count) bytes; the limit is \(InputValidation.maximumIdentifierBytes)"
            )
        }
        if event.atGiven {
            try InputValidation.checkInstant(event.atMs, what: "event time")
        }
        for (name, value) in event.properties {
            try InputValidation.checkName(name, what: "property name")
            guard value.kind != nil else {
                throw ProfileStoreError(.invalidArgument, "property '\(name)' is null")
            }
            try InputValidation.checkValue(value, name: name)
        }
    }

    /// Creates a user with no attributes; returns its key.
    static func createUser(_ userID: String, seq: UInt64, in transaction: WriteTransaction) throws -> Int64 {
        let insert = try transaction.connection.cachedStatement(
            "INSERT INTO users(id, attributes, created_seq, updated_seq) VALUES (?, x'', ?, ?)"
        )
        try insert.bind(userID, at: 1)
        try insert.bind(Int64(seq), at: 2)
        try insert.bind(Int64(seq), at: 3)
        try insert.execute()
        let key = transaction.connection.lastInsertRowID
        transaction.userKeys.remember(userID, key)
        return key
    }
}
