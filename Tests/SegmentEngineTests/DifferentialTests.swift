import SegmentLanguage
import Testing

@testable import SegmentEngine

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Random profiles, events (late and future-dated), segments over the whole grammar, lists, deletions and clock
/// moves; after every step the engine's members of every segment equal the reference interpreter's over the full raw
/// data, every time-driven transition happens exactly at its instant, and the transition log replays to the
/// membership.
@Suite struct EngineDifferentialTests {
    struct Options {
        var steps = 1_500
        var backfills = false
        var restores = false
        /// Every segment evaluated for all users is evaluated on all processors, however few the users.
        var parallel = false
        /// Every clock move that wakes a user is done in bulk (`advanceInBulk`), and a twin doing them one instant
        /// at a time must produce the same transitions.
        var bulkAdvance = false
        /// A twin evaluates every active segment for each new user (`evaluatesNewUsersInFull`), where the engine
        /// evaluates only `segmentsToEvaluateForNewUsers()` and the segments reading the user's data: both must
        /// produce the same transitions and the same saved user states.
        var newUserTwin = false
    }

    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func engineMatchesReferenceInterpreter(seed: UInt64) throws {
        try run(seed: seed, Options())
    }

    @Test(arguments: [11, 12, 13] as [UInt64])
    func engineMatchesReferenceWithBackfills(seed: UInt64) throws {
        try run(seed: seed, Options(backfills: true))
    }

    @Test(arguments: [21, 22, 23] as [UInt64])
    func engineMatchesReferenceAcrossCheckpointRestores(seed: UInt64) throws {
        try run(seed: seed, Options(backfills: seed % 2 == 0, restores: true))
    }

    @Test(arguments: [31, 32, 33] as [UInt64])
    func engineMatchesReferenceEvaluatingUsersInParallel(seed: UInt64) throws {
        try run(seed: seed, Options(backfills: seed % 2 == 1, restores: seed == 33, parallel: true))
    }

    @Test(arguments: [41, 42, 43] as [UInt64])
    func engineMatchesReferenceAdvancingInBulk(seed: UInt64) throws {
        try run(seed: seed, Options(backfills: seed == 42, restores: seed == 43, bulkAdvance: true))
    }

    @Test(arguments: [51, 52, 53] as [UInt64])
    func newUsersEvaluatedForFewerSegmentsMatchEveryActiveSegment(seed: UInt64) throws {
        try run(seed: seed, Options(backfills: seed == 52, restores: seed == 53, newUserTwin: true))
    }

    /// A long soak over many seeds: `ENGINE_SOAK=200 swift test --filter EngineDifferentialTests/soak`.
    @Test(.enabled(if: getenv("ENGINE_SOAK") != nil))
    func soak() throws {
        let count = UInt64(String(cString: getenv("ENGINE_SOAK")!)) ?? 50
        for seed in 1_000..<(1_000 + count) {
            try run(seed: seed, Options(steps: 3_000, backfills: seed % 2 == 0, restores: seed % 3 == 0))
        }
    }

