/// Recursive-descent parser over the token list, with every check that needs no catalog.
///
/// Recursion is bounded by the nesting limit: each `(`, `not`, call parenthesis and list bracket adds one level, the
/// parser refuses level 65 before descending, and `and`/`or` chains and runs of `not` are parsed by loops.
struct Parser {
    /// The most nesting levels an expression may have.
    static let maximumDepth = 64
    /// The most UTF-8 bytes an expression (and its canonical text) may have.
    static let maximumBytes = 65_536

    private let source: String
    private let tokens: [Token]
    private let lexError: SegmentLanguageError?
    private var index = 0
    private var depth = 0
    /// Inside a `where` filter: names are event properties, aggregates and `in_segment` are refused.
    private var inFilter = false
    private(set) var references: [SegmentReference] = []
    /// Every `trait("name")` call, in source order.
    private(set) var traitReferences: [SegmentReference] = []

    init(_ source: String) {
        self.source = source
        (tokens, lexError) = Lexer.tokenize(source)
    }

    // MARK: - Tokens

    /// The current token; at a lexing error, that error is thrown instead.
    private func current() throws(SegmentLanguageError) -> Token {
        if index < tokens.count { return tokens[index] }
        if let lexError { throw lexError }
        return tokens[tokens.count - 1]
    }

    /// The token after the current one, or `nil` when it is a lexing error.
    private func following() -> Token? {
        index + 1 < tokens.count ? tokens[index + 1] : nil
    }

    private mutating func advance() { index += 1 }

    private func fail(
        _ code: SegmentLanguageError.Code,
        _ reason: String,
        at token: Token
    ) -> SegmentLanguageError {
        SegmentLanguageError(code, reason, at: token.position, in: source)
    }

    private func expected(_ what: String, at token: Token) -> SegmentLanguageError {
        var reason = "expected \(what), found \(token.quoted)"
        if case .name(let word) = token.kind, Keyword(rawValue: word.lowercased()) != nil {
            reason += " (keywords are lower case)"
        }
        return fail(.syntax, reason, at: token)
    }

    private mutating func expect(_ symbol: Symbol, _ what: String) throws(SegmentLanguageError) {
        let token = try current()
        guard token.isSymbol(symbol) else { throw expected(what, at: token) }
        advance()
    }

    private mutating func enter(_ token: Token) throws(SegmentLanguageError) {
        depth += 1
        if depth > Self.maximumDepth {
            throw fail(.tooDeep, "nesting is deeper than \(Self.maximumDepth) levels", at: token)
        }
    }

    private mutating func leave() { depth -= 1 }

    // MARK: - Entry

    /// Parses a whole expression.
    mutating func parseExpression() throws(SegmentLanguageError) -> Node {
        let first = try current()
        if first.kind == .end { throw fail(.syntax, "expected an expression, found end of input", at: first) }
        let node = try parseOr()
        let token = try current()
        guard token.kind == .end else {
            if token.isKeyword(.where) || token.isKeyword(.within) {
                throw fail(
                    .notAnEvent,
                    "'\(token.text)' belongs inside count, sum, avg, min, max, first or last, after the event name",
                    at: token
                )
            }
            if token.isSymbol(.rightParen) { throw fail(.syntax, "unbalanced ')'", at: token) }
            throw expected("'and', 'or' or end of input", at: token)
        }
        return node
    }

    /// Parses a whole trait expression: one value (a calculation, an aggregate, a name, a literal…).
    mutating func parseTraitExpression() throws(SegmentLanguageError) -> Operand {
        let first = try current()
        if first.kind == .end { throw fail(.syntax, "expected a value, found end of input", at: first) }
        let value = try parseValue(role: "a value (a number, a name, an aggregate or a calculation)")
        let token = try current()
        guard token.kind == .end else {
            if token.isSymbol(.rightParen) { throw fail(.syntax, "unbalanced ')'", at: token) }
            throw expected("an arithmetic operator or end of input (a trait is a value, not a condition)", at: token)
        }
        return value
    }

    // MARK: - Boolean structure

    private mutating func parseOr() throws(SegmentLanguageError) -> Node {
        var items = [try parseAnd()]
        while try current().isKeyword(.or) {
            advance()
            items.append(try parseAnd())
        }
        return items.count == 1 ? items[0] : .or(items)
    }

