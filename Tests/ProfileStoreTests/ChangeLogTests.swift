@_spi(SegmentsInternal) import SegmentsClient
import SegmentsTesting
import SegmentsWire
import Testing

@Suite struct ChangeLogTests {
    @Test func gapFreeAndOrderedUnderConcurrentWriters() async throws {
        try await withStore { store in
            let writers = 8
            let writesEach = 40
            let acknowledged = try await withThrowingTaskGroup(of: [(UInt64, String)].self) { group in
                for writer in 0..<writers {
                    group.addTask {
                        // Each writer has its own client (own connection), like separate processes.
                        let client = SegmentsClient(configuration: store.client.configuration)
                        var seen: [(UInt64, String)] = []
                        for index in 0..<writesEach {
                            let user = "w\(writer)-\(index)"
                            let result =
                                index.isMultiple(of: 2)
                                ? try await client.setProfile(user, ["n": .number(Double(index))])
                                : try await client.track([SegmentsEvent(userID: user, name: "e", atMs: 1)])
                            seen.append((result.seq, user))
                        }
                        await client.close()
                        return seen
                    }
                }
                var all: [(UInt64, String)] = []
                for try await part in group { all += part }
                return all
            }
            let total = writers * writesEach
            #expect(Set(acknowledged.map(\.0)).count == total)
            let log = try await readLog(store.client, fromSeq: 1, count: total)
            #expect(log.map(\.seq) == (1...UInt64(total)).map { $0 })
            // Every acknowledged number holds exactly the write it was given for.
            for (seq, user) in acknowledged {
                let entry = log[Int(seq) - 1]
                let users = entry.profilesUpserted.changes.map(\.userID) + entry.eventsTracked.events.map(\.userID)
                #expect(users == [user])
            }
        }
    }

    @Test func subscribeFromOldSequenceThenLiveTailWithoutGapOrDuplicate() async throws {
        try await withStore { store in
            let client = store.client
            for index in 0..<100 {
                try await client.setProfile("u\(index)", ["i": .number(Double(index))])
            }
            let received = try await withThrowingTaskGroup(of: [UInt64].self) { group in
                group.addTask {
                    var seqs: [UInt64] = []
                    for try await batch in try await client.changes(fromSeq: 50, maxBatch: 7) {
                        seqs += batch.entries.map(\.seq)
                        if seqs.count >= 151 { break }
                    }
                    return seqs
                }
                group.addTask {
                    let writer = SegmentsClient(configuration: client.configuration)
                    for index in 100..<200 {
                        try await writer.track([SegmentsEvent(userID: "u\(index)", name: "e", atMs: 1)])
                    }
                    await writer.close()
                    return []
                }
                var seqs: [UInt64] = []
                for try await part in group { seqs += part }
                return seqs
            }
            #expect(received == Array(50...200))
        }
    }

    @Test func subscribeBeyondTheHeadIsOutOfRange() async throws {
        try await withStore { store in
            try await store.client.setProfile("u1", [:])
            let code = await errorCode {
                for try await _ in try await store.client.changes(fromSeq: 5) {}
            }
            #expect(code == .outOfRange)
            // head + 1 is allowed: it waits for the next write.
            let next = try await withThrowingTaskGroup(of: UInt64.self) { group in
                group.addTask {
                    for try await batch in try await store.client.changes(fromSeq: 2) {
                        if let first = batch.entries.first { return first.seq }
                    }
                    return 0
                }
                try await Task.sleep(for: .milliseconds(50))
                try await store.client.setProfile("u2", [:])
                return try await group.next() ?? 0
            }
            #expect(next == 2)
        }
    }

    @Test func snapshotIsConsistentAndShardFiltered() async throws {
        try await withStore { store in
            let client = store.client
            try await client.putSegment("pro", expression: #"plan = "pro""#)
            for index in 0..<50 {
                try await client.setProfile("u\(index)", ["plan": .string(index.isMultiple(of: 2) ? "pro" : "free")])
                try await client.track([SegmentsEvent(userID: "u\(index)", name: "view", atMs: Int64(index))])
            }
            var seq: UInt64 = 0
            var profiles: [String] = []
            var events: [String] = []
            var segments: [String] = []
            for try await chunk in try await client.snapshot() {
                if seq == 0 { seq = chunk.seq }
                segments += chunk.segments.map(\.name)
                profiles += chunk.profiles.map(\.userID)
                events += chunk.events.map(\.userID)
            }
            #expect(seq == 101)
            #expect(segments == ["pro"])
            #expect(Set(profiles).count == 50)
            #expect(events.count == 50)
            var sharded: Set<String> = []
            for shard in 0..<3 {
                for try await chunk in try await client.snapshot(shardIndex: UInt32(shard), shardCount: 3) {
                    for profile in chunk.profiles {
                        #expect(UserShard.index(of: profile.userID, shardCount: 3) == UInt32(shard))
                        sharded.insert(profile.userID)
                    }
                }
            }
            #expect(sharded == Set(profiles))
            let bad = await errorCode {
                for try await _ in try await client.snapshot(shardIndex: 3, shardCount: 3) {}
            }
            #expect(bad == .invalidArgument)
        }
    }
}
