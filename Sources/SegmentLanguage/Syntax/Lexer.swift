/// Splits expression text into tokens.
///
/// Works on UTF-8 bytes. Newlines only occur between tokens (strings and backtick names cannot span lines), so the
/// lexer tracks lines as it skips whitespace and computes columns incrementally, in Unicode scalars.
/// Lexing stops at the first bad token; the parser reports that error when it reaches it, so errors come out in
/// source order.
struct Lexer {
    private let bytes: [UInt8]
    private let source: String
    private var i = 0
    private var line = 1
    /// Column cache: `columnAt` is the column of byte `columnOffset`, on the current line.
    private var columnOffset = 0
    private var columnAt = 1

    init(_ source: String) {
        self.source = source
        self.bytes = Array(source.utf8)
    }

    /// Tokens up to and including `.end`, or up to the first error.
    static func tokenize(_ source: String) -> (tokens: [Token], error: SegmentLanguageError?) {
        var lexer = Lexer(source)
        var tokens: [Token] = []
        tokens.reserveCapacity(source.utf8.count / 3 + 1)
        do {
            while true {
                let token = try lexer.next()
                tokens.append(token)
                if token.kind == .end { return (tokens, nil) }
            }
        } catch {
            return (tokens, error)
        }
    }

    // MARK: - Positions

    private mutating func position(_ offset: Int) -> SourcePosition {
        // Offsets are requested in increasing order within a line.
        while columnOffset < offset {
            if bytes[columnOffset] & 0xC0 != 0x80 { columnAt += 1 }
            columnOffset += 1
        }
        // A continuation byte never starts a token, but count the scalar it belongs to if asked.
        return SourcePosition(line: line, column: columnAt, offset: offset)
    }

    private mutating func error(
        _ code: SegmentLanguageError.Code,
        _ reason: String,
        at offset: Int
    ) -> SegmentLanguageError {
        SegmentLanguageError(code, reason, at: position(offset), in: source)
    }

    private func text(_ start: Int, _ end: Int) -> String {
        String(decoding: bytes[start..<end], as: UTF8.self)
    }

    // MARK: - Tokens

    private static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
    private static func isIdentStart(_ c: UInt8) -> Bool {
        (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F
    }
    private static func isIdent(_ c: UInt8) -> Bool { isIdentStart(c) || isDigit(c) }

    private func peek(_ k: Int = 0) -> UInt8? { i + k < bytes.count ? bytes[i + k] : nil }

    private mutating func skipTrivia() {
        while i < bytes.count {
            switch bytes[i] {
            case 0x20, 0x09, 0x0D:
                i += 1
            case 0x0A:
                i += 1
                line += 1
                columnOffset = i
                columnAt = 1
            case 0x23:  // '#': comment to the end of the line
                while i < bytes.count, bytes[i] != 0x0A { i += 1 }
            default:
                return
            }
        }
    }

    mutating func next() throws(SegmentLanguageError) -> Token {
        skipTrivia()
        let start = i
        guard i < bytes.count else { return Token(kind: .end, position: position(start), text: "") }
        let c = bytes[i]
        let kind: TokenKind
        if Self.isIdentStart(c) {
            while let d = peek(), Self.isIdent(d) { i += 1 }
            let word = text(start, i)
            kind = Keyword.byName[word].map { .keyword($0) } ?? .name(word)
        } else if Self.isDigit(c) || (c == 0x2D && peek(1).map(Self.isDigit) == true) {
            kind = try numberLike()
        } else if c == 0x22 {
            kind = .string(try string())
        } else if c == 0x60 {
            kind = .quotedName(try backtickName())
        } else {
            kind = .symbol(try symbol())
        }
        return Token(kind: kind, position: position(start), text: text(start, i))
    }

    private mutating func symbol() throws(SegmentLanguageError) -> Symbol {
        let start = i
        let c = bytes[i]
        i += 1
        let second = peek()
        switch c {
        case 0x28: return .leftParen
        case 0x29: return .rightParen
        case 0x5B: return .leftBracket
        case 0x5D: return .rightBracket
        case 0x2C: return .comma
        case 0x2E: return .dot
        case 0x3D:
            if second == 0x3D {
                i += 1
                return .eqeq
            }
            return .eq
        case 0x21:
            if second == 0x3D {
                i += 1
                return .ne
            }
            throw error(.syntax, "unexpected '!'; write '!=' or 'not'", at: start)
        case 0x3C:
            if second == 0x3D {
                i += 1
                return .le
            }
            if second == 0x3E { throw error(.syntax, "unexpected '<>'; write '!='", at: start) }
            return .lt
        case 0x3E:
            if second == 0x3D {
                i += 1
                return .ge
            }
            return .gt
        case 0x2B: return .plus
        case 0x2D: return .minus
        case 0x2A: return .star
        case 0x2F: return .slash
        case 0x26: throw error(.syntax, "unexpected '&'; write 'and'", at: start)
        case 0x7C: throw error(.syntax, "unexpected '|'; write 'or'", at: start)
        case 0x27: throw error(.syntax, "unexpected \"'\"; strings are in double quotes", at: start)
        default:
            // Decode the whole scalar for the message.
            var end = start + 1
            while end < bytes.count, bytes[end] & 0xC0 == 0x80 { end += 1 }
            let shown = text(start, end)
            let printable = shown.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7F }
            let what = printable ? "'\(shown)'" : "U+" + hex(shown.unicodeScalars.first?.value ?? 0)
            throw error(.syntax, "unexpected character \(what)", at: start)
        }
    }

