import SegmentsRPC
import SegmentsSQL
import SegmentsWire

/// Static lists: named sets of users, written through the change log like every other write and
/// usable in expressions through `in_segment("name")`. Lists share the namespace of segments.
extension StoreDatabase {
    /// User ids per chunk of a streamed list listing.
    static let listMembersPerChunk = 10_000

    /// Creates an empty list; refused when a list, a segment or a trait already has the name.
    func createList(_ name: String) async throws(ProfileStoreError) -> Segments_V1_WriteResponse {
        try InputValidation.checkSegmentName(name, kind: "list")
        let limit = self.maximumLists
        return try await self.writer.write { transaction in
            let connection = transaction.connection
            if try Self.listKey(named: name, in: connection) != nil {
                throw ProfileStoreError(.alreadyExists, "list '\(name)' already exists")
            }
            let count = try Self.allLists(in: connection).count
            if count >= limit {
                throw ProfileStoreError(
                    .resourceExhausted,
                    "the store holds \(count) lists, its limit (--max-lists); delete one first"
                )
            }
            try Self.checkNameFree(name, for: .list, in: connection)
            let insert = try connection.cachedStatement(
                "INSERT INTO lists(name, created_seq, created_at_ms) VALUES (?, ?, ?)"
            )
            try insert.bind(name, at: 1)
            try insert.bind(Int64(transaction.nextSeq), at: 2)
            try insert.bind(transaction.now, at: 3)
            try insert.execute()
            var entry = Segments_V1_ChangeEntry()
            entry.listCreated.name = name
            var response = Segments_V1_WriteResponse()
            response.seq = try transaction.appendLog(&entry)
            response.accepted = 1
            return response
        }
    }

    /// Adds and removes members. Unknown users being added are created (as an event would);
    /// unknown users being removed and invalid ids are rejected item by item, the rest applied.
    /// Items that change nothing (already a member, not a member) count as `duplicates`.
    /// One change-log entry holds what actually changed; nothing is logged when nothing did.
    ///
    /// The additions are applied before the removals, each a few hundred users per statement (on
    /// PostgreSQL a statement is a round trip); an id repeated among the additions (or the removals)
    /// changes nothing the second time.
    func changeListMembers(
        _ request: Segments_V1_ChangeListMembersRequest
    ) async throws(ProfileStoreError)
        -> Segments_V1_WriteResponse
    {
        try self.checkBatchSize(request.add.count + request.remove.count, of: "list member changes")
        var response = Segments_V1_WriteResponse()
        var adds: [String] = []
        var removes: [(index: Int, id: String)] = []
        for (index, userID) in (request.add + request.remove).enumerated() {
            do throws(ProfileStoreError) {
                try InputValidation.checkUserID(userID)
                if index < request.add.count {
                    adds.append(userID)
                } else {
                    removes.append((index, userID))
                }
            } catch {
                response.rejected.append(.init(index: index, error: error))
            }
        }
        return try await self.writer.write { [response, adds, removes] transaction in
            var response = response
            let connection = transaction.connection
            guard let listKey = try Self.listKey(named: request.name, in: connection) else {
                throw ProfileStoreError(.notFound, "no list '\(request.name)'")
            }
            let seq = transaction.nextSeq
            var change = Segments_V1_ListMembersChanged()
            change.name = request.name
            let unknown = Set(try transaction.userKeys.prefetch(adds + removes.map(\.id), in: connection))
            var createdUsers: Set<String> = []
            change.createdUsers = adds.filter { unknown.contains($0) && createdUsers.insert($0).inserted }
            try transaction.userKeys.createUsers(change.createdUsers, seq: seq, in: connection)

            func key(_ id: String) throws -> Int64 {
                guard let key = try transaction.userKeys.key(for: id, in: connection) else {
                    throw ProfileStoreError(.storage, "user '\(id)' was neither found nor created")
                }
                return key
            }
            let addKeys = try adds.map(key)
            // `WHERE true` tells SQLite's parser that `ON CONFLICT` belongs to the INSERT, not to a join.
            let added = try Self.changeMembers(
                of: listKey,
                keys: addKeys,
                sql: {
                    "INSERT INTO list_members(list_key, user_key) SELECT ?, v.column1 FROM (VALUES "
                        + SQLPlaceholders.rows($0, columns: 1) + ") AS v WHERE true "
                        + "ON CONFLICT DO NOTHING RETURNING user_key"
                },
                in: connection
            )
            var touched: [Int64] = []
            var seen: Set<Int64> = []
            for (id, key) in zip(adds, addKeys) {
                response.accepted += 1
                if seen.insert(key).inserted, added.contains(key) {
                    change.added.append(id)
                    touched.append(key)
                } else {
                    response.duplicates += 1
                }
            }

            // An id removed that is neither stored nor added by this request names no user.
            var removable: [(id: String, key: Int64)] = []
            for (index, id) in removes {
                if unknown.contains(id), !createdUsers.contains(id) {
                    response.rejected.append(
                        .init(index: index, error: ProfileStoreError(.notFound, "no user '\(id)'"))
                    )
                } else {
                    removable.append((id, try key(id)))
                }
            }
            response.rejected.sort { $0.index < $1.index }
            let removed = try Self.changeMembers(
                of: listKey,
                keys: removable.map(\.key),
                sql: {
                    "DELETE FROM list_members WHERE list_key = ? AND user_key IN (\(SQLPlaceholders.list($0))) "
                        + "RETURNING user_key"
                },
                in: connection
            )
            seen = []
            for (id, key) in removable {
                response.accepted += 1
                if seen.insert(key).inserted, removed.contains(key) {
                    change.removed.append(id)
                    touched.append(key)
                } else {
                    response.duplicates += 1
                }
            }

            let delta = change.added.count - change.removed.count
            if delta != 0 {
                let resize = try connection.cachedStatement("UPDATE lists SET size = size + ? WHERE list_key = ?")
                try resize.bind(Int64(delta), at: 1)
                try resize.bind(listKey, at: 2)
                try resize.execute()
            }
            if !change.added.isEmpty || !change.removed.isEmpty {
                var entry = Segments_V1_ChangeEntry()
                entry.listMembersChanged = change
                response.seq = try transaction.appendLog(&entry)
                for key in touched {
                    transaction.noteUserInLog(userKey: key, seq: seq)
                }
            }
            return response
        }
    }

