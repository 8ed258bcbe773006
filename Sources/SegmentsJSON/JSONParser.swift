/// A strict JSON parser (RFC 8259) over UTF-8 bytes, with positioned errors.
///
/// Nesting is limited (``maximumDepth``) so hostile input cannot exhaust the stack.
public struct JSONParser {
    /// Deepest nesting of arrays and objects accepted.
    public static let maximumDepth = 64

    /// Why a text is not JSON, and where (1-based byte column within the text).
    public struct Error: Swift.Error, Sendable, Hashable, CustomStringConvertible {
        /// Byte offset (1-based) where the problem was found.
        public var column: Int
        /// What is wrong.
        public var reason: String

        public var description: String { "invalid JSON at column \(self.column): \(self.reason)" }
    }

    private let bytes: [UInt8]
    private var index = 0
    private var depth = 0

    private init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Parses one JSON value that must span the whole text (surrounding white space allowed).
    /// - Throws: ``Error``.
    public static func parse(_ text: some Collection<UInt8>) throws(Error) -> JSONValue {
        var parser = JSONParser(Array(text))
        parser.skipWhitespace()
        let value = try parser.parseValue()
        parser.skipWhitespace()
        guard parser.index == parser.bytes.count else {
            throw parser.error("unexpected text after the value")
        }
        return value
    }

    /// Parses a JSON text given as a string.
    public static func parse(_ text: String) throws(Error) -> JSONValue {
        try Self.parse(text.utf8)
    }

    private func error(_ reason: String) -> Error {
        Error(column: self.index + 1, reason: reason)
    }

    private mutating func skipWhitespace() {
        while self.index < self.bytes.count {
            switch self.bytes[self.index] {
            case 0x20, 0x09, 0x0A, 0x0D: self.index += 1
            default: return
            }
        }
    }