    private func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    /// A number, a duration (`30d`) or an unquoted timestamp (`2026-01-01T00:00:00Z`).
    private mutating func numberLike() throws(SegmentLanguageError) -> TokenKind {
        let start = i
        // A timestamp starts with a date: four digits, '-', two digits, '-' (`2000-1000` is a subtraction).
        if bytes[i] != 0x2D, i + 7 < bytes.count, (0..<4).allSatisfy({ Self.isDigit(bytes[i + $0]) }),
            bytes[i + 4] == 0x2D, Self.isDigit(bytes[i + 5]), Self.isDigit(bytes[i + 6]), bytes[i + 7] == 0x2D
        {
            return try timestamp()
        }
        let negative = bytes[i] == 0x2D
        if negative { i += 1 }
        let integerStart = i
        while let d = peek(), Self.isDigit(d) { i += 1 }
        let integerEnd = i
        var isInteger = true
        if peek() == 0x2E, peek(1).map(Self.isDigit) == true {
            isInteger = false
            i += 1
            while let d = peek(), Self.isDigit(d) { i += 1 }
        } else if peek() == 0x2E, !(peek(1).map(Self.isIdentStart) ?? false) {
            throw error(.invalidNumber, "expected digits after '.' in '\(text(start, i + 1))'", at: start)
        }
        if let e = peek(), e == 0x65 || e == 0x45 {
            // An exponent, unless this is the start of a word (a malformed duration such as `3each`).
            var k = 1
            if let s = peek(1), s == 0x2B || s == 0x2D { k = 2 }
            if peek(k).map(Self.isDigit) == true {
                isInteger = false
                i += k
                while let d = peek(), Self.isDigit(d) { i += 1 }
            }
        }
        if let d = peek(), Self.isIdentStart(d) {
            // A duration: a whole number immediately followed by one unit letter.
            let unitStart = i
            while let d = peek(), Self.isIdent(d) { i += 1 }
            let word = text(start, i)
            let unitText = text(unitStart, i)
            guard let unit = Duration.Unit(rawValue: unitText) else {
                throw error(
                    .invalidDuration,
                    "invalid duration '\(word)': write a whole number and one unit of s, m, h, d, w (e.g. 30d)",
                    at: start
                )
            }
            guard !negative else {
                throw error(.invalidDuration, "a duration cannot be negative: '\(word)'", at: start)
            }
            guard isInteger else {
                throw error(.invalidDuration, "a duration must be a whole number: '\(word)'", at: start)
            }
            var count: Int64 = 0
            for k in integerStart..<integerEnd {
                let (m, o1) = count.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(Int64(bytes[k] - 0x30))
                guard !o1, !o2 else { throw error(.invalidDuration, "duration '\(word)' is too large", at: start) }
                count = a
            }
            guard count > 0 else {
                throw error(.invalidDuration, "a duration must be greater than zero: '\(word)'", at: start)
            }
            guard !count.multipliedReportingOverflow(by: unit.milliseconds).overflow else {
                throw error(.invalidDuration, "duration '\(word)' is too large", at: start)
            }
            return .duration(Duration(count: count, unit: unit))
        }
        let literal = text(start, i)
        guard let value = Double(literal), value.isFinite else {
            throw error(.invalidNumber, "number '\(literal)' is out of range", at: start)
        }
        return .number(value)
    }