    private mutating func parseAnd() throws(SegmentLanguageError) -> Node {
        var items = [try parseUnary()]
        while try current().isKeyword(.and) {
            advance()
            items.append(try parseUnary())
        }
        return items.count == 1 ? items[0] : .and(items)
    }

    private mutating func parseUnary() throws(SegmentLanguageError) -> Node {
        // A run of `not` is a loop, not recursion.
        var nots = 0
        while true {
            let token = try current()
            guard token.isKeyword(.not) else { break }
            if following()?.isKeyword(.in) == true {
                throw fail(.syntax, "expected a value before 'not in'", at: token)
            }
            try enter(token)
            nots += 1
            advance()
        }
        var node = try parsePrimary()
        for _ in 0..<nots {
            node = .not(node)
            leave()
        }
        return node
    }

    private mutating func parsePrimary() throws(SegmentLanguageError) -> Node {
        let token = try current()
        if token.isSymbol(.leftParen) {
            // A group is a condition (`(a or b)`) or the start of a calculation (`(count(a) + 1) * 2 > 3`): tried
            // in that order; when both fail, the error that got further is the one reported.
            let saved = (index, depth, references, traitReferences, inFilter)
            let conditionError: SegmentLanguageError
            do {
                return try parseGroup(token)
            } catch {
                conditionError = error
            }
            (index, depth, references, traitReferences, inFilter) = saved
            do {
                return try parseComparison()
            } catch {
                let further = (error.line, error.column) > (conditionError.line, conditionError.column)
                throw further ? error : conditionError
            }
        }
        if token.isKeyword(.exists) { return try parseExists(token) }
        if token.isKeyword(.in_segment) { return try parseInSegment(token) }
        if startsStep(token) { return try parseSequence(token) }
        return try parseComparison()
    }

    /// `( condition )`.
    private mutating func parseGroup(_ open: Token) throws(SegmentLanguageError) -> Node {
        try enter(open)
        advance()
        let inner = try parseOr()
        let close = try current()
        guard close.isSymbol(.rightParen) else { throw expected("')' or a boolean operator", at: close) }
        advance()
        leave()
        return inner
    }

    /// `value op value`.
    private mutating func parseComparison() throws(SegmentLanguageError) -> Node {
        let left = try parseValue(role: "a condition")
        let opToken = try current()
        let op: CompareOp
        switch opToken.kind {
        case .symbol(.eq), .symbol(.eqeq): op = .eq
        case .symbol(.ne): op = .ne
        case .symbol(.lt): op = .lt
        case .symbol(.le): op = .le
        case .symbol(.gt): op = .gt
        case .symbol(.ge): op = .ge
        case .keyword(.in): op = .in
        case .keyword(.contains): op = .contains
        case .keyword(.starts_with): op = .startsWith
        case .keyword(.ends_with): op = .endsWith
        case .keyword(.not):
            guard following()?.isKeyword(.in) == true else {
                throw expected("'in' after 'not'", at: following() ?? opToken)
            }
            advance()
            op = .notIn
        case .keyword(.where), .keyword(.within):
            throw fail(
                .notAnEvent,
                "'\(opToken.text)' applies only to the event inside count, sum, avg, min, max, first or last",
                at: opToken
            )
        case .symbol(.dot):
            throw fail(
                .notAnEvent,
                "a property can only be read from the event of sum, avg, min or max, e.g. sum(purchase.amount)",
                at: opToken
            )
        default:
            var what = "a comparison operator"
            if case .name = left { what += " after the name (write 'x = true' for a bool)" }
            throw expected(what, at: opToken)
        }
        advance()
        let right = try parseValue(role: "a value after '\(op.rawValue)'")
        return .compare(left, op, right)
    }

    private mutating func parseExists(_ keyword: Token) throws(SegmentLanguageError) -> Node {
        advance()
        try enter(try current())
        try expect(.leftParen, "'(' after 'exists'")
        let token = try current()
        let name: String
        switch token.kind {
        case .name(let n), .quotedName(let n): name = n
        case .string:
            throw fail(.syntax, "exists takes a name, not a string: write exists(`name`) for unusual names", at: token)
        default: throw expected("an attribute name", at: token)
        }
        advance()
        try expect(.rightParen, "')' after the name in exists(...)")
        leave()
        return .exists(name)
    }