    /// Runs a membership change for `keys` of list `listKey`, a chunk of users per statement, and
    /// returns the users the statements returned (those actually added or removed).
    /// - Parameter sql: the statement for a chunk of users: the list key its first parameter, the users after it.
    private static func changeMembers(
        of listKey: Int64,
        keys: [Int64],
        sql: (_ users: Int) -> String,
        in connection: any SQLConnection
    ) throws -> Set<Int64> {
        let unique = Array(Set(keys))
        var changed: Set<Int64> = []
        try connection.runInChunks(
            count: unique.count,
            perStatement: UserKeyCache.idsPerStatement,
            sql: sql,
            bind: { statement, item, slot in
                try statement.bind(listKey, at: 1)
                try statement.bind(unique[item], at: slot + 2)
            },
            row: { statement in changed.insert(statement.int64(at: 0)) }
        )
        return changed
    }

    /// Streams a list's members sorted by the UTF-8 bytes of their ids, all read in one
    /// transaction (one consistent state of the list).
    func listMembers(
        _ request: Segments_V1_ListMembersRequest,
        writer: RPCResponseWriter<Segments_V1_UserIdChunk>
    ) async throws {
        let name = request.name
        let ids = try await self.readers.read { connection -> [String]? in
            guard let listKey = try Self.listKey(named: name, in: connection) else { return nil }
            // SQLite's default BINARY collation compares UTF-8 bytes, the order the contract promises.
            let select = try connection.cachedStatement(
                """
                SELECT u.id FROM list_members m JOIN users u ON u.user_key = m.user_key
                WHERE m.list_key = ? ORDER BY u.id
                """
            )
            defer { select.reset() }
            try select.bind(listKey, at: 1)
            var ids: [String] = []
            while try select.step() {
                ids.append(select.string(at: 0))
            }
            return ids
        }
        guard let ids else {
            throw ProfileStoreError(.notFound, "no list '\(name)'")
        }
        var start = 0
        repeat {
            var chunk = Segments_V1_UserIdChunk()
            let end = min(start + Self.listMembersPerChunk, ids.count)
            chunk.userIds = Array(ids[start..<end])
            try await writer.write(chunk)
            start = end
        } while start < ids.count
    }

    /// Every list with its size, sorted by name.
    func listLists() async throws(ProfileStoreError) -> Segments_V1_ListListsResponse {
        try await self.readers.read { connection in
            var response = Segments_V1_ListListsResponse()
            response.lists = try Self.allLists(in: connection)
            return response
        }
    }

    /// Deletes a list; refused while a segment refers to it.
    func deleteList(_ name: String) async throws(ProfileStoreError) -> Segments_V1_WriteResponse {
        try await self.writer.write { transaction in
            let connection = transaction.connection
            guard let listKey = try Self.listKey(named: name, in: connection) else {
                throw ProfileStoreError(.notFound, "no list '\(name)'")
            }
            let dependents = try Self.segments(referring: name, in: connection)
            guard dependents.isEmpty else {
                throw ProfileStoreError(
                    .failedPrecondition,
                    "list '\(name)' is used by \(dependents.map { "'\($0)'" }.joined(separator: ", "))"
                )
            }
            for sql in ["DELETE FROM list_members WHERE list_key = ?", "DELETE FROM lists WHERE list_key = ?"] {
                let statement = try connection.cachedStatement(sql)
                try statement.bind(listKey, at: 1)
                try statement.execute()
            }
            var entry = Segments_V1_ChangeEntry()
            entry.listDeleted.name = name
            var response = Segments_V1_WriteResponse()
            response.seq = try transaction.appendLog(&entry)
            response.accepted = 1
            return response
        }
    }

    /// Takes a user out of every list (the user is being deleted).
    static func removeFromAllLists(userKey: Int64, in connection: any SQLConnection) throws {
        let resize = try connection.cachedStatement(
            "UPDATE lists SET size = size - 1 WHERE list_key IN (SELECT list_key FROM list_members WHERE user_key = ?)"
        )
        try resize.bind(userKey, at: 1)
        try resize.execute()
        let delete = try connection.cachedStatement("DELETE FROM list_members WHERE user_key = ?")
        try delete.bind(userKey, at: 1)
        try delete.execute()
    }

    static func listKey(named name: String, in connection: any SQLConnection) throws -> Int64? {
        let select = try connection.cachedStatement("SELECT list_key FROM lists WHERE name = ?")
        defer { select.reset() }
        try select.bind(name, at: 1)
        return try select.step() ? select.int64(at: 0) : nil
    }

    static func allLists(in connection: any SQLConnection) throws -> [Segments_V1_StaticList] {
        let select = try connection.cachedStatement("SELECT name, size, created_seq FROM lists ORDER BY name")
        defer { select.reset() }
        var lists: [Segments_V1_StaticList] = []
        while try select.step() {
            var list = Segments_V1_StaticList()
            list.name = select.string(at: 0)
            list.size = UInt64(select.int64(at: 1))
            list.createdSeq = UInt64(select.int64(at: 2))
            lists.append(list)
        }
        return lists
    }
}