    private mutating func timestamp() throws(SegmentLanguageError) -> TokenKind {
        let start = i
        while let c = peek(),
            Self.isIdent(c) || c == 0x3A || c == 0x2E || c == 0x2B || c == 0x2D
        {
            i += 1
        }
        let parsed = bytes[start..<i].withUnsafeBufferPointer { RFC3339.parse(bytes: $0) }
        if let parsed { return .timestamp(parsed) }
        let literal = text(start, i)
        if i - start == 10 {
            throw error(
                .invalidTimestamp,
                "a date alone is not a timestamp: write '\(literal)T00:00:00Z'",
                at: start
            )
        }
        throw error(
            .invalidTimestamp,
            "invalid timestamp '\(literal)': expected an RFC 3339 date-time such as 2026-11-01T10:00:00Z",
            at: start
        )
    }

    private mutating func string() throws(SegmentLanguageError) -> String {
        let start = i
        i += 1
        var out: [UInt8] = []
        while true {
            guard let c = peek(), c != 0x0A else {
                throw error(.invalidString, "unterminated string: missing closing '\"'", at: start)
            }
            i += 1
            if c == 0x22 { break }
            guard c == 0x5C else {
                out.append(c)
                continue
            }
            let escapeStart = i - 1
            guard let e = peek() else {
                throw error(.invalidString, "unterminated string: missing closing '\"'", at: start)
            }
            i += 1
            switch e {
            case 0x22: out.append(0x22)
            case 0x5C: out.append(0x5C)
            case 0x6E: out.append(0x0A)
            case 0x74: out.append(0x09)
            case 0x75:
                var value = try hex4(escapeStart)
                if (0xD800...0xDBFF).contains(value) {
                    // A surrogate pair written as two escapes.
                    guard peek() == 0x5C, peek(1) == 0x75 else {
                        throw error(
                            .invalidString,
                            "a high surrogate escape must be followed by a low one",
                            at: escapeStart
                        )
                    }
                    i += 2
                    let low = try hex4(escapeStart)
                    guard (0xDC00...0xDFFF).contains(low) else {
                        throw error(
                            .invalidString,
                            "a high surrogate escape must be followed by a low one",
                            at: escapeStart
                        )
                    }
                    value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let scalar = Unicode.Scalar(value) else {
                    throw error(.invalidString, "'\\u\(hex(value))' is not a Unicode scalar", at: escapeStart)
                }
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
            default:
                throw error(
                    .invalidString,
                    "unknown escape in string; use \\\" \\\\ \\n \\t or \\uXXXX",
                    at: escapeStart
                )
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private mutating func hex4(_ escapeStart: Int) throws(SegmentLanguageError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let c = peek() else {
                throw error(.invalidString, "expected four hex digits after \\u", at: escapeStart)
            }
            let digit: UInt32
            switch c {
            case 0x30...0x39: digit = UInt32(c - 0x30)
            case 0x41...0x46: digit = UInt32(c - 0x41 + 10)
            case 0x61...0x66: digit = UInt32(c - 0x61 + 10)
            default: throw error(.invalidString, "expected four hex digits after \\u", at: escapeStart)
            }
            value = value * 16 + digit
            i += 1
        }
        return value
    }

    private mutating func backtickName() throws(SegmentLanguageError) -> String {
        let start = i
        i += 1
        while let c = peek(), c != 0x60, c != 0x0A { i += 1 }
        guard peek() == 0x60 else {
            throw error(.invalidString, "unterminated name: missing closing '`'", at: start)
        }
        let name = text(start + 1, i)
        i += 1
        guard !name.isEmpty else { throw error(.syntax, "empty name ``", at: start) }
        return name
    }
}
