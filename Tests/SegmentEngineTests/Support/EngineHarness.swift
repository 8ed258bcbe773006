import SegmentLanguage

@testable import SegmentEngine

let msSecond: Int64 = 1_000
let msHour: Int64 = 3_600_000
let msDay: Int64 = 86_400_000
/// 2026-01-01T00:00:00Z.
let baseMs: Int64 = 1_767_225_600_000

/// Drives a `MembershipEngine` like the daemon does: one sequence number per change, the transition log kept.
final class EngineHarness {
    let engine: MembershipEngine
    private(set) var seq: UInt64 = 0
    private(set) var log: [MembershipTransition] = []

    init(nowMs: Int64 = baseMs) {
        engine = MembershipEngine(nowMs: nowMs)
    }

    func nextSeq() -> UInt64 {
        seq += 1
        return seq
    }

    @discardableResult
    func record(_ transitions: [MembershipTransition]) -> [MembershipTransition] {
        log += transitions
        return transitions
    }

    @discardableResult
    func put(_ name: String, _ text: String) throws -> PutSegmentOutcome {
        let outcome = engine.putSegment(name: name, expression: try SegmentExpression.parse(text), seq: nextSeq())
        record(outcome.transitions)
        return outcome
    }

    @discardableResult
    func deleteSegment(_ name: String) -> [MembershipTransition] {
        record(engine.deleteSegment(name: name, seq: nextSeq()))
    }

    @discardableResult
    func profile(_ user: String, _ set: [String: AttributeValue], removed: [String] = []) -> [MembershipTransition] {
        record(engine.upsertProfile(userID: user, set: set, removed: removed, seq: nextSeq()))
    }

    @discardableResult
    func track(
        _ user: String,
        _ name: String,
        at: Int64? = nil,
        _ properties: [String: AttributeValue] = [:]
    ) -> [MembershipTransition] {
        let event = EventRecord(name: name, atMs: at ?? engine.nowMs, properties: properties)
        return record(engine.addEvents([(user, event)], seq: nextSeq()))
    }

    @discardableResult
    func advance(to t: Int64) -> [MembershipTransition] {
        record(engine.advance(to: t))
    }

    @discardableResult
    func deleteUser(_ user: String) -> [MembershipTransition] {
        record(engine.deleteUser(userID: user, seq: nextSeq()))
    }

    func members(_ segment: String) -> [String] { engine.members(of: segment) }
}

func entered(_ segment: String, _ user: String, _ at: Int64) -> MembershipTransition {
    MembershipTransition(segment: segment, userID: user, kind: .enter, atMs: at)
}

func exited(_ segment: String, _ user: String, _ at: Int64) -> MembershipTransition {
    MembershipTransition(segment: segment, userID: user, kind: .exit, atMs: at)
}