    private mutating func parseInSegment(_ keyword: Token) throws(SegmentLanguageError) -> Node {
        if inFilter { throw fail(.invalidFilter, "in_segment is not allowed inside 'where'", at: keyword) }
        advance()
        try enter(try current())
        try expect(.leftParen, "'(' after 'in_segment'")
        let token = try current()
        guard case .string(let name) = token.kind else {
            throw expected("a segment name in double quotes", at: token)
        }
        advance()
        try expect(.rightParen, "')' after the segment name")
        leave()
        references.append(SegmentReference(name: name, position: keyword.position))
        return .inSegment(name)
    }

    // MARK: - Operands

    private mutating func parseOperand(role: String) throws(SegmentLanguageError) -> Operand {
        let token = try current()
        switch token.kind {
        case .name(let name):
            if name == "trait", following()?.isSymbol(.leftParen) == true { return try parseTrait(token) }
            if following()?.isSymbol(.leftParen) == true {
                var reason = "unknown function '\(name)'"
                if let keyword = Keyword(rawValue: name.lowercased()),
                    keyword.aggregateKind != nil
                        || keyword == .exists || keyword == .in_segment
                {
                    reason += " (keywords are lower case: \(keyword.rawValue))"
                } else {
                    reason +=
                        "; the functions are count, sum, avg, min, max, first, last, exists, in_segment and trait"
                }
                throw fail(.unknownFunction, reason, at: token)
            }
            advance()
            return .name(name)
        case .quotedName(let name):
            advance()
            return .name(name)
        case .string(let s):
            advance()
            return .literal(.string(s))
        case .number(let n):
            advance()
            return .literal(.number(n))
        case .keyword(.true):
            advance()
            return .literal(.bool(true))
        case .keyword(.false):
            advance()
            return .literal(.bool(false))
        case .symbol(.leftBracket):
            return .literal(try parseList())
        case .keyword(.now):
            advance()
            return .now
        case .timestamp(let ms):
            advance()
            return .timestamp(ms)
        case .duration(let d):
            advance()
            let next = try current()
            guard next.isKeyword(.ago) else { throw expected("'ago' after '\(token.text)'", at: next) }
            advance()
            return .ago(d)
        case .keyword(let keyword):
            if let kind = keyword.aggregateKind { return .aggregate(try parseAggregate(kind, token)) }
            if keyword == .exists || keyword == .in_segment {
                throw fail(.syntax, "\(keyword.rawValue)(...) is a condition, not a value", at: token)
            }
            throw expected(role, at: token)
        default:
            throw expected(role, at: token)
        }
    }

    private mutating func parseList() throws(SegmentLanguageError) -> Literal {
        let open = try current()
        try enter(open)
        advance()
        var items: [Literal] = []
        while true {
            let token = try current()
            switch token.kind {
            case .string(let s): items.append(.string(s))
            case .number(let n): items.append(.number(n))
            case .keyword(.true): items.append(.bool(true))
            case .keyword(.false): items.append(.bool(false))
            case .symbol(.leftBracket): items.append(try parseList())
            case .symbol(.rightBracket) where items.isEmpty:
                throw fail(.syntax, "a list needs at least one value", at: token)
            default: throw expected("a string, number, true, false or list in the list", at: token)
            }
            if case .symbol(.leftBracket) = token.kind {} else { advance() }
            let separator = try current()
            if separator.isSymbol(.comma) {
                advance()
                continue
            }
            guard separator.isSymbol(.rightBracket) else { throw expected("',' or ']'", at: separator) }
            advance()
            leave()
            return .list(items)
        }
    }

