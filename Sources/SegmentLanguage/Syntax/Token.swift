/// A reserved word. Keywords are lower case; `AND` or `Count` are ordinary names.
enum Keyword: String, Hashable, Sendable, CaseIterable {
    case and, or, not, `in`, contains, starts_with, ends_with
    case exists, in_segment, count, sum, avg, min, max, first, last
    case `where`, within, ago, now, `true`, `false`

    static let byName: [String: Keyword] = Dictionary(uniqueKeysWithValues: allCases.map { ($0.rawValue, $0) })

    /// The aggregate this keyword names, if any.
    var aggregateKind: AggregateKind? { AggregateKind(rawValue: rawValue) }
}

/// A punctuation or operator symbol.
enum Symbol: String, Hashable, Sendable {
    case leftParen = "("
    case rightParen = ")"
    case leftBracket = "["
    case rightBracket = "]"
    case comma = ","
    case dot = "."
    case eq = "="
    case eqeq = "=="
    case ne = "!="
    case lt = "<"
    case le = "<="
    case gt = ">"
    case ge = ">="
    case plus = "+"
    case minus = "-"
    case star = "*"
    case slash = "/"
}

/// What a token is.
enum TokenKind: Hashable, Sendable {
    /// A plain identifier that is not a keyword.
    case name(String)
    /// A `backtick quoted` name.
    case quotedName(String)
    case keyword(Keyword)
    case string(String)
    case number(Double)
    case duration(Duration)
    case timestamp(Int64)
    case symbol(Symbol)
    case end
}

/// A token and where it starts.
struct Token: Sendable {
    var kind: TokenKind
    var position: SourcePosition
    /// The source text of the token, for messages.
    var text: String

    /// How a message names this token: `'days'`, `'('`, `"pro"` or `end of input`.
    var quoted: String {
        switch kind {
        case .end: return "end of input"
        case .string: return text.count > 40 ? "a string" : text
        default:
            let short = text.count > 40 ? String(text.prefix(37)) + "…" : text
            return "'\(short)'"
        }
    }

    func isKeyword(_ keyword: Keyword) -> Bool { kind == .keyword(keyword) }
    func isSymbol(_ symbol: Symbol) -> Bool { kind == .symbol(symbol) }
}
