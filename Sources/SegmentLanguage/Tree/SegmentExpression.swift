/// A parsed and checked segment expression.
///
/// Create one with ``parse(_:)``; it has passed every check that needs no catalog. Two expressions are equal when
/// their trees are equal: source positions, comments, spacing, `==` versus `=` and redundant parentheses do not
/// count, so `SegmentExpression.parse(e.canonicalText) == e` always holds.
///
/// ```swift
/// let e = try SegmentExpression.parse(#"plan="pro"  and  count(purchase within 30d)>=1 # buyers"#)
/// e.canonicalText   // plan = "pro" and count(purchase within 30d) >= 1
/// ```
public struct SegmentExpression: Sendable, Hashable, CustomStringConvertible {
    /// The checked tree.
    let root: Node
    /// The text it was parsed from (for error positions of catalog checks).
    let source: String
    /// The canonical text, printed once at parse time (it is also size-checked there).
    public let canonicalText: String
    /// Every `in_segment` call, in source order, with its position in ``source``.
    public let referencedSegments: [SegmentReference]

    /// Every `trait("name")` call, in source order, with its position in ``source`` (version 2).
    public let referencedTraits: [SegmentReference]

    init(
        root: Node,
        source: String? = nil,
        references: [SegmentReference]? = nil,
        traitReferences: [SegmentReference]? = nil
    ) {
        self.root = root
        let canonical = Printer.print(root)
        self.canonicalText = canonical
        self.source = source ?? canonical
        // Built from a tree: positions are unknown.
        let nowhere = SourcePosition(line: 1, column: 1, offset: 0)
        if let references {
            self.referencedSegments = references
        } else {
            var names: [String] = []
            Self.collectSegments(root, into: &names)
            self.referencedSegments = names.map { SegmentReference(name: $0, position: nowhere) }
        }
        if let traitReferences {
            self.referencedTraits = traitReferences
        } else {
            var names: [String] = []
            Self.collectTraits(root, into: &names)
            self.referencedTraits = names.map { SegmentReference(name: $0, position: nowhere) }
        }
    }

    /// Lexes, parses and checks an expression.
    ///
    /// Checks syntax, unknown functions, filters, properties and windows on something that is not the event of an
    /// aggregate, aggregates and `in_segment` inside `where`, zero or overflowing durations, malformed numbers,
    /// strings and timestamps, the 64 KiB size limit (of the text and of its canonical form) and the 64-level
    /// nesting limit. Never recurses more than the nesting limit allows, whatever the input.
    ///
    /// - Parameter text: The expression text.
    /// - Returns: The checked expression.
    /// - Throws: ``SegmentLanguageError`` with the position and reason of the first problem.
    public static func parse(_ text: String) throws(SegmentLanguageError) -> SegmentExpression {
        try checkSize(text)
        var parser = Parser(text)
        let root = try parser.parseExpression()
        let expression = SegmentExpression(
            root: root,
            source: text,
            references: parser.references,
            traitReferences: parser.traitReferences
        )
        try checkCanonicalSize(expression.canonicalText, of: text)
        return expression
    }

    /// Refuses a text beyond the 64 KiB limit, pointing at the first character past it.
    static func checkSize(_ text: String) throws(SegmentLanguageError) {
        let size = text.utf8.count
        guard size > Parser.maximumBytes else { return }
        var line = 1
        var column = 1
        var offset = 0
        for scalar in text.unicodeScalars {
            if offset >= Parser.maximumBytes { break }
            offset += UTF8.width(scalar)
            if scalar == "\n" {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        throw SegmentLanguageError(
            .tooLarge,
            "expression is \(size) bytes; the limit is \(Parser.maximumBytes) (64 KiB)",
            at: SourcePosition(line: line, column: column, offset: offset),
            in: text
        )
    }

    /// Refuses a canonical text beyond the 64 KiB limit.
    static func checkCanonicalSize(_ canonical: String, of text: String) throws(SegmentLanguageError) {
        let canonicalSize = canonical.utf8.count
        guard canonicalSize > Parser.maximumBytes else { return }
        throw SegmentLanguageError(
            .tooLarge,
            "expression is \(canonicalSize) bytes when written canonically; "
                + "the limit is \(Parser.maximumBytes) (64 KiB)",
            at: SourcePosition(line: 1, column: 1, offset: 0),
            in: text
        )
    }

    /// The canonical text.
    public var description: String { canonicalText }

    /// The names of the segments and lists this expression refers to with `in_segment`, distinct, in source order.
    public var referencedSegmentNames: [String] {
        var seen: Set<String> = []
        return referencedSegments.compactMap { seen.insert($0.name).inserted ? $0.name : nil }
    }

    /// Tree equality; see the type's documentation.
    public static func == (lhs: SegmentExpression, rhs: SegmentExpression) -> Bool { lhs.root == rhs.root }

    /// Hashes the tree.
    public func hash(into hasher: inout Hasher) { hasher.combine(root) }

    private static func collectSegments(_ node: Node, into names: inout [String]) {
        switch node {
        case .or(let items), .and(let items): for item in items { collectSegments(item, into: &names) }
        case .not(let inner): collectSegments(inner, into: &names)
        case .inSegment(let name): names.append(name)
        case .compare, .exists, .sequence: break
        }
    }

    private static func collectTraits(_ node: Node, into names: inout [String]) {
        switch node {
        case .or(let items), .and(let items): for item in items { collectTraits(item, into: &names) }
        case .not(let inner): collectTraits(inner, into: &names)
        case .compare(let l, _, let r):
            for operand in [l, r] { operand.forEachOperand { if case .trait(let name) = $0 { names.append(name) } } }
        case .inSegment, .exists, .sequence: break
        }
    }

    /// The names of the traits this expression reads, distinct, in source order.
    public var referencedTraitNames: [String] {
        var seen: Set<String> = []
        return referencedTraits.compactMap { seen.insert($0.name).inserted ? $0.name : nil }
    }
}
