/// Why a segment expression was refused, and where.
///
/// ``description`` is what a marketer sees: the position and reason, then the offending source line and a caret
/// under the column:
///
/// ```
/// 1:23: expected a duration after 'within', found 'days'
/// count(purchase within days) >= 1
///                       ^
/// ```
///
/// ``message`` is the first line alone. Lines and columns are 1-based; columns count Unicode scalars.
public struct SegmentLanguageError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of error. New codes may be added; switch over them with a `default`.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case syntax, unknownFunction, notAnEvent, invalidFilter, invalidDuration, invalidNumber
            case invalidString, invalidTimestamp, tooLarge, tooDeep, unknownSegment, cycle, unknownTrait
        }

        private let base: Base

        private init(_ base: Base) { self.base = base }

        /// The text does not follow the grammar (a missing operator, an unexpected token, an unknown character).
        public static let syntax = Code(.syntax)
        /// A call to a function the language does not have, like `foo(x)` or `Count(x)`.
        public static let unknownFunction = Code(.unknownFunction)
        /// A `where` filter, a window or a property on something that is not the event of an aggregate, or an
        /// aggregate whose argument is not an event (`sum(amount)`, `count(42)`, `plan where x = 1`).
        public static let notAnEvent = Code(.notAnEvent)
        /// An aggregate or `in_segment` inside a `where` filter.
        public static let invalidFilter = Code(.invalidFilter)
        /// A duration of zero, too large, or malformed (`30days`).
        public static let invalidDuration = Code(.invalidDuration)
        /// A number that is malformed or does not fit a double (`1e999`).
        public static let invalidNumber = Code(.invalidNumber)
        /// An unterminated string or name, or a bad escape.
        public static let invalidString = Code(.invalidString)
        /// An unquoted timestamp that is not a complete RFC 3339 date-time (a date alone, a bad day, no offset).
        public static let invalidTimestamp = Code(.invalidTimestamp)
        /// The text (or its canonical form) is longer than 64 KiB.
        public static let tooLarge = Code(.tooLarge)
        /// More than 64 levels of nesting.
        public static let tooDeep = Code(.tooDeep)
        /// `in_segment` names no saved segment or static list.
        public static let unknownSegment = Code(.unknownSegment)
        /// `in_segment` makes a cycle, including a segment referring to itself; or `trait("x")` does, among traits.
        public static let cycle = Code(.cycle)
        /// `trait("x")` names no saved trait.
        public static let unknownTrait = Code(.unknownTrait)

        /// The code's name, for example `syntax` or `tooDeep`.
        public var description: String { base.rawValue }
    }

    /// The kind of error.
    public var code: Code
    /// 1-based line of the offending position.
    public var line: Int
    /// 1-based column of the offending position, in Unicode scalars.
    public var column: Int
    /// What is wrong, in words, without the position: `expected a duration after 'within', found 'days'`.
    public var reason: String
    /// The source line containing the position (shortened around the column when very long), without its newline.
    public var sourceLine: String
    /// The column of the caret within ``sourceLine`` (1-based); differs from ``column`` only when the line was
    /// shortened.
    var caretColumn: Int

    /// Creates an error at a position of `source`.
    init(_ code: Code, _ reason: String, at position: SourcePosition, in source: String) {
        self.code = code
        self.reason = reason
        self.line = position.line
        self.column = position.column
        (self.sourceLine, self.caretColumn) = Self.excerpt(of: source, line: position.line, column: position.column)
    }

    /// `line:column: reason`, for logs and one-line displays.
    public var message: String { "\(line):\(column): \(reason)" }

    /// ``message``, then the source line and a caret line under the column.
    public var description: String {
        var caret = ""
        var index = 1
        for scalar in sourceLine.unicodeScalars {
            if index >= caretColumn { break }
            caret.unicodeScalars.append(scalar == "\t" ? "\t" : " ")
            index += 1
        }
        while index < caretColumn {
            caret += " "
            index += 1
        }
        return message + "\n" + sourceLine + "\n" + caret + "^"
    }

    /// The line `line` of `source`, cut to at most about 100 scalars around `column` when longer.
    private static func excerpt(of source: String, line: Int, column: Int) -> (String, Int) {
        var current = 1
        var scalars: [Unicode.Scalar] = []
        for scalar in source.unicodeScalars {
            if scalar == "\n" {
                if current == line { break }
                current += 1
                continue
            }
            if current == line { scalars.append(scalar) }
        }
        if scalars.last == "\r" { scalars.removeLast() }
        let limit = 100
        guard scalars.count > limit else {
            var text = ""
            text.unicodeScalars.append(contentsOf: scalars)
            return (text, column)
        }
        let start = max(0, min(column - 1 - limit / 2, scalars.count - limit))
        let end = min(scalars.count, start + limit)
        var text = start > 0 ? "…" : ""
        text.unicodeScalars.append(contentsOf: scalars[start..<end])
        if end < scalars.count { text += "…" }
        return (text, column - start + (start > 0 ? 1 : 0))
    }
}

/// A position in the source text of an expression.
public struct SourcePosition: Sendable, Hashable, CustomStringConvertible {
    /// 1-based line.
    public var line: Int
    /// 1-based column, in Unicode scalars.
    public var column: Int
    /// 0-based offset in UTF-8 bytes.
    public var offset: Int

    /// Creates a position.
    ///
    /// - Parameters:
    ///   - line: 1-based line.
    ///   - column: 1-based column in Unicode scalars.
    ///   - offset: 0-based UTF-8 offset.
    public init(line: Int, column: Int, offset: Int) {
        self.line = line
        self.column = column
        self.offset = offset
    }

    /// `line:column`.
    public var description: String { "\(line):\(column)" }
}