    func run(seed: UInt64, _ options: Options) throws {
        var r = EngineRandom(seed: seed)
        let generator = SegmentTextGenerator()
        let userIDs = ["u0", "u1", "u2", "u3", "é", "Zoë", "u10"]
        var engine = MembershipEngine(nowMs: baseMs)
        if options.parallel { engine.parallelEvaluationMinimum = 0 }
        if options.bulkAdvance { engine.bulkAdvanceMinimum = 0 }
        // The restore and bulk variants run a twin that is never restored and advances one instant at a time: both
        // must produce the same transitions.
        let shadow: MembershipEngine? =
            options.restores || options.bulkAdvance || options.newUserTwin ? MembershipEngine(nowMs: baseMs) : nil
        if options.newUserTwin { shadow?.evaluatesNewUsersInFull = true }
        var database: [String: [UInt8]] = [:]
        var catalog: [UInt8] = engine.encodeCatalog()
        var restores = 0
        // Bulk moves made by engines since replaced by a restore.
        var bulkMovesBefore = 0
        var model = ReferenceModel()
        var seq: UInt64 = 0
        var log: [MembershipTransition] = []
        var pendingCountdown: Int? = nil

        func nextSeq() -> UInt64 {
            seq += 1
            return seq
        }

        func apply(_ op: (MembershipEngine) throws -> [MembershipTransition]) rethrows -> [MembershipTransition] {
            let out = try op(engine)
            if let shadow { #expect(try op(shadow) == out, "twin diverged") }
            return out
        }

        /// Applies one change-log entry, with the next sequence number, to the engine and its twin.
        func applyEntry(
            _ op: (MembershipEngine, UInt64) throws -> [MembershipTransition]
        ) rethrows -> [MembershipTransition] {
            let s = nextSeq()
            return try apply { try op($0, s) }
        }

        func randomValue(_ name: String) -> AttributeValue {
            let now = engine.nowMs
            switch name {
            case "plan": return .string(r.pick(["pro", "free", "p", ""]))
            case "age": return r.chance(0.8) ? .number(r.pick([10, 18, 30, 18.5])) : .string("18")
            case "signup_at":
                let t = now + r.int64(-20...2) * msDay + r.int64(-3...3) * msHour
                switch r.int(0...4) {
                case 0, 1: return .string(RFC3339.format(t))
                case 2: return .number(Double(t / 1_000))
                case 3: return .timestamp(t)
                default: return .string("soon")
                }
            case "tags": return .stringList(r.pick([["a"], ["a", "b"], [], ["pro"]]))
            case "vip": return .bool(r.chance(0.5))
            default: return .string(r.pick(["a", "pro", "Ada"]))
            }
        }

        func randomEvent() -> EventRecord {
            let now = engine.nowMs
            let name = r.pick(["purchase", "page_view", "add to cart", "other"])
            let offset: Int64
            switch r.int(0...5) {
            case 0: offset = 0
            case 1: offset = r.int64(1...72) * msHour  // future-dated
            case 2: offset = -r.int64(1...240) * msHour  // late
            default: offset = -r.int64(0...3_600) * msSecond
            }
            var properties: [String: AttributeValue] = [:]
            if r.chance(0.8) {
                properties["amount"] = r.chance(0.9) ? .number(r.pick([0.5, 1, 2.5, 10, 100, -3])) : .string("5")
            }
            if r.chance(0.5) { properties["url"] = .string(r.pick(["/pricing", "/home", "/p"])) }
            if r.chance(0.4) { properties["ok"] = .bool(r.chance(0.5)) }
            if r.chance(0.5) {
                let t = now + r.int64(-72...48) * msHour
                properties["ts"] = r.chance(0.7) ? .string(RFC3339.format(t)) : .number(Double(t / 1_000))
            }
            return EventRecord(name: name, atMs: now + offset, properties: properties)
        }

        func frozen() -> [String: Set<String>] {
            var out: [String: Set<String>] = [:]
            for s in engine.savedSegments where !s.active { out[s.name] = Set(engine.members(of: s.name)) }
            return out
        }

        func backfillNow(interleaved: Bool) throws {
            let engines = [engine] + (shadow.map { [$0] } ?? [])
            if interleaved {
                // The feed moves one entry past the session's start; the snapshot is as of that entry.
                let sessions = engines.map { $0.beginBackfill(snapshotSeq: seq + 1) }
                let user = r.pick(userIDs)
                let value = randomValue("plan")
                model.touch(user)
                model.attributes[user]!["plan"] = value
                log += applyEntry { $0.upsertProfile(userID: user, set: ["plan": value], seq: $1) }
                for session in sessions { feed(session) }
                let outs = try zip(engines, sessions).map { try $0.finishBackfill($1) }
                #expect(outs.allSatisfy { $0 == outs[0] })
                log += outs[0]
            } else {
                let sessions = engines.map { $0.beginBackfill(snapshotSeq: seq) }
                for session in sessions { feed(session) }
                let outs = try zip(engines, sessions).map { try $0.finishBackfill($1) }
                #expect(outs.allSatisfy { $0 == outs[0] })
                log += outs[0]
            }
        }

        func feed(_ session: MembershipBackfill) {
            for user in model.users.sorted() {
                session.addProfile(userID: user, attributes: model.attributes[user] ?? [:])
            }
            for user in model.users.sorted() {
                session.addEvents((model.events[user] ?? []).map { (user, $0) })
            }
        }

        for step in 0..<options.steps {
            let before = engine.nowMs
            var advanced: [MembershipTransition]? = nil
            var startMembers: [String: Set<String>] = [:]
            switch r.int(0...99) {
            case 0..<22:
                let user = r.pick(userIDs)
                var set: [String: AttributeValue] = [:]
                for _ in 0..<r.int(1...3) {
                    let name = r.pick(["plan", "age", "signup_at", "tags", "vip", "first name", "unused"])
                    set[name] = randomValue(name)
                }
                let removed = r.chance(0.2) ? [r.pick(["plan", "age", "signup_at", "tags"])] : []
                model.touch(user)
                for name in removed { model.attributes[user]![name] = nil }
                for (k, v) in set { model.attributes[user]![k] = v }
                log += applyEntry { $0.upsertProfile(userID: user, set: set, removed: removed, seq: $1) }
            case 22..<50:
                var batch: [(userID: String, event: EventRecord)] = []
                for _ in 0..<r.int(1...3) { batch.append((r.pick(userIDs), randomEvent())) }
                for (user, event) in batch {
                    model.touch(user)
                    model.events[user, default: []].append(event)
                }
                log += applyEntry { $0.addEvents(batch, seq: $1) }
            case 50..<72:
                let target: Int64
                switch r.int(0...3) {
                case 0: target = engine.nextDueMs() ?? (before + msHour)
                case 1: target = (engine.nextDueMs() ?? before) + r.int64(0...2)
                default: target = before + r.int64(0...48) * msHour + r.int64(0...59) * 60_000
                }
                for s in model.segments { startMembers[s.name] = Set(engine.members(of: s.name)) }
                let out = apply { $0.advance(to: target) }
                advanced = out
                log += out
            case 72..<82:
                let i = r.int(0...5)
                let name = "s\(i)"
                var references = model.segments.map(\.name).filter { (Int($0.dropFirst()) ?? 99) < i }
                references += model.lists.keys.sorted()
                let text = generator.expression(&r, references: references)
                let expression = try SegmentExpression.parse(text)
                if let k = model.segments.firstIndex(where: { $0.name == name }) {
                    model.segments[k].expression = expression
                } else {
                    model.segments.append((name, expression))
                }
                let putSeq = nextSeq()
                let outcome = engine.putSegment(name: name, expression: expression, seq: putSeq)
                if let shadow {
                    #expect(shadow.putSegment(name: name, expression: expression, seq: putSeq) == outcome)
                }
                log += outcome.transitions
                if outcome.awaitsBackfill {
                    if pendingCountdown == nil { pendingCountdown = options.backfills ? r.int(0...4) : 0 }
                }
            case 82..<85:
                guard let victim = model.segments.map(\.name).randomElement(using: &r) else { break }
                let used = model.segments.contains { $0.expression.referencedSegmentNames.contains(victim) }
                guard !used else { break }
                model.segments.removeAll { $0.name == victim }
                log += applyEntry { $0.deleteSegment(name: victim, seq: $1) }
            case 85..<95:
                let list = r.pick(["L0", "L1"])
                switch r.int(0...4) {
                case 0:
                    if model.lists[list] == nil { model.lists[list] = [] }
                    log += applyEntry { $0.createList(name: list, seq: $1) }
                case 1, 2:
                    let users = (0..<r.int(1...3)).map { _ in r.pick(userIDs) }
                    if model.lists[list] == nil { model.lists[list] = [] }
                    for user in users {
                        model.touch(user)
                        model.lists[list]!.insert(user)
                    }
                    log += applyEntry { $0.addToList(name: list, userIDs: users, seq: $1) }
                case 3:
                    let users = (0..<r.int(1...2)).map { _ in r.pick(userIDs) }
                    for user in users { model.lists[list]?.remove(user) }
                    log += applyEntry { $0.removeFromList(name: list, userIDs: users, seq: $1) }
                default:
                    let used = model.segments.contains { $0.expression.referencedSegmentNames.contains(list) }
                    guard !used else { break }
                    model.lists[list] = nil
                    log += applyEntry { $0.deleteList(name: list, seq: $1) }
                }
            default:
                let user = r.pick(userIDs)
                model.deleteUser(user)
                log += applyEntry { $0.deleteUser(userID: user, seq: $1) }
            }

            if options.restores {
                // Checkpoint the way the daemon does: the catalog and the users that changed.
                for id in engine.takeDirtyUsers() { database[id] = engine.encodeUserState(id) }
                catalog = engine.encodeCatalog()
                for (id, record) in database {
                    #expect(engine.encodeUserState(id) == record, "seed \(seed) step \(step): stale record of \(id)")
                }
                #expect(database.count == engine.userCount)
                if r.chance(0.04) {
                    bulkMovesBefore += engine.statistics.bulkAdvances
                    engine = try MembershipEngine.restore(catalog: catalog, users: database.values)
                    if options.parallel { engine.parallelEvaluationMinimum = 0 }
                    if options.bulkAdvance { engine.bulkAdvanceMinimum = 0 }
                    restores += 1
                    #expect(engine.encodeCatalog() == catalog)
                    #expect(engine.takeDirtyUsers().isEmpty)
                    for (id, record) in database { #expect(engine.encodeUserState(id) == record) }
                }
            }
            let context = "seed \(seed) step \(step)"
            // Until a restore: a restored engine may number its attributes and aggregates otherwise.
            if options.newUserTwin, restores == 0, let shadow {
                for id in userIDs {
                    #expect(engine.encodeUserState(id) == shadow.encodeUserState(id), "\(context): state of \(id)")
                }
            }
            let frozenNow = frozen()
            // 2. Time-driven transitions happen exactly at their instants, and none is missed in between.
            if let advanced {
                var instants = Set(advanced.map(\.atMs))
                for _ in 0..<3 where engine.nowMs > before { instants.insert(r.int64((before + 1)...engine.nowMs)) }
                for t in instants.sorted() {
                    var state = startMembers
                    for tr in advanced where tr.atMs <= t {
                        if tr.kind == .enter {
                            state[tr.segment, default: []].insert(tr.userID)
                        } else {
                            state[tr.segment]?.remove(tr.userID)
                        }
                    }
                    let reference = model.memberships(at: t, frozen: frozenNow)
                    for (name, members) in reference where state[name, default: []] != members {
                        Issue.record(
                            "\(context): at \(t - before) ms into the advance, \(name): log \(state[name, default: []].sorted()) reference \(members.sorted())"
                        )
                        return
                    }
                    for tr in advanced where tr.atMs == t {
                        let earlier = model.memberships(at: t - 1, frozen: frozenNow)
                        #expect(
                            earlier[tr.segment, default: []].contains(tr.userID) == (tr.kind == .exit),
                            "\(context): \(tr)"
                        )
                    }
                }
                #expect(advanced.map(\.atMs) == advanced.map(\.atMs).sorted(), "\(context): advance out of order")
            }
            #expect(engine.appliedSeq == seq)
            if let countdown = pendingCountdown {
                if countdown <= 0 {
                    try backfillNow(interleaved: options.backfills && r.chance(0.5))
                    pendingCountdown = engine.pendingNeeds.isEmpty ? nil : 0
                } else {
                    pendingCountdown = countdown - 1
                }
            }

            let frozenAfter = frozen()
            // 1. Members of every segment equal the reference now.
            let expected = model.memberships(at: engine.nowMs, frozen: frozenAfter)
            for (name, members) in expected {
                let actual = Set(engine.members(of: name))
                if actual != members {
                    let text = model.segments.first { $0.name == name }?.expression.canonicalText ?? "?"
                    Issue.record(
                        "\(context): \(name) = \(text): engine \(actual.sorted()) reference \(members.sorted())"
                    )
                    return
                }
            }
            // 3. The transition log replays to the membership, with the right "member since".
            if step % 50 == 49 || step == options.steps - 1 {
                var replay: [String: [String: Int64]] = [:]
                for tr in log {
                    if tr.kind == .enter {
                        #expect(replay[tr.segment]?[tr.userID] == nil, "\(context): double enter \(tr)")
                        replay[tr.segment, default: [:]][tr.userID] = tr.atMs
                    } else {
                        #expect(replay[tr.segment]?[tr.userID] != nil, "\(context): exit without enter \(tr)")
                        replay[tr.segment]?[tr.userID] = nil
                    }
                }
                for s in engine.savedSegments {
                    let members = engine.members(of: s.name)
                    #expect(Set(members) == Set(replay[s.name, default: [:]].keys), "\(context): replay of \(s.name)")
                    for user in members {
                        #expect(engine.isMember(userID: user, segment: s.name).sinceMs == replay[s.name]?[user])
                    }
                }
                for (name, users) in replay where engine.savedSegments.allSatisfy({ $0.name != name }) {
                    #expect(users.isEmpty, "\(context): members left in deleted \(name)")
                }
            }
            // 4. Explanations agree with membership.
            if let s = engine.savedSegments.randomElement(using: &r), s.active {
                let user = r.pick(userIDs)
                #expect((engine.explain(userID: user, segment: s.name) != nil) == engine.knowsUser(user))
                let explanation = engine.explain(userID: user, segment: s.name)
                #expect(
                    explanation == nil
                        || explanation?.result == .bool(engine.isMember(userID: user, segment: s.name).member),
                    "\(context): explain \(s.name) \(user) \(s.expression)\n\(explanation?.description ?? "")"
                )
            }
        }
        if options.bulkAdvance {
            #expect(bulkMovesBefore + engine.statistics.bulkAdvances > 50, "seed \(seed): the bulk path was not taken")
            #expect(shadow?.statistics.bulkAdvances == 0)
        }
    }
}