    private mutating func parseAggregate(
        _ kind: AggregateKind,
        _ keyword: Token
    ) throws(SegmentLanguageError) -> Aggregate {
        if inFilter {
            throw fail(
                .invalidFilter,
                "aggregates like \(kind.rawValue)(...) are not allowed inside 'where'",
                at: keyword
            )
        }
        advance()
        try enter(try current())
        try expect(.leftParen, "'(' after '\(kind.rawValue)'")
        let eventToken = try current()
        let event: String
        switch eventToken.kind {
        case .name(let n), .quotedName(let n), .string(let n): event = n
        case .keyword(let k) where k.aggregateKind != nil:
            throw fail(.notAnEvent, "\(kind.rawValue)(...) takes an event name, not an aggregate", at: eventToken)
        case .symbol(.rightParen), .end:
            throw fail(.notAnEvent, "\(kind.rawValue)(...) needs an event name", at: eventToken)
        default:
            throw fail(
                .notAnEvent,
                "\(kind.rawValue)(...) takes an event name, found \(eventToken.quoted)",
                at: eventToken
            )
        }
        advance()
        var property: String?
        let afterEvent = try current()
        if kind.takesProperty {
            guard afterEvent.isSymbol(.dot) else {
                throw fail(
                    .notAnEvent,
                    "\(kind.rawValue) needs an event and a property: write \(kind.rawValue)(EVENT.PROPERTY), "
                        + "e.g. \(kind.rawValue)(purchase.amount)",
                    at: eventToken
                )
            }
            advance()
            let propertyToken = try current()
            switch propertyToken.kind {
            case .name(let n), .quotedName(let n): property = n
            default: throw expected("a property name after '.'", at: propertyToken)
            }
            advance()
        } else if afterEvent.isSymbol(.dot) {
            throw fail(
                .syntax,
                "\(kind.rawValue) reads no property: write \(kind.rawValue)(\(eventToken.text) ...)",
                at: afterEvent
            )
        }
        let filter = try parseFilter()
        var window: Duration?
        let windowToken = try current()
        if windowToken.isKeyword(.within) {
            guard kind.takesWindow else {
                throw fail(
                    .syntax,
                    "\(kind.rawValue)(...) takes no window; compare it with a time instead, "
                        + "e.g. \(kind.rawValue)(\(eventToken.text)) > 30d ago",
                    at: windowToken
                )
            }
            advance()
            window = try parseDuration(after: "'within'")
        }
        let close = try current()
        guard close.isSymbol(.rightParen) else {
            var what = "')'"
            if filter == nil {
                what = "'where', " + (kind.takesWindow ? "'within' or " : "") + "')'"
            } else if window == nil && kind.takesWindow {
                what = "'within' or ')'"
            }
            if close.isKeyword(.where), filter != nil || window != nil {
                throw fail(.syntax, "'where' must come before 'within' and only once", at: close)
            }
            throw expected(what + " in \(kind.rawValue)(...)", at: close)
        }
        advance()
        leave()
        return Aggregate(kind: kind, event: event, property: property, filter: filter, window: window)
    }
}

extension Parser {
    /// The most steps a sequence may have.
    static let maximumSteps = 8

    /// A duration token (`7d`), with a hint when the unit is written apart from the number.
    private mutating func parseDuration(after what: String) throws(SegmentLanguageError) -> Duration {
        let durationToken = try current()
        guard case .duration(let d) = durationToken.kind else {
            var error = expected("a duration after \(what)", at: durationToken)
            if case .number = durationToken.kind, case .name(let unit)? = following()?.kind {
                error.reason +=
                    "; write the unit right after the number, e.g. \(durationToken.text)"
                    + (unit.first.map { Duration.Unit(rawValue: String($0)) != nil } == true
                        ? String(unit.prefix(1)) : "d")
            }
            throw error
        }
        advance()
        return d
    }

    /// Whether `token` starts a sequence step: an event name followed by `where`, `then` or `not followed`.
    /// `then`, `followed` and `by` are words only in that place, so attributes keep those names.
    private func startsStep(_ token: Token) -> Bool {
        switch token.kind {
        case .name, .quotedName, .string: break
        default: return false
        }
        guard let next = following() else { return false }
        if next.isKeyword(.where) || next.kind == .name("then") { return true }
        return next.isKeyword(.not) && index + 2 < tokens.count && tokens[index + 2].kind == .name("followed")
    }

