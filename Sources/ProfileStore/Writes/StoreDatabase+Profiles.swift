import SegmentsSQL
import SegmentsWire
import SwiftProtobuf

extension StoreDatabase {
    /// Merges attribute patches; a null value removes the attribute. One change-log entry for
    /// the whole request; patches that change nothing on an existing user are accepted but not
    /// logged.
    ///
    /// The users are read, created and updated a few hundred per statement (on PostgreSQL a statement is a
    /// round trip); the patches are applied in memory in request order, so a user patched twice sees its
    /// first patch.
    func upsertProfiles(
        _ request: Segments_V1_UpsertProfilesRequest
    ) async throws(ProfileStoreError)
        -> Segments_V1_WriteResponse
    {
        try self.checkBatchSize(request.patches.count, of: "profile patches")
        var response = Segments_V1_WriteResponse()
        var valid: [Segments_V1_ProfilePatch] = []
        for (index, patch) in request.patches.enumerated() {
            do throws(ProfileStoreError) {
                try Self.validate(patch)
                valid.append(patch)
            } catch {
                response.rejected.append(.init(index: index, error: error))
            }
        }
        response.accepted = UInt32(valid.count)
        guard !valid.isEmpty else { return response }
        return try await self.writer.write { [response, valid] transaction in
            var response = response
            let connection = transaction.connection
            let seq = transaction.nextSeq
            var profiles = try Self.storedProfiles(valid.map(\.userID), in: connection)
            var created: [String] = []
            var changes: [Segments_V1_ProfileChange] = []
            for patch in valid {
                var profile = profiles[patch.userID] ?? StoredProfile(key: nil, attributes: [:])
                var change = Segments_V1_ProfileChange()
                change.userID = patch.userID
                for name in patch.attributes.keys.sorted() {
                    guard let value = patch.attributes[name] else { continue }
                    if value.kind == nil {
                        if profile.attributes.removeValue(forKey: name) != nil {
                            change.removed.append(name)
                        }
                    } else if profile.attributes[name] != value {
                        profile.attributes[name] = value
                        change.set[name] = value
                    }
                }
                if profiles[patch.userID] == nil {
                    change.created = true
                    created.append(patch.userID)
                } else if change.set.isEmpty && change.removed.isEmpty {
                    continue
                }
                profile.changed = true
                profiles[patch.userID] = profile
                changes.append(change)
            }
            guard !changes.isEmpty else { return response }
            try transaction.userKeys.createUsers(created, seq: seq, in: connection) { index in
                try Self.encodeAttributes(profiles[created[index]]?.attributes ?? [:])
            }
            let updated = try profiles.values.filter(\.changed).compactMap { profile in
                try profile.key.map { (key: $0, attributes: try Self.encodeAttributes(profile.attributes)) }
            }.sorted { $0.key < $1.key }
            try Self.updateAttributes(of: updated, seq: seq, in: connection)
            var entry = Segments_V1_ChangeEntry()
            entry.profilesUpserted.changes = changes
            response.seq = try transaction.appendLog(&entry)
            var noted: Set<String> = []
            for change in changes where noted.insert(change.userID).inserted {
                guard
                    let key = try profiles[change.userID]?.key
                        ?? transaction.userKeys.key(for: change.userID, in: connection)
                else {
                    throw ProfileStoreError(.storage, "user '\(change.userID)' was neither found nor created")
                }
                transaction.noteUserInLog(userKey: key, seq: seq)
            }
            return response
        }
    }

    private static func validate(_ patch: Segments_V1_ProfilePatch) throws(ProfileStoreError) {
        try InputValidation.checkUserID(patch.userID)
        for (name, value) in patch.attributes {
            try InputValidation.checkName(name, what: "attribute name")
            try InputValidation.checkValue(value, name: name)
        }
    }

    /// A user's row as an upsert sees it: its key (`nil` until created) and attributes, and whether a
    /// patch changed them.
    private struct StoredProfile {
        var key: Int64?
        var attributes: [String: Segments_V1_Value]
        var changed = false
    }

    /// The stored users among `ids`, read `UserKeyCache.idsPerStatement` per query.
    private static func storedProfiles(
        _ ids: [String],
        in connection: any SQLConnection
    ) throws -> [String: StoredProfile] {
        let unique = Array(Set(ids))
        var profiles: [String: StoredProfile] = [:]
        try connection.runInChunks(
            count: unique.count,
            perStatement: UserKeyCache.idsPerStatement,
            sql: { "SELECT user_key, id, attributes FROM users WHERE id IN (\(SQLPlaceholders.list($0)))" },
            bind: { statement, item, slot in try statement.bind(unique[item], at: slot + 1) },
            row: { statement in
                profiles[statement.string(at: 1)] = StoredProfile(
                    key: statement.int64(at: 0),
                    attributes: try Self.decodeAttributes(statement.blob(at: 2))
                )
            }
        )
        return profiles
    }

