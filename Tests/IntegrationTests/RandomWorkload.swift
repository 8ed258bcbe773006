import SegmentLanguage
import SegmentsClient
import SegmentsWire

// A seeded random workload for the evaluator's differential, crash and stream tests: the steps a
// client sends (profiles with nulls, events past/late/future/undated with properties and ids,
// clock moves small and large and exactly on window edges, segment puts and updates, user
// deletions), and a full model of the data the store holds, with the reference memberships it
// implies.

let workloadSecond: Int64 = 1_000
let workloadMinute: Int64 = 60_000
let workloadHour: Int64 = 3_600_000
let workloadDay: Int64 = 86_400_000

/// A deterministic random number generator (SplitMix64).
struct WorkloadRandom: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { self.state = seed }

    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &self) < p }
    mutating func pick<T>(_ items: [T]) -> T { items[Int.random(in: 0..<items.count, using: &self)] }
    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }
    mutating func int64(_ range: ClosedRange<Int64>) -> Int64 { Int64.random(in: range, using: &self) }
}

extension AttributeValue {
    /// The language's view of a client value.
    init(_ value: SegmentsValue) {
        switch value {
        case .string(let s): self = .string(s)
        case .number(let n): self = .number(n)
        case .bool(let b): self = .bool(b)
        case .timestamp(let t): self = .timestamp(t)
        case .stringList(let l): self = .stringList(l)
        }
    }
}

/// One request of the workload.
enum WorkloadStep: Sendable, CustomStringConvertible {
    case profile(user: String, patch: [String: SegmentsValue?])
    case events([SegmentsEvent])
    case clock(toMs: Int64)
    case deleteUser(String)
    case putSegment(name: String, text: String)
    /// A computed trait created or replaced (the segments reading it follow).
    case putTrait(name: String, text: String)

    var description: String {
        switch self {
        case .profile(let user, let patch):
            let fields = patch.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.map { "\($0)" } ?? "null")" }
            return "profile \(user) \(fields.joined(separator: " "))"
        case .events(let events):
            return "events "
                + events.map { event in
                    let at = event.atMs.map(RFC3339.format) ?? "(store clock)"
                    let id = event.id.map { " id=\($0)" } ?? ""
                    return "[\(event.userID) \(event.name) @\(at)\(id) \(event.properties.sorted { $0.key < $1.key })]"
                }.joined(separator: " ")
        case .clock(let t): return "clock → \(RFC3339.format(t))"
        case .deleteUser(let user): return "delete \(user)"
        case .putSegment(let name, let text): return "put \(name) = \(text)"
        case .putTrait(let name, let text): return "trait \(name) = \(text)"
        }
    }

    /// Sends the step; returns the change-log number of the write (0 when nothing changed).
    func send(to client: SegmentsClient) async throws -> UInt64 {
        switch self {
        case .profile(let user, let patch): return try await client.setProfile(user, patch).seq
        case .events(let events):
            let result = try await client.track(events)
            if let rejection = result.rejected.first { throw rejection.error }
            return result.seq
        case .clock(let t): return try await client.setClock(toMs: t).seq
        case .deleteUser(let user): return try await client.deleteProfile(user).seq
        case .putSegment(let name, let text): return try await client.putSegment(name, expression: text).updatedSeq
        case .putTrait(let name, let text): return try await client.putTrait(name, expression: text).seq
        }
    }
}

/// The full raw data as the store holds it, and the segments.
struct WorkloadModel: Sendable {
    var nowMs: Int64
    var attributes: [String: [String: AttributeValue]] = [:]
    var events: [String: [EventRecord]] = [:]
    var eventIDs: [String: Set<String>] = [:]
    /// Segments in creation order; `in_segment` only refers to earlier ones.
    var segments: [(name: String, expression: SegmentExpression)] = []
    /// Computed traits by name; segments are evaluated with them written out, as the store sends them.
    var traits: [String: TraitDefinition] = [:]

    init(nowMs: Int64) { self.nowMs = nowMs }

    /// Users that exist: from their first profile write or event until deleted.
    var users: [String] { self.attributes.keys.sorted() }