    /// `step then step … within D [in last W]` or `step not followed by step within D [in last W]`.
    private mutating func parseSequence(_ first: Token) throws(SegmentLanguageError) -> Node {
        if inFilter {
            throw fail(.invalidFilter, "a sequence ('a then b within D') is not allowed inside 'where'", at: first)
        }
        try enter(first)
        let whereToken = following()
        var steps = [try parseStep()]
        var kind = EventSequence.Kind.then
        while true {
            let token = try current()
            if token.kind == .name("then") {
                if kind == .notFollowedBy {
                    throw fail(
                        .syntax,
                        "'not followed by' takes exactly one step on each side; 'then' cannot come after it",
                        at: token
                    )
                }
                advance()
            } else if token.isKeyword(.not), following()?.kind == .name("followed") {
                if steps.count > 1 {
                    throw fail(
                        .syntax,
                        "'not followed by' takes exactly one step on each side: write 'a not followed by b within D'",
                        at: token
                    )
                }
                advance()
                advance()
                guard try current().kind == .name("by") else {
                    throw expected("'by' after 'not followed'", at: try current())
                }
                advance()
                kind = .notFollowedBy
            } else {
                break
            }
            if steps.count == Self.maximumSteps {
                throw fail(.syntax, "a sequence has at most \(Self.maximumSteps) steps", at: token)
            }
            steps.append(try parseStep())
        }
        let windowToken = try current()
        if steps.count == 1 {
            // `purchase where amount > 5 within 7d` (a forgotten `count(`) is not a sequence either.
            if let whereToken, whereToken.isKeyword(.where) {
                throw fail(
                    .notAnEvent,
                    "'where' belongs inside count, sum, avg, min, max, first or last after the event name, "
                        + "or on a step of a sequence ('a where x = 1 then b within 1h')",
                    at: whereToken
                )
            }
            throw expected("'then' or 'not followed by' after the first step of a sequence", at: windowToken)
        }
        guard windowToken.isKeyword(.within) else {
            throw fail(
                .syntax,
                "a sequence needs a window after its last step, found \(windowToken.quoted): "
                    + "write e.g. 'add_to_cart then purchase within 1h'",
                at: windowToken
            )
        }
        advance()
        let window = try parseDuration(after: "'within'")
        var outer: Duration?
        let inToken = try current()
        if inToken.isKeyword(.in), following()?.isKeyword(.last) == true {
            advance()
            advance()
            let outerToken = try current()
            let w = try parseDuration(after: "'in last'")
            if kind == .notFollowedBy, w.milliseconds <= window.milliseconds {
                throw fail(
                    .invalidDuration,
                    "'in last \(outerToken.text)' is not longer than the wait of \(window.count)\(window.unit.rawValue): "
                        + "the latest step would have to be both that old and younger than it, so it never holds",
                    at: outerToken
                )
            }
            outer = w
        }
        leave()
        return .sequence(EventSequence(kind: kind, steps: steps, window: window, outer: outer))
    }

    /// An optional `where` filter of an aggregate or a step: a condition on the event's properties.
    private mutating func parseFilter() throws(SegmentLanguageError) -> Node? {
        guard try current().isKeyword(.where) else { return nil }
        advance()
        let conditionToken = try current()
        if conditionToken.kind == .end || conditionToken.isSymbol(.rightParen) {
            throw expected("a condition after 'where'", at: conditionToken)
        }
        let saved = inFilter
        inFilter = true
        defer { inFilter = saved }
        return try parseOr()
    }

    /// One step: an event name and an optional `where` filter.
    private mutating func parseStep() throws(SegmentLanguageError) -> SequenceStep {
        let token = try current()
        let event: String
        switch token.kind {
        case .name(let n), .quotedName(let n), .string(let n): event = n
        default: throw expected("an event name for the next step of the sequence", at: token)
        }
        advance()
        let filter = try parseFilter()
        return SequenceStep(event: event, filter: filter)
    }
}

extension Parser {
    // MARK: - Arithmetic (version 2)