    private mutating func parseValue() throws(Error) -> JSONValue {
        guard self.index < self.bytes.count else { throw self.error("unexpected end of text") }
        switch self.bytes[self.index] {
        case UInt8(ascii: "{"): return try self.parseObject()
        case UInt8(ascii: "["): return try self.parseArray()
        case UInt8(ascii: "\""): return .string(try self.parseString())
        case UInt8(ascii: "t"): return try self.parseLiteral("true", .bool(true))
        case UInt8(ascii: "f"): return try self.parseLiteral("false", .bool(false))
        case UInt8(ascii: "n"): return try self.parseLiteral("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try self.parseNumber()
        default: throw self.error("unexpected character '\(Self.show(self.bytes[self.index]))'")
        }
    }

    private static func show(_ byte: UInt8) -> String {
        byte >= 0x20 && byte < 0x7F ? String(UnicodeScalar(byte)) : "\\x" + String(byte, radix: 16)
    }

    private mutating func parseLiteral(_ word: StaticString, _ value: JSONValue) throws(Error) -> JSONValue {
        let count = word.utf8CodeUnitCount
        let matches = word.withUTF8Buffer { expected in
            self.index + count <= self.bytes.count
                && self.bytes[self.index..<self.index + count].elementsEqual(expected)
        }
        guard matches else { throw self.error("unexpected text; expected '\(word)'") }
        self.index += count
        return value
    }

    private mutating func enter() throws(Error) {
        self.depth += 1
        guard self.depth <= Self.maximumDepth else {
            throw self.error("nested deeper than \(Self.maximumDepth) levels")
        }
    }

    private mutating func parseObject() throws(Error) -> JSONValue {
        try self.enter()
        defer { self.depth -= 1 }
        self.index += 1
        var members: [(key: String, value: JSONValue)] = []
        self.skipWhitespace()
        if self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "}") {
            self.index += 1
            return .object(members)
        }
        while true {
            self.skipWhitespace()
            guard self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "\"") else {
                throw self.error("expected a member name in double quotes")
            }
            let key = try self.parseString()
            self.skipWhitespace()
            guard self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: ":") else {
                throw self.error("expected ':' after member name")
            }
            self.index += 1
            self.skipWhitespace()
            members.append((key, try self.parseValue()))
            self.skipWhitespace()
            guard self.index < self.bytes.count else { throw self.error("unexpected end of text in an object") }
            if self.bytes[self.index] == UInt8(ascii: ",") {
                self.index += 1
                continue
            }
            guard self.bytes[self.index] == UInt8(ascii: "}") else { throw self.error("expected ',' or '}'") }
            self.index += 1
            return .object(members)
        }
    }

    private mutating func parseArray() throws(Error) -> JSONValue {
        try self.enter()
        defer { self.depth -= 1 }
        self.index += 1
        var values: [JSONValue] = []
        self.skipWhitespace()
        if self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "]") {
            self.index += 1
            return .array(values)
        }
        while true {
            self.skipWhitespace()
            values.append(try self.parseValue())
            self.skipWhitespace()
            guard self.index < self.bytes.count else { throw self.error("unexpected end of text in an array") }
            if self.bytes[self.index] == UInt8(ascii: ",") {
                self.index += 1
                continue
            }
            guard self.bytes[self.index] == UInt8(ascii: "]") else { throw self.error("expected ',' or ']'") }
            self.index += 1
            return .array(values)
        }
    }

    private mutating func parseString() throws(Error) -> String {
        self.index += 1  // opening quote
        let start = self.index
        // Fast path: no escapes. `asciiBits` collects the high bits of the bytes seen: when it
        // stays 0 the run is ASCII, hence valid UTF-8, and is decoded without validating it
        // again (validation through the generic `String(validating:)` on a slice was a fifth
        // of the import's client CPU).
        var asciiBits: UInt8 = 0
        while self.index < self.bytes.count {
            let byte = self.bytes[self.index]
            if byte == UInt8(ascii: "\"") {
                let end = self.index
                self.index += 1
                let string = self.bytes.withUnsafeBufferPointer { buffer -> String? in
                    let run = UnsafeBufferPointer(rebasing: buffer[start..<end])
                    return asciiBits & 0x80 == 0
                        ? String(decoding: run, as: UTF8.self) : String(validating: run, as: UTF8.self)
                }
                guard let string else {
                    throw Error(column: start + 1, reason: "string is not valid UTF-8")
                }
                return string
            }
            if byte == UInt8(ascii: "\\") || byte < 0x20 {
                break
            }
            asciiBits |= byte
            self.index += 1
        }
        var scalars = String.UnicodeScalarView()
        guard let prefix = String(validating: self.bytes[start..<self.index], as: UTF8.self) else {
            throw Error(column: start + 1, reason: "string is not valid UTF-8")
        }
        scalars.append(contentsOf: prefix.unicodeScalars)
        var runStart = self.index
        func flush(_ parser: JSONParser, upTo end: Int) throws(Error) {
            guard runStart < end else { return }
            guard let run = String(validating: parser.bytes[runStart..<end], as: UTF8.self) else {
                throw Error(column: runStart + 1, reason: "string is not valid UTF-8")
            }
            scalars.append(contentsOf: run.unicodeScalars)
        }
        while self.index < self.bytes.count {
            let byte = self.bytes[self.index]
            switch byte {
            case UInt8(ascii: "\""):
                try flush(self, upTo: self.index)
                self.index += 1
                return String(scalars)
            case UInt8(ascii: "\\"):
                try flush(self, upTo: self.index)
                self.index += 1
                guard self.index < self.bytes.count else { throw self.error("unterminated escape") }
                let escape = self.bytes[self.index]
                self.index += 1
                switch escape {
                case UInt8(ascii: "\""): scalars.append("\"")
                case UInt8(ascii: "\\"): scalars.append("\\")
                case UInt8(ascii: "/"): scalars.append("/")
                case UInt8(ascii: "b"): scalars.append("\u{08}")
                case UInt8(ascii: "f"): scalars.append("\u{0C}")
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "u"):
                    scalars.append(try self.parseUnicodeEscape())
                default:
                    self.index -= 2
                    throw self.error("invalid escape '\\\(Self.show(escape))'")
                }
                runStart = self.index
            case 0..<0x20:
                throw self.error("control character in a string; escape it")
            default:
                self.index += 1
            }
        }
        throw Error(column: start, reason: "unterminated string")
    }

    private mutating func parseHex4() throws(Error) -> UInt32 {
        guard self.index + 4 <= self.bytes.count else { throw self.error("expected 4 hex digits after \\u") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = self.bytes[self.index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw self.error("expected a hex digit after \\u")
            }
            value = value << 4 | digit
            self.index += 1
        }
        return value
    }

    private mutating func parseUnicodeEscape() throws(Error) -> Unicode.Scalar {
        let high = try self.parseHex4()
        if (0xD800...0xDBFF).contains(high) {
            guard self.index + 2 <= self.bytes.count, self.bytes[self.index] == UInt8(ascii: "\\"),
                self.bytes[self.index + 1] == UInt8(ascii: "u")
            else { throw self.error("unpaired surrogate in \\u escape") }
            self.index += 2
            let low = try self.parseHex4()
            guard (0xDC00...0xDFFF).contains(low),
                let scalar = Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
            else { throw self.error("invalid surrogate pair in \\u escape") }
            return scalar
        }
        guard let scalar = Unicode.Scalar(high) else { throw self.error("unpaired surrogate in \\u escape") }
        return scalar
    }

    private mutating func parseNumber() throws(Error) -> JSONValue {
        let start = self.index
        func digits(_ parser: inout JSONParser) -> Int {
            let begin = parser.index
            while parser.index < parser.bytes.count,
                (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(parser.bytes[parser.index])
            {
                parser.index += 1
            }
            return parser.index - begin
        }
        if self.bytes[self.index] == UInt8(ascii: "-") { self.index += 1 }
        let integerStart = self.index
        let integerDigits = digits(&self)
        guard integerDigits > 0 else { throw self.error("expected a digit") }
        if integerDigits > 1, self.bytes[integerStart] == UInt8(ascii: "0") {
            throw Error(column: integerStart + 1, reason: "leading zero in a number")
        }
        if self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: ".") {
            self.index += 1
            guard digits(&self) > 0 else { throw self.error("expected a digit after '.'") }
        }
        if self.index < self.bytes.count, self.bytes[self.index] | 0x20 == UInt8(ascii: "e") {
            self.index += 1
            if self.index < self.bytes.count,
                self.bytes[self.index] == UInt8(ascii: "+") || self.bytes[self.index] == UInt8(ascii: "-")
            {
                self.index += 1
            }
            guard digits(&self) > 0 else { throw self.error("expected a digit in the exponent") }
        }
        let text = String(decoding: self.bytes[start..<self.index], as: UTF8.self)
        guard let value = Double(text), value.isFinite else {
            throw Error(column: start + 1, reason: "number '\(text)' is out of range")
        }
        return .number(value)
    }
}