    mutating func apply(_ step: WorkloadStep) throws {
        switch step {
        case .profile(let user, let patch):
            var attributes = self.attributes[user] ?? [:]
            for (name, value) in patch { attributes[name] = value.map(AttributeValue.init) }
            self.attributes[user] = attributes
        case .events(let batch):
            for event in batch {
                if self.attributes[event.userID] == nil { self.attributes[event.userID] = [:] }
                if let id = event.id {
                    guard self.eventIDs[event.userID, default: []].insert(id).inserted else { continue }
                }
                self.events[event.userID, default: []].append(
                    EventRecord(
                        name: event.name,
                        atMs: event.atMs ?? self.nowMs,
                        properties: event.properties.mapValues(AttributeValue.init)
                    )
                )
            }
        case .clock(let t):
            self.nowMs = max(self.nowMs, t)
        case .deleteUser(let user):
            self.attributes[user] = nil
            self.events[user] = nil
            self.eventIDs[user] = nil
        case .putTrait(let name, let text):
            self.traits[name] = try TraitDefinition.parse(text)
        case .putSegment(let name, let text):
            let expression = try SegmentExpression.parse(text)
            if let index = self.segments.firstIndex(where: { $0.name == name }) {
                self.segments[index].expression = expression
            } else {
                self.segments.append((name, expression))
            }
        }
    }

    /// Members of every segment at `now` by the reference interpreter, in dependency order.
    func memberships(at now: Int64) -> [String: Set<String>] {
        var result: [String: Set<String>] = [:]
        for (name, written) in self.segments {
            // The reference reads a trait as its expression written in its place (the contract's meaning).
            let expression = (try? written.expandingTraits(self.traits)) ?? written
            var members: Set<String> = []
            for user in self.attributes.keys {
                let member = ReferenceInterpreter.evaluate(
                    expression,
                    attributes: self.attributes[user] ?? [:],
                    events: self.events[user] ?? [],
                    nowMs: now
                ) { other in result[other]?.contains(user) ?? false }
                if member { members.insert(user) }
            }
            result[name] = members
        }
        return result
    }

    func text(of segment: String) -> String {
        self.segments.first { $0.name == segment }?.expression.canonicalText ?? "?"
    }
}