    /// Stores new attributes for existing users, as updated by change-log entry `seq`, with one
    /// `UPDATE … FROM (VALUES …)` per chunk of users.
    private static func updateAttributes(
        of users: [(key: Int64, attributes: [UInt8])],
        seq: UInt64,
        in connection: any SQLConnection
    ) throws {
        try connection.runInChunks(
            count: users.count,
            perStatement: UserKeyCache.idsPerStatement,
            sql: {
                "UPDATE users SET attributes = v.column2, updated_seq = ? FROM (VALUES "
                    + SQLPlaceholders.rows($0, columns: 2) + ") AS v WHERE users.user_key = v.column1"
            },
            bind: { statement, item, slot in
                try statement.bind(Int64(seq), at: 1)
                try statement.bind(users[item].key, at: 2 * slot + 2)
                try statement.bind(users[item].attributes, at: 2 * slot + 3)
            }
        )
    }

    /// Reads one profile.
    func getProfile(_ userID: String) async throws(ProfileStoreError) -> Segments_V1_GetProfileResponse {
        try InputValidation.checkUserID(userID)
        let profile = try await self.readers.read { connection -> Segments_V1_Profile? in
            let select = try connection.cachedStatement(
                "SELECT attributes, created_seq, updated_seq FROM users WHERE id = ?"
            )
            defer { select.reset() }
            try select.bind(userID, at: 1)
            guard try select.step() else { return nil }
            var profile = Segments_V1_Profile()
            profile.userID = userID
            profile.attributes = try Self.decodeAttributes(select.blob(at: 0))
            profile.createdSeq = UInt64(select.int64(at: 1))
            profile.updatedSeq = UInt64(select.int64(at: 2))
            return profile
        }
        guard let profile else {
            throw ProfileStoreError(.notFound, "no user '\(userID)'")
        }
        var response = Segments_V1_GetProfileResponse()
        response.profile = profile
        return response
    }

    /// A user's most recently stored events, newest first: the change-log entries that mention the user, read
    /// from the newest back until `limit` events are found.
    ///
    /// Runs as a job of the writer, which alone holds the newest part of the per-user index (see
    /// ``DeferredUserIndex``); it writes nothing.
    func recentEvents(
        _ request: Segments_V1_ListUserEventsRequest
    ) async throws(ProfileStoreError) -> Segments_V1_ListUserEventsResponse {
        try InputValidation.checkUserID(request.userID)
        let userID = request.userID
        let limit = request.limit == 0 ? 50 : Int(min(request.limit, 1000))
        return try await self.writer.write { transaction in
            let connection = transaction.connection
            guard let key = try transaction.userKeys.key(for: userID, in: connection) else {
                throw ProfileStoreError(.notFound, "no user '\(userID)'")
            }
            var response = Segments_V1_ListUserEventsResponse()
            let before = request.beforeSeq == 0 ? UInt64.max : request.beforeSeq
            // Whole entries, newest first: a page ends between entries, so the next one starts cleanly.
            try Self.forEachEventEntry(ofUser: userID, key: key, in: transaction, newestFirst: true) { seq, events in
                guard seq < before else { return true }
                if !response.events.isEmpty, response.events.count + events.count > limit {
                    response.nextBeforeSeq = seq + 1
                    return false
                }
                response.events += events.reversed()
                if response.events.count >= limit {
                    response.nextBeforeSeq = seq
                    return false
                }
                return true
            }
            return response
        }
    }

    /// Calls `body` with the user's events of each change-log entry that stored some (in the order stored within the
    /// entry), entry by entry, oldest or newest entry first, until it returns false. Needs the writer: it alone
    /// holds the newest part of the per-user index.
    static func forEachEventEntry(
        ofUser userID: String,
        key: Int64,
        in transaction: WriteTransaction,
        newestFirst: Bool,
        _ body: (_ seq: UInt64, _ events: [Segments_V1_Event]) throws -> Bool
    ) throws {
        let connection = transaction.connection
        let load = try connection.cachedStatement("SELECT payload FROM change_log WHERE seq = ?")
        let entries = try transaction.userIndex.entries(ofUser: key, in: connection)
        for seq in newestFirst ? Array(entries.reversed()) : entries {
            try load.bind(Int64(seq), at: 1)
            defer { load.reset() }
            guard try load.step() else { continue }
            let entry = try Segments_V1_ChangeEntry(serializedBytes: load.blob(at: 0))
            guard case .eventsTracked(let tracked) = entry.change else { continue }
            let events = tracked.events.filter { $0.userID == userID }
            if !events.isEmpty, try !body(seq, events) { return }
        }
    }

