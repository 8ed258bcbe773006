@testable import SegmentLanguage

/// Random trees over the whole grammar, for property-based tests.
struct ExpressionGenerator {
    /// Names for attributes (and, inside filters, for properties): plain, keywords and odd ones that need backticks.
    var names = ["plan", "age", "signup_at", "tags", "vip", "count", "first name", "x_1", "Zoë", "AND", "in"]
    var properties = ["amount", "url", "ts", "ok", "not", "load ms"]
    var events = ["purchase", "page_view", "page view", "within", "ü"]
    var segments = ["a", "b", "vip list", "q\"uote"]
    var strings = [
        "", "pro", "DE", "a\"b\\c", "line\nbreak\ttab", "\u{1}", "é", "😀", "/pricing", "2026-10-25T00:00:00Z",
    ]
    var numbers: [Double] = [
        0, 1, -1, 18, 0.5, -2.25, 1e20, 1e-7, 123_456.789, 1e15, 999_999_999_999_999, Double.leastNonzeroMagnitude,
    ]
    /// Durations to draw from.
    var durations = Duration.Unit.allCases.flatMap { unit in
        [1, 2, 30, 90].map { Duration(count: Int64($0), unit: unit) }
    }
    /// Instants for timestamp literals.
    var instants: [Int64] = [0, -1, 1_793_527_200_000, 1_793_527_200_250, -62_167_219_200_000, 253_402_300_799_999]
    var maximumDepth = 5

    func node(_ r: inout SeededRandom, depth: Int = 0, inFilter: Bool = false) -> Node {
        let leaf = depth >= maximumDepth || r.chance(0.35)
        if !leaf {
            switch r.int(0...3) {
            case 0: return .or((0..<r.int(2...3)).map { _ in node(&r, depth: depth + 1, inFilter: inFilter) })
            case 1: return .and((0..<r.int(2...3)).map { _ in node(&r, depth: depth + 1, inFilter: inFilter) })
            case 2: return .not(node(&r, depth: depth + 1, inFilter: inFilter))
            default: break
            }
        }
        switch r.int(0...9) {
        case 0: return .exists(r.pick(inFilter ? properties : names))
        case 1 where !inFilter: return .inSegment(r.pick(segments))
        case 2 where !inFilter && depth < maximumDepth: return .sequence(sequence(&r, depth: depth))
        default:
            let op = r.pick(CompareOp.allCases)
            let left = operand(&r, depth: depth, inFilter: inFilter)
            let right =
                op == .in || op == .notIn
                ? (r.chance(0.8) ? .literal(list(&r, depth: depth)) : operand(&r, depth: depth, inFilter: inFilter))
                : operand(&r, depth: depth, inFilter: inFilter)
            return .compare(left, op, right)
        }
    }

    func operand(_ r: inout SeededRandom, depth: Int, inFilter: Bool) -> Operand {
        switch r.int(0...9) {
        case 0, 1: return .name(r.pick(inFilter ? properties : names))
        case 2: return .literal(literal(&r, depth: depth))
        case 3: return .now
        case 4: return .ago(r.pick(durations))
        case 5: return .timestamp(r.pick(instants))
        case 6 where depth < maximumDepth: return calculation(&r, depth: depth + 1, inFilter: inFilter)
        default:
            guard !inFilter, depth < maximumDepth else { return .name(r.pick(inFilter ? properties : names)) }
            return .aggregate(aggregate(&r, depth: depth))
        }
    }

    /// A calculation over numbers, names, numeric aggregates and calculations, with negations.
    func calculation(_ r: inout SeededRandom, depth: Int, inFilter: Bool) -> Operand {
        func factor() -> Operand {
            switch r.int(0...5) {
            case 0: return .name(r.pick(inFilter ? properties : names))
            case 1: return .literal(.number(r.pick(numbers) * (r.chance(0.2) ? -1 : 1)))
            case 2 where depth < maximumDepth: return calculation(&r, depth: depth + 1, inFilter: inFilter)
            case 3: return .negate(r.chance(0.5) ? .name(r.pick(inFilter ? properties : names)) : factor())
            case 4 where !inFilter: return .trait(r.pick(segments))
            default:
                guard !inFilter else { return .name(r.pick(properties)) }
                var a = aggregate(&r, depth: depth)
                while a.kind == .first || a.kind == .last { a = aggregate(&r, depth: depth) }
                return .aggregate(a)
            }
        }
        return .arithmetic(factor(), r.pick(ArithmeticOp.allCases), factor())
    }

    /// A sequence of 2–4 steps (`then`) or two (`not followed by`), some with filters, some with `in last`.
    func sequence(_ r: inout SeededRandom, depth: Int) -> EventSequence {
        let notFollowedBy = r.chance(0.4)
        let steps = (0..<(notFollowedBy ? 2 : r.int(2...4))).map { _ in
            SequenceStep(
                event: r.pick(events),
                filter: r.chance(0.3) ? node(&r, depth: depth + 2, inFilter: true) : nil
            )
        }
        let window = r.pick(durations)
        var outer = r.chance(0.4) ? r.pick(durations) : nil
        if notFollowedBy, let w = outer, w.milliseconds <= window.milliseconds { outer = nil }
        return EventSequence(kind: notFollowedBy ? .notFollowedBy : .then, steps: steps, window: window, outer: outer)
    }

    func aggregate(_ r: inout SeededRandom, depth: Int) -> Aggregate {
        let kind = r.pick(AggregateKind.allCases.filter { $0 != .sequence })
        return Aggregate(
            kind: kind,
            event: r.pick(events),
            property: kind.takesProperty ? r.pick(properties) : nil,
            filter: r.chance(0.4) ? node(&r, depth: depth + 2, inFilter: true) : nil,
            window: kind.takesWindow && r.chance(0.6) ? r.pick(durations) : nil
        )
    }

    func literal(_ r: inout SeededRandom, depth: Int) -> Literal {
        switch r.int(0...5) {
        case 0, 1: return .string(r.pick(strings))
        case 2, 3: return .number(r.pick(numbers) * (r.chance(0.2) ? -1 : 1))
        case 4: return .bool(r.chance(0.5))
        default: return depth < maximumDepth ? list(&r, depth: depth) : .bool(true)
        }
    }

    func list(_ r: inout SeededRandom, depth: Int) -> Literal {
        .list((0..<r.int(1...3)).map { _ in literal(&r, depth: depth + 1) })
    }
}
