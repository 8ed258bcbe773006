/// A computed trait's expression (version 2): one value per user and instant — a calculation, an aggregate, an
/// attribute — such as `2 * count(page_view within 7d) + 10 * count(purchase within 30d)`.
///
/// A segment reads it as `trait("name")`, which stands for the trait's expression: it compares exactly as the
/// expression written in its place would (``SegmentExpression/expandingTraits(_:)``), so it changes with the
/// user's data and with time like any aggregate.
///
/// ```swift
/// let ltv = try TraitDefinition.parse("sum(purchase.amount)")
/// let vip = try SegmentExpression.parse(#"trait("ltv") > 500"#).expandingTraits(["ltv": ltv])
/// vip.canonicalText   // sum(purchase.amount) > 500
/// ```
public struct TraitDefinition: Sendable, Hashable, CustomStringConvertible {
    /// The checked value.
    let root: Operand
    /// The text it was parsed from (for error positions of catalog checks).
    let source: String
    /// The canonical text.
    public let canonicalText: String
    /// Every `trait("name")` call, in source order, with its position in the source.
    public let referencedTraits: [SegmentReference]

    /// Lexes, parses and checks a trait expression, with the checks and limits of segment expressions.
    ///
    /// - Parameter text: The expression text.
    /// - Returns: The checked definition.
    /// - Throws: ``SegmentLanguageError`` with the position and reason of the first problem (a condition such as
    ///   `count(a) > 1` is refused: a trait is a value).
    public static func parse(_ text: String) throws(SegmentLanguageError) -> TraitDefinition {
        try SegmentExpression.checkSize(text)
        var parser = Parser(text)
        let root = try parser.parseTraitExpression()
        let definition = TraitDefinition(root: root, source: text, references: parser.traitReferences)
        try SegmentExpression.checkCanonicalSize(definition.canonicalText, of: text)
        return definition
    }

    init(root: Operand, source: String, references: [SegmentReference]) {
        self.root = root
        self.source = source
        self.canonicalText = Printer.print(root)
        self.referencedTraits = references
    }

    /// The names of the traits this one reads, distinct, in source order.
    public var referencedTraitNames: [String] {
        var seen: Set<String> = []
        return referencedTraits.compactMap { seen.insert($0.name).inserted ? $0.name : nil }
    }

    /// The canonical text.
    public var description: String { canonicalText }

    /// Tree equality.
    public static func == (lhs: TraitDefinition, rhs: TraitDefinition) -> Bool { lhs.root == rhs.root }

    /// Hashes the tree.
    public func hash(into hasher: inout Hasher) { hasher.combine(root) }
}

extension SegmentExpression {
    /// The expression with every `trait("name")` replaced by that trait's expression (itself expanded), so that
    /// the evaluator and the reference interpreter need no notion of traits. A trait not in `traits` stays, and
    /// is missing when evaluated (the catalog check refuses such references when a segment or trait is saved).
    ///
    /// - Parameter traits: The saved traits by name.
    /// - Returns: The expanded expression (`self` when it reads no trait).
    /// - Throws: ``SegmentLanguageError`` `tooLarge` when the expansion exceeds the 64 KiB limit of an expression,
    ///   `cycle` when traits refer to each other in a loop.
    public func expandingTraits(_ traits: [String: TraitDefinition]) throws(SegmentLanguageError) -> SegmentExpression {
        guard !referencedTraits.isEmpty else { return self }
        var expander = TraitExpander(traits: traits, source: source)
        let root = try expander.expand(root)
        let expanded = SegmentExpression(root: root, source: nil, references: nil)
        try Self.checkCanonicalSize(expanded.canonicalText, of: source)
        return expanded
    }
}

/// Replaces trait references in trees, refusing loops (the catalog refuses them at save time; this keeps a
/// corrupt catalog from recursing without end).
private struct TraitExpander {
    let traits: [String: TraitDefinition]
    let source: String
    var path: [String] = []

    mutating func expand(_ node: Node) throws(SegmentLanguageError) -> Node {
        switch node {
        case .or(let items):
            var out: [Node] = []
            for item in items { out.append(try expand(item)) }
            return .or(out)
        case .and(let items):
            var out: [Node] = []
            for item in items { out.append(try expand(item)) }
            return .and(out)
        case .not(let inner): return .not(try expand(inner))
        case .compare(let l, let op, let r): return .compare(try expand(l), op, try expand(r))
        case .exists, .inSegment, .sequence: return node
        }
    }

    mutating func expand(_ operand: Operand) throws(SegmentLanguageError) -> Operand {
        switch operand {
        case .arithmetic(let l, let op, let r): return .arithmetic(try expand(l), op, try expand(r))
        case .negate(let x): return .negate(try expand(x))
        case .trait(let name):
            guard let definition = traits[name] else { return operand }
            if path.contains(name) {
                throw SegmentLanguageError(
                    .cycle,
                    "trait(\(Printer.print(Literal.string(name)))) makes a cycle: "
                        + (path + [name]).joined(separator: " -> "),
                    at: SourcePosition(line: 1, column: 1, offset: 0),
                    in: source
                )
            }
            path.append(name)
            defer { path.removeLast() }
            return try expand(definition.root)
        case .name, .literal, .now, .ago, .timestamp, .aggregate: return operand
        }
    }
}

extension TraitDefinition {
    /// The trait's value for one user at one instant, by the reference semantics (every aggregate scans every
    /// event), with the traits it reads expanded.
    ///
    /// - Parameters:
    ///   - attributes: The user's profile attributes.
    ///   - events: All of the user's events.
    ///   - nowMs: The instant.
    ///   - traits: The saved traits by name (for the `trait("x")` calls inside this one).
    /// - Returns: The value (`.timestamp` for a time, as `first(...)` gives), or `nil` when missing.
    /// - Throws: ``SegmentLanguageError`` when the expansion is too large or the traits make a cycle.
    public func value(
        attributes: [String: AttributeValue],
        events: [EventRecord],
        nowMs: Int64,
        traits: [String: TraitDefinition]
    ) throws(SegmentLanguageError) -> AttributeValue? {
        var expander = TraitExpander(traits: traits, source: source)
        let root = try expander.expand(self.root)
        let evaluation = Evaluation.reference(attributes: attributes, events: events, nowMs: nowMs) { _ in false }
        return evaluation.value(root)?.attributeValue
    }
}