    /// Forgets a user: attributes, events, event ids and its mentions in earlier change-log
    /// entries, then logs the deletion.
    func deleteProfile(_ userID: String) async throws(ProfileStoreError) -> Segments_V1_WriteResponse {
        try InputValidation.checkUserID(userID)
        return try await self.writer.write { transaction in
            let connection = transaction.connection
            guard let key = try transaction.userKeys.key(for: userID, in: connection) else {
                throw ProfileStoreError(.notFound, "no user '\(userID)'")
            }
            let entries = try transaction.userIndex.entries(ofUser: key, in: connection)
            // The deletion's own entry comes next: held entries are kept until it is passed.
            let hold: UInt64? = try Self.holdsScrubbedEntries(in: connection) ? transaction.nextSeq : nil
            let removedEvents = try Self.scrubLog(ofUser: userID, entries: entries, holdingFor: hold, in: connection)
            if hold == nil {
                try Self.markReleased(through: transaction.nextSeq, in: connection)
            }
            try transaction.addToCounter("event_count", -Int64(removedEvents))
            try transaction.userIndex.forget(key, in: connection)
            try Self.removeFromAllLists(userKey: key, in: connection)
            let delete = try connection.cachedStatement("DELETE FROM users WHERE user_key = ?")
            try delete.bind(key, at: 1)
            try delete.execute()
            transaction.userKeys.forget(userID)
            var entry = Segments_V1_ChangeEntry()
            entry.userDeleted.userID = userID
            var response = Segments_V1_WriteResponse()
            response.seq = try transaction.appendLog(&entry)
            response.accepted = 1
            return response
        }
    }

    /// Removes every mention of a user from the change-log entries that hold one, keeping the
    /// entries themselves so the log stays gap-free.
    /// - Parameters:
    ///   - holdingFor: when set, the deletion's number: each entry's form before the scrub is
    ///     held for registered feed subscribers until they pass it.
    /// - Returns: how many events of the user were removed.
    private static func scrubLog(
        ofUser userID: String,
        entries: [UInt64],
        holdingFor deletionSeq: UInt64?,
        in connection: any SQLConnection
    ) throws -> Int {
        let numbers = entries.map { Int64($0) }
        let load = try connection.cachedStatement("SELECT payload FROM change_log WHERE seq = ?")
        let store = try connection.cachedStatement("UPDATE change_log SET payload = ? WHERE seq = ?")
        var removedEvents = 0
        for seq in numbers {
            try load.bind(seq, at: 1)
            guard try load.step() else {
                load.reset()
                continue
            }
            let original = load.blob(at: 0)
            load.reset()
            var entry = try Segments_V1_ChangeEntry(serializedBytes: original)
            let unchanged = entry
            switch entry.change {
            case .profilesUpserted(var upserted):
                upserted.changes.removeAll { $0.userID == userID }
                entry.profilesUpserted = upserted
            case .eventsTracked(var tracked):
                let before = tracked.events.count
                tracked.events.removeAll { $0.userID == userID }
                removedEvents += before - tracked.events.count
                tracked.createdUsers.removeAll { $0 == userID }
                entry.eventsTracked = tracked
            case .listMembersChanged(var changed):
                changed.added.removeAll { $0 == userID }
                changed.removed.removeAll { $0 == userID }
                changed.createdUsers.removeAll { $0 == userID }
                entry.listMembersChanged = changed
            default:
                continue
            }
            guard entry != unchanged else { continue }
            if let deletionSeq {
                try Self.hold(entry: seq, payload: original, deletionSeq: deletionSeq, in: connection)
            }
            try store.bind(try entry.serializedBytes() as [UInt8], at: 1)
            try store.bind(seq, at: 2)
            try store.execute()
        }
        return removedEvents
    }
}

extension Segments_V1_ItemError {
    /// A rejected batch item.
    init(index: Int, error: ProfileStoreError) {
        self.init()
        self.index = UInt32(index)
        self.status = error.rpcError.status
    }
}