/// Random segment expressions (as text) over the whole grammar, aimed at the workload's small
/// universe of names so that they are often true, often false, and change with time.
struct WorkloadExpressions: Sendable {
    var attributes = ["plan", "age", "signup_at", "tags", "vip", "`first name`"]
    var events = ["purchase", "page_view", #""add to cart""#]
    var properties = ["amount", "url", "ts", "ok"]
    var windows = ["90m", "12h", "1d", "2d", "7d", "30d"]
    var agos = ["1h", "1d", "3d", "14d", "36h"]
    var timestamps = ["2026-11-03T00:00:00Z", "2026-11-10T12:00:00Z", "2026-10-25T00:00:00Z"]
    var maximumDepth = 2
    /// Saved traits expressions may read (none unless the workload saves some).
    var traits: [String] = []

    func expression(_ r: inout WorkloadRandom, references: [String], depth: Int = 0) -> String {
        if depth < self.maximumDepth, r.chance(0.35) {
            switch r.int(0...3) {
            case 0:
                return (0..<r.int(2...3)).map { _ in self.expression(&r, references: references, depth: depth + 1) }
                    .joined(separator: " or ")
            case 1:
                return (0..<r.int(2...3)).map { _ in
                    "(" + self.expression(&r, references: references, depth: depth + 1) + ")"
                }
                .joined(separator: " and ")
            case 2: return "not (" + self.expression(&r, references: references, depth: depth + 1) + ")"
            default: return "(" + self.expression(&r, references: references, depth: depth + 1) + ")"
            }
        }
        switch r.int(0...25) {
        case 24 where !self.traits.isEmpty, 25 where !self.traits.isEmpty:
            return #"trait("\#(r.pick(self.traits))") \#(r.pick([">=", "<", ">"])) \#(r.pick(["1", "2", "4.5", "10"]))"#
        case 20, 21: return self.sequence(&r)
        case 22, 23:
            let right = r.pick(["2", "age", "0", self.numericAggregate(&r)])
            return "\(self.numericAggregate(&r)) \(r.pick(["+", "-", "*", "/"])) \(right) \(r.pick([">=", "<", "="])) "
                + r.pick(["1", "2", "3.5"])
        case 0: return "exists(\(r.pick(self.attributes)))"
        case 1 where !references.isEmpty, 18 where !references.isEmpty:
            return "in_segment(\"\(r.pick(references))\")"
        case 2:
            return
                "\(r.pick(self.attributes)) \(r.pick(["=", "!=", "in", "not in", "starts_with", "contains"])) \(self.literal(&r))"
        case 3: return "tags contains \(r.pick([#""a""#, #""pro""#, #""b""#]))"
        case 4: return "signup_at \(r.pick(["<", "<=", ">", ">="])) \(self.time(&r))"
        case 5: return "age \(r.pick([">=", "<", "=", "!="])) \(r.pick(["18", "30", "18.5"]))"
        case 6, 7, 13, 14, 15:
            if r.chance(0.6) {
                return "\(self.numericAggregate(&r)) \(r.pick([">=", "<", "="])) \(r.pick(["1", "2"]))"
            }
            return
                "\(self.numericAggregate(&r)) \(r.pick([">=", ">", "=", "<", "<=", "!="])) \(r.pick(["0", "1", "2", "3", "10", "20.5", "age"]))"
        case 8, 16, 17:
            return
                "\(r.pick(["first", "last"]))(\(r.pick(self.events))\(self.filter(&r))) \(r.pick(["<", ">", "<=", ">="])) \(self.time(&r))"
        case 9:
            return
                "\(r.pick(["first", "last"]))(\(r.pick(self.events))\(self.filter(&r))) \(r.pick(["<", ">", "="])) signup_at"
        case 10:
            // Anything against anything: type mismatches, literals against times.
            return
                "\(self.operand(&r)) \(r.pick(["=", "!=", "<", ">=", "in", "contains", "ends_with"])) \(self.operand(&r))"
        case 11: return "plan \(r.pick(["in", "not in"])) [\"pro\", \"free\"] and vip = \(r.pick(["true", "false"]))"
        default:
            return "\(self.numericAggregate(&r)) \(r.pick([">=", ">", "<"])) \(self.numericAggregate(&r))"
        }
    }

    /// A sequence: `then` over 2–3 steps or `not followed by`, steps sometimes filtered, sometimes `in last`.
    func sequence(_ r: inout WorkloadRandom) -> String {
        let notFollowedBy = r.chance(0.4)
        let steps = (0..<(notFollowedBy ? 2 : r.int(2...3))).map { _ in
            "\(r.pick(self.events))" + (r.chance(0.3) ? " where " + self.filterExpression(&r, depth: 1) : "")
        }
        let window = r.pick(["1h", "90m", "12h", "1d"])
        let outer = r.chance(0.4) ? " in last \(r.pick(["2d", "7d"]))" : ""
        return "(" + steps.joined(separator: notFollowedBy ? " not followed by " : " then ")
            + " within \(window)\(outer))"
    }

    func time(_ r: inout WorkloadRandom) -> String {
        switch r.int(0...3) {
        case 0: return "now"
        case 1: return r.pick(self.timestamps)
        default: return "\(r.pick(self.agos)) ago"
        }
    }

    func literal(_ r: inout WorkloadRandom) -> String {
        r.pick([#""pro""#, #""free""#, #""p""#, #""""#, "true", "18", #"["pro", "free"]"#, #"["a"]"#, #""a""#, "1.5"])
    }

    func operand(_ r: inout WorkloadRandom) -> String {
        switch r.int(0...5) {
        case 0: return r.pick(self.attributes)
        case 1: return self.literal(&r)
        case 2: return self.time(&r)
        case 3: return self.numericAggregate(&r)
        case 4: return "\(r.pick(["first", "last"]))(\(r.pick(self.events)))"
        default: return r.pick(self.attributes)
        }
    }

    func numericAggregate(_ r: inout WorkloadRandom) -> String {
        let event = r.pick(self.events)
        let window = r.chance(0.65) ? " within \(r.pick(self.windows))" : ""
        switch r.int(0...4) {
        case 0, 1: return "count(\(event)\(self.filter(&r))\(window))"
        default:
            let kind = r.pick(["sum", "avg", "min", "max"])
            return "\(kind)(\(event).\(r.pick(["amount", "amount", "ts"]))\(self.filter(&r))\(window))"
        }
    }

    func filter(_ r: inout WorkloadRandom) -> String {
        guard r.chance(0.4) else { return "" }
        return " where " + self.filterExpression(&r, depth: 0)
    }

    func filterExpression(_ r: inout WorkloadRandom, depth: Int) -> String {
        if depth < 2, r.chance(0.3) {
            let a = self.filterExpression(&r, depth: depth + 1)
            let b = self.filterExpression(&r, depth: depth + 1)
            return r.pick(["(\(a)) and (\(b))", "(\(a)) or (\(b))", "not (\(a))"])
        }
        switch r.int(0...6) {
        case 0: return "amount \(r.pick([">", "<=", "="])) \(r.pick(["2", "10", "0.5"]))"
        case 1: return "url starts_with \"/p\""
        case 2: return "ok = true"
        case 3: return "exists(\(r.pick(self.properties)))"
        case 4: return "ts \(r.pick([">", "<", ">="])) \(r.pick(["now", "1d ago", "12h ago", "2026-11-05T00:00:00Z"]))"
        case 5: return "url in [\"/pricing\", \"/home\"]"
        default: return "amount != 10"
        }
    }

    /// The durations of the windows and `ago`s, for landing the clock on edges.
    var edgeDurationsMs: [Int64] {
        [90 * workloadMinute, 12 * workloadHour, workloadDay, 2 * workloadDay, 7 * workloadDay, 30 * workloadDay]
            + [workloadHour, workloadDay, 3 * workloadDay, 14 * workloadDay, 36 * workloadHour]
    }
}

/// Produces the steps of a workload from a seed and the model of what was sent so far.
struct WorkloadGenerator: Sendable {
    var expressions = WorkloadExpressions()
    var userIDs: [String] = (0..<28).map { "u\($0 < 10 ? "0" : "")\($0)" } + ["é", "Zoë"]
    /// Segments `s0`…`s(n-1)`; `s<i>` reads only `s<j>` with `j < i`.
    var segmentCount = 8

    /// The name and a fresh expression text for segment `index`.
    func segment(_ index: Int, _ r: inout WorkloadRandom) -> WorkloadStep {
        let references = (0..<index).map { "s\($0)" }
        return .putSegment(name: "s\(index)", text: self.expressions.expression(&r, references: references))
    }

    func value(_ name: String, _ r: inout WorkloadRandom, now: Int64) -> SegmentsValue? {
        if r.chance(0.12) { return nil }
        switch name {
        case "plan": return .string(r.pick(["pro", "free", "p", ""]))
        case "age": return r.chance(0.85) ? .number(r.pick([10, 18, 30, 18.5])) : .string("18")
        case "signup_at":
            let t = now + r.int64(-20...2) * workloadDay + r.int64(-3...3) * workloadHour
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

    func event(_ r: inout WorkloadRandom, user: String, now: Int64) -> SegmentsEvent {
        let name = r.pick(["purchase", "purchase", "page_view", "add to cart", "other"])
        let at: Int64?
        switch r.int(0...6) {
        case 0, 1: at = nil  // the store's clock
        case 2: at = now + r.int64(1...72) * workloadHour  // future-dated
        case 3: at = now - r.int64(1...240) * workloadHour  // late
        case 4: at = now
        default: at = now - r.int64(0...3_600) * workloadSecond
        }
        var properties: [String: SegmentsValue] = [:]
        if r.chance(0.8) {
            // Dyadic amounts: sums are exact in any order.
            properties["amount"] = r.chance(0.9) ? .number(r.pick([0.5, 1, 2.5, 10, 100, -3])) : .string("5")
        }
        if r.chance(0.5) { properties["url"] = .string(r.pick(["/pricing", "/home", "/p"])) }
        if r.chance(0.4) { properties["ok"] = .bool(r.chance(0.5)) }
        if r.chance(0.4) {
            let t = now + r.int64(-72...48) * workloadHour
            properties["ts"] = r.chance(0.7) ? .string(RFC3339.format(t)) : .number(Double(t / 1_000))
        }
        let id: String? = r.chance(0.25) ? "e\(r.int(0...5))" : nil
        return SegmentsEvent(userID: user, name: name, atMs: at, properties: properties, id: id)
    }

    /// Instants after `now` at which some membership may change by time alone: event instants,
    /// window ends, timestamp attributes crossing an `ago`, timestamp literals.
    func edges(after now: Int64, _ model: WorkloadModel) -> [Int64] {
        var out: Set<Int64> = []
        let durations = self.expressions.edgeDurationsMs
        for events in model.events.values {
            for event in events {
                out.insert(event.atMs)
                for d in durations { out.insert(event.atMs + d) }
            }
        }
        for attributes in model.attributes.values {
            let t: Int64?
            switch attributes["signup_at"] {
            case .string(let s)?: t = RFC3339.parse(s)
            case .number(let n)?: t = Int64(n) * 1_000
            case .timestamp(let ms)?: t = ms
            default: t = nil
            }
            if let t { for d in durations { out.insert(t + d) } }
        }
        for text in self.expressions.timestamps { if let t = RFC3339.parse(text) { out.insert(t) } }
        return out.filter { $0 > now && $0 <= now + 10 * workloadDay }.sorted()
    }

    func clockMove(_ r: inout WorkloadRandom, _ model: WorkloadModel) -> WorkloadStep {
        let now = model.nowMs
        switch r.int(0...9) {
        case 0, 1, 2, 3:
            let edges = self.edges(after: now, model)
            guard !edges.isEmpty else { return .clock(toMs: now + workloadHour) }
            // Mostly the next few edges, exactly; sometimes one millisecond before or after.
            let edge = edges[r.int(0...min(edges.count - 1, 3))]
            let jitter = r.pick([0, 0, 0, -1, 1] as [Int64])
            return .clock(toMs: max(now, edge + jitter))
        case 4, 5, 6: return .clock(toMs: now + r.int64(1...3_599) * workloadSecond)
        case 7, 8: return .clock(toMs: now + r.int64(1...36) * workloadHour + r.int64(0...59) * workloadMinute)
        default: return .clock(toMs: now + r.int64(2...12) * workloadDay)
        }
    }

    /// A random data step (profile, events, clock, deletion).
    func dataStep(_ r: inout WorkloadRandom, _ model: WorkloadModel, deletions: Bool = true) -> WorkloadStep {
        switch r.int(0...99) {
        case 0..<28:
            let user = r.pick(self.userIDs)
            var patch: [String: SegmentsValue?] = [:]
            for _ in 0..<r.int(1...3) {
                let name = r.pick(["plan", "age", "signup_at", "tags", "vip", "first name", "unused"])
                patch[name] = .some(self.value(name, &r, now: model.nowMs))
            }
            return .profile(user: user, patch: patch)
        case 28..<62:
            let events = (0..<r.int(1...4)).map { _ in self.event(&r, user: r.pick(self.userIDs), now: model.nowMs) }
            return .events(events)
        case 62..<96:
            return self.clockMove(&r, model)
        default:
            guard deletions, let user = model.users.randomElement(using: &r) else {
                return .clock(toMs: model.nowMs + workloadMinute)
            }
            return .deleteUser(user)
        }
    }

    /// A whole workload of `count` steps: half the segments first, the rest put over existing
    /// data as it goes (`midwayPuts`), one segment changed half way (`update`), a user deleted,
    /// data steps otherwise. Without `midwayPuts` and `update`, every segment is put before any
    /// data, so the evaluator never needs a back-fill; without `deletions`, no user is deleted.
    func steps(
        seed: UInt64,
        count: Int,
        startMs: Int64,
        midwayPuts: Bool = true,
        update: Bool = true,
        deletions: Bool = true,
        traits: Bool = false
    ) throws -> [WorkloadStep] {
        var r = WorkloadRandom(seed: seed)
        var model = WorkloadModel(nowMs: startMs)
        var out: [WorkloadStep] = []
        func add(_ step: WorkloadStep) throws {
            try model.apply(step)
            out.append(step)
        }
        var generator = self
        var traitChanged = !traits
        if traits {
            // Two traits, one reading the other, before any segment; segments read them as `trait("…")`.
            generator.expressions.traits = ["t_spend", "t_mix"]
            try add(.putTrait(name: "t_spend", text: "sum(purchase.amount within 2d)"))
            try add(.putTrait(name: "t_mix", text: #"2 * count(page_view within 1d) + trait("t_spend") / 10"#))
        }
        let initial = midwayPuts ? self.segmentCount / 2 + 1 : self.segmentCount
        for index in 0..<initial { try add(generator.segment(index, &r)) }
        var next = initial
        let spacing = max(1, count / (2 * max(1, self.segmentCount - initial)))
        var changed = !update
        var deleted = !deletions
        while out.count < count {
            let position = out.count
            if next < self.segmentCount, position >= initial + spacing * (next - initial + 1) {
                try add(generator.segment(next, &r))
                next += 1
            } else if !traitChanged, position >= count / 3 {
                // A trait replaced half way: the segments reading it (directly or through t_mix) follow.
                try add(.putTrait(name: "t_spend", text: "max(purchase.amount within 12h) * 2"))
                traitChanged = true
            } else if !changed, position >= count / 2 {
                try add(generator.segment(r.int(1...(self.segmentCount - 1) / 2), &r))
                changed = true
            } else if !deleted, position >= count * 2 / 3, let user = model.users.first {
                try add(.deleteUser(user))
                deleted = true
            } else {
                try add(generator.dataStep(&r, model, deletions: deletions))
            }
        }
        return out
    }
}
