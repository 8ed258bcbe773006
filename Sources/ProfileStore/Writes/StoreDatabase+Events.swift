import Foundation
import SegmentsSQL
import SegmentsWire
import SwiftProtobuf

extension StoreDatabase {
    /// Stores a batch of events as one change-log entry. Events without `at` take the store's
    /// clock; a repeated event id of the same user is skipped (counted as a duplicate); an
    /// unknown user is created.
    func trackEvents(
        _ request: Segments_V1_TrackEventsRequest
    ) async throws(ProfileStoreError)
        -> Segments_V1_WriteResponse
    {
        let payload: Data
        do {
            payload = try request.serializedData()
        } catch {
            throw ProfileStoreError(.invalidArgument, "cannot serialize the events: \(error)")
        }
        return try await self.trackEvents(serializedRequest: payload)
    }

    /// ``trackEvents(_:)`` for a request still in its serialized form, as received.
    ///
    /// Decoding and validation happen here, before the writer thread; the log entry is spliced
    /// from the request's own event bytes (see ``EventBatch``), so the writer thread only looks
    /// up users, de-duplicates and copies bytes.
    func trackEvents(serializedRequest payload: Data) async throws(ProfileStoreError) -> Segments_V1_WriteResponse {
        let batch = try EventBatch(serializedRequest: payload, validate: Self.validate)
        try self.checkBatchSize(batch.items.count + batch.rejected.count, of: "events")
        return try await self.writer.write { transaction in
            let connection = transaction.connection
            let seq = transaction.nextSeq
            let now = transaction.now
            var response = Segments_V1_WriteResponse()
            response.rejected = batch.rejected
            var accepted: [Int] = []
            accepted.reserveCapacity(batch.items.count)
            // Users looked up, and the new ones created, a few hundred per statement rather than one by one (on
            // PostgreSQL a statement is a round trip), in the order they first appear in the batch.
            let createdUsers = try transaction.userKeys.prefetch(
                batch.items.map(\.event.userID),
                in: connection
            )
            try transaction.userKeys.createUsers(createdUsers, seq: seq, in: connection)
            var touchedKeys: Set<Int64> = []
            // By index, reading fields in place: copying each item (an event and a Data slice)
            // costs several retains and releases.
            for position in batch.items.indices {
                let userID = batch.items[position].event.userID
                guard let key = try transaction.userKeys.key(for: userID, in: connection) else {
                    throw ProfileStoreError(.storage, "user '\(userID)' was neither found nor created")
                }
                let eventID = batch.items[position].event.eventID
                if !eventID.isEmpty,
                    try !transaction.userIndex.insertEventID(eventID, userKey: key, in: connection)
                {
                    response.duplicates += 1
                    continue
                }
                accepted.append(position)
                touchedKeys.insert(key)
                response.accepted += 1
            }
            guard !accepted.isEmpty || !createdUsers.isEmpty else {
                return response
            }
            response.seq = try transaction.appendLog(kind: .eventsTracked) { seq, committedAtMs in
                Self.eventsTrackedEntry(
                    seq: seq,
                    committedAtMs: committedAtMs,
                    now: now,
                    batch: batch,
                    accepted: accepted,
                    createdUsers: createdUsers
                )
            }
            try transaction.addToCounter("event_count", Int64(accepted.count))
            for key in touchedKeys.sorted() {
                transaction.noteUserInLog(userKey: key, seq: seq)
            }
            return response
        }
    }

    /// The serialized `ChangeEntry { seq, committed_at_ms, events_tracked }` for the accepted
    /// events of `batch`, built by splicing each event's request bytes.
    ///
    /// An event without `at_given` gets `at_ms = now` and `at_given = true` appended after its
    /// bytes; since the last occurrence of a scalar field wins, it decodes exactly as if those
    /// fields had been set and the event re-serialized. Field order otherwise follows what
    /// SwiftProtobuf writes (events, then created users; zero `committed_at_ms` omitted).
    static func eventsTrackedEntry(
        seq: UInt64,
        committedAtMs: Int64,
        now: Int64,
        batch: EventBatch,
        accepted: [Int],
        createdUsers: [String]
    ) -> [UInt8] {
        let stamp: [UInt8] = {
            var bytes: [UInt8] = [0x18]  // at_ms (3), varint
            Varint.append(UInt64(bitPattern: now), to: &bytes)
            bytes += [0x20, 0x01]  // at_given (4) = true
            return bytes
        }()
        var body: [UInt8] = []
        body.reserveCapacity(batch.totalBytes + accepted.count * (stamp.count + 4) + createdUsers.count * 16)
        for position in accepted {
            let bytes = batch.items[position].bytes
            let extra = batch.items[position].event.atGiven ? 0 : stamp.count
            body.append(0x0A)  // events (1), length-delimited
            Varint.append(UInt64(bytes.count + extra), to: &body)
            body.append(contentsOf: bytes)
            if extra != 0 {
                body.append(contentsOf: stamp)
            }
        }
        for user in createdUsers {
            body.append(0x12)  // created_users (2), length-delimited
            Varint.append(UInt64(user.utf8.count), to: &body)
            body.append(contentsOf: user.utf8)
        }
        var entry: [UInt8] = []
        entry.reserveCapacity(body.count + 32)
        entry.append(0x08)  // seq (1)
        Varint.append(seq, to: &entry)
        if committedAtMs != 0 {
            entry.append(0x10)  // committed_at_ms (2)
            Varint.append(UInt64(bitPattern: committedAtMs), to: &entry)
        }
        entry.append(0x2A)  // events_tracked (5), length-delimited
        Varint.append(UInt64(body.count), to: &entry)
        entry.append(contentsOf: body)
        return entry
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
}
