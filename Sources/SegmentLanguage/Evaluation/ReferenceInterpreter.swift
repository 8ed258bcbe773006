/// The contract, executed literally: full recomputation of an expression for one user at one instant.
///
/// This is the test oracle for the incremental evaluator and the naive baseline in benchmarks, so it favours being
/// obviously right over being fast: every aggregate scans every event.
public enum ReferenceInterpreter {
    /// Whether the user is a member at `nowMs`.
    ///
    /// - Parameters:
    ///   - e: The expression.
    ///   - attributes: The user's profile attributes.
    ///   - events: All of the user's events, in any order, including future-dated ones.
    ///   - nowMs: The instant, in Unix milliseconds.
    ///   - isMember: The same user's membership in another segment or static list at the same instant.
    /// - Returns: The value of the expression.
    public static func evaluate(
        _ e: SegmentExpression,
        attributes: [String: AttributeValue],
        events: [EventRecord],
        nowMs: Int64,
        isMember: (String) -> Bool
    ) -> Bool {
        withoutActuallyEscaping(isMember) { isMember in
            Evaluation.reference(attributes: attributes, events: events, nowMs: nowMs, isMember: isMember)
                .truth(e.root)
        }
    }

    /// Evaluates like ``evaluate(_:attributes:events:nowMs:isMember:)`` and says why, sub-expression by
    /// sub-expression.
    ///
    /// Every sub-expression is evaluated (no short-circuit), so the tree shows all of them. A comparison's children
    /// are its non-literal operands with the values they were compared with (an attribute compared with a time is
    /// shown read as a timestamp, or missing).
    ///
    /// - Parameters:
    ///   - e: The expression.
    ///   - attributes: The user's profile attributes.
    ///   - events: All of the user's events.
    ///   - nowMs: The instant, in Unix milliseconds.
    ///   - isMember: The same user's membership in another segment or static list at the same instant.
    ///   - sequenceHolds: Whether a sequence holds, when the caller knows it without the events (the evaluator's
    ///     maintained value, keyed like ``SegmentPlan/aggregates``); `nil`: from `events`.
    /// - Returns: The explanation; its root's result is the expression's value.
    public static func explain(
        _ e: SegmentExpression,
        attributes: [String: AttributeValue],
        events: [EventRecord],
        nowMs: Int64,
        isMember: (String) -> Bool,
        sequenceHolds: ((AggregateKey) -> Bool)? = nil
    ) -> ExplanationNode {
        withoutActuallyEscaping(isMember) { isMember in
            let evaluation = Evaluation.reference(
                attributes: attributes,
                events: events,
                nowMs: nowMs,
                isMember: isMember,
                sequenceHolds: sequenceHolds
            )
            return explain(e.root, evaluation)
        }
    }

    private static func explain(_ node: Node, _ evaluation: Evaluation) -> ExplanationNode {
        let text = Printer.print(node)
        switch node {
        case .or(let items):
            let children = items.map { explain($0, evaluation) }
            return ExplanationNode(
                text: text,
                result: .bool(children.contains { $0.result == .bool(true) }),
                children: children
            )
        case .and(let items):
            let children = items.map { explain($0, evaluation) }
            return ExplanationNode(
                text: text,
                result: .bool(children.allSatisfy { $0.result == .bool(true) }),
                children: children
            )
        case .not(let inner):
            let child = explain(inner, evaluation)
            return ExplanationNode(text: text, result: .bool(child.result != .bool(true)), children: [child])
        case .exists, .inSegment, .sequence:
            return ExplanationNode(text: text, result: .bool(evaluation.truth(node)), children: [])
        case .compare(let left, let op, let right):
            let (result, l, r) = evaluation.comparison(left, op, right)
            var children: [ExplanationNode] = []
            for (operand, value) in [(left, l), (right, r)] {
                switch operand {
                case .literal, .timestamp: continue
                case .name, .now, .ago, .aggregate, .arithmetic, .negate, .trait:
                    let shown: ExplanationNode.Result = value?.attributeValue.map { .value($0) } ?? .missing
                    children.append(ExplanationNode(text: Printer.print(operand), result: shown, children: []))
                }
            }
            return ExplanationNode(text: text, result: .bool(result), children: children)
        }
    }
}

/// Why an expression has the value it has: a sub-expression, what it produced, and the sub-expressions it used.
///
/// ```
/// count(purchase) >= 1 and count(purchase within 30d) = 0 → false
///   count(purchase) >= 1 → true
///     count(purchase) → 2
///   count(purchase within 30d) = 0 → false
///     count(purchase within 30d) → 1
/// ```
public struct ExplanationNode: Sendable, Hashable, CustomStringConvertible {
    /// What a sub-expression produced.
    public enum Result: Sendable, Hashable, CustomStringConvertible {
        /// A condition's truth value.
        case bool(Bool)
        /// An operand's value: an attribute, an aggregate (a number, or a timestamp for first/last) or a time.
        case value(AttributeValue)
        /// An operand with no value: an absent attribute, `avg`/`min`/`max`/`first`/`last` of no events, or an
        /// attribute compared with a time that is not readable as a timestamp.
        case missing

        /// `true`, `false`, `2`, `"pro"`, `2026-11-01T10:00:00Z`, `["a", "b"]` or `missing`.
        public var description: String {
            switch self {
            case .bool(let b): return b ? "true" : "false"
            case .missing: return "missing"
            case .value(let v):
                switch v {
                case .string(let s): return Printer.print(Literal.string(s))
                case .number(let n): return Printer.formatNumber(n)
                case .bool(let b): return b ? "true" : "false"
                case .timestamp(let t): return RFC3339.format(t)
                case .stringList(let items): return Printer.print(Literal.list(items.map(Literal.string)))
                }
            }
        }
    }

    /// The canonical text of the sub-expression.
    public var text: String
    /// What it produced.
    public var result: Result
    /// The sub-expressions it used: the operands of a comparison (literals left out), the parts of `and`/`or`/`not`.
    public var children: [ExplanationNode]

    /// Creates a node.
    ///
    /// - Parameters:
    ///   - text: The canonical text of the sub-expression.
    ///   - result: What it produced.
    ///   - children: The sub-expressions it used.
    public init(text: String, result: Result, children: [ExplanationNode]) {
        self.text = text
        self.result = result
        self.children = children
    }

    /// The tree, one `text → result` line per node, indented two spaces per level.
    public var description: String {
        var out = ""
        render(into: &out, indent: 0)
        return out
    }

    private func render(into out: inout String, indent: Int) {
        if !out.isEmpty { out += "\n" }
        out += String(repeating: " ", count: indent) + text + " → " + result.description
        for child in children { child.render(into: &out, indent: indent + 2) }
    }
}