    /// `term (("+" | "-") term)*`, or a single operand of any kind.
    private mutating func parseValue(role: String) throws(SegmentLanguageError) -> Operand {
        var left = try parseTerm(role: role, first: nil)
        while true {
            let token = try current()
            let op: ArithmeticOp
            var first: Operand?
            if token.isSymbol(.plus) {
                op = .add
            } else if token.isSymbol(.minus) {
                op = .subtract
            } else if case .number(let n) = token.kind, token.text.hasPrefix("-") {
                // `x -1` and `count(a)-1`: the lexer read a negative number; it is a subtraction.
                op = .subtract
                first = .literal(.number(-n))
            } else {
                return left
            }
            try checkArithmetic(left, op, at: token)
            advance()
            let right = try parseTerm(role: "a number after '\(op.rawValue)'", first: first)
            try checkArithmetic(right, op, at: token)
            left = .arithmetic(left, op, right)
        }
    }

    /// `factor (("*" | "/") factor)*`, starting from `first` when the caller has read the first factor.
    private mutating func parseTerm(role: String, first: Operand?) throws(SegmentLanguageError) -> Operand {
        var left: Operand
        if let first { left = first } else { left = try parseFactor(role: role) }
        while true {
            let token = try current()
            let op: ArithmeticOp
            if token.isSymbol(.star) {
                op = .multiply
            } else if token.isSymbol(.slash) {
                op = .divide
            } else {
                return left
            }
            try checkArithmetic(left, op, at: token)
            advance()
            let right = try parseFactor(role: "a number after '\(op.rawValue)'")
            try checkArithmetic(right, op, at: token)
            left = .arithmetic(left, op, right)
        }
    }

    /// `"-" factor | "(" value ")" | operand`.
    private mutating func parseFactor(role: String) throws(SegmentLanguageError) -> Operand {
        let token = try current()
        if token.isSymbol(.minus) {
            try enter(token)
            advance()
            let next = try current()
            let result: Operand
            if case .number(let n) = next.kind {
                advance()
                result = .literal(.number(-n))
            } else {
                let inner = try parseFactor(role: "a number after '-'")
                try checkArithmetic(inner, .subtract, at: token)
                result = .negate(inner)
            }
            leave()
            return result
        }
        if token.isSymbol(.leftParen) {
            try enter(token)
            advance()
            let inner = try parseValue(role: role)
            let close = try current()
            guard close.isSymbol(.rightParen) else { throw expected("')' or an arithmetic operator", at: close) }
            advance()
            leave()
            return inner
        }
        return try parseOperand(role: role)
    }

    /// `trait("name")`.
    private mutating func parseTrait(_ keyword: Token) throws(SegmentLanguageError) -> Operand {
        if inFilter { throw fail(.invalidFilter, "trait(...) is not allowed inside 'where'", at: keyword) }
        advance()
        try enter(try current())
        try expect(.leftParen, "'(' after 'trait'")
        let token = try current()
        guard case .string(let name) = token.kind else { throw expected("a trait name in double quotes", at: token) }
        advance()
        try expect(.rightParen, "')' after the trait name")
        leave()
        traitReferences.append(SegmentReference(name: name, position: keyword.position))
        return .trait(name)
    }

    /// Refuses an operand that can never be a number in a calculation.
    private func checkArithmetic(
        _ operand: Operand,
        _ op: ArithmeticOp,
        at token: Token
    ) throws(SegmentLanguageError) {
        let what: String
        switch operand {
        case .name, .arithmetic, .negate, .literal(.number), .trait: return
        case .aggregate(let a) where a.kind != .first && a.kind != .last: return
        case .aggregate(let a): what = "\(a.kind.rawValue)(...) is a time"
        case .literal(.string): what = "a string is not a number"
        case .literal(.bool): what = "true and false are not numbers"
        case .literal(.list): what = "a list is not a number"
        case .now, .ago, .timestamp: what = "a time is not a number"
        }
        throw fail(.syntax, "'\(op.rawValue)' works on numbers, and \(what)", at: token)
    }
}

/// An `in_segment("name")` call and where it is in the source.
public struct SegmentReference: Sendable, Hashable {
    /// The referenced segment or static list.
    public var name: String
    /// The position of the `in_segment` keyword.
    public var position: SourcePosition

    /// Creates a reference.
    ///
    /// - Parameters:
    ///   - name: The referenced segment or static list.
    ///   - position: Where the `in_segment` call starts.
    public init(name: String, position: SourcePosition) {
        self.name = name
        self.position = position
    }
}
