import SegmentsJSON
import Testing

@Suite struct JSONParserTests {
    @Test func parsesEveryKindOfValue() throws {
        let value = try JSONParser.parse(
            #" {"s":"a\"\\\/\n\u00e9\ud83d\ude00","n":-12.5e1,"t":true,"f":false,"z":null,"a":[1,[]],"o":{}} "#
        )
        #expect(
            value
                == .object([
                    ("s", .string("a\"\\/\né😀")), ("n", .number(-125)), ("t", .bool(true)), ("f", .bool(false)),
                    ("z", .null), ("a", .array([.number(1), .array([])])), ("o", .object([])),
                ])
        )
    }

    @Test(arguments: [
        ("", 1, "unexpected end of text"),
        ("{", 2, "expected a member name"),
        (#"{"a" 1}"#, 6, "expected ':'"),
        ("[1,]", 4, "unexpected character ']'"),
        ("01", 1, "leading zero"),
        ("1.", 3, "expected a digit after '.'"),
        (#""abc"#, 1, "unterminated string"),
        ("\"a\tb\"", 3, "control character"),
        (#""\x""#, 2, "invalid escape"),
        (#""\ud800""#, 8, "unpaired surrogate"),
        ("1e999", 1, "out of range"),
        ("{} x", 4, "unexpected text after the value"),
        ("nul", 1, "expected 'null'"),
    ])
    func reportsPositionedErrors(text: String, column: Int, reason: String) {
        do {
            _ = try JSONParser.parse(text)
            Issue.record("parsed \(text)")
        } catch {
            #expect(error.column == column, "\(text): \(error)")
            #expect(error.reason.contains(reason), "\(text): \(error)")
        }
    }

    @Test func refusesNestingBeyondTheLimit() {
        let deep = String(repeating: "[", count: 100_000)
        #expect(throws: JSONParser.Error.self) { try JSONParser.parse(deep) }
    }

    @Test func refusesInvalidUTF8() {
        #expect(throws: JSONParser.Error.self) { try JSONParser.parse([0x22, 0xFF, 0x22]) }
        // Valid ASCII before the bad byte, and a truncated sequence at the end (no escapes: the
        // fast path).
        #expect(throws: JSONParser.Error.self) { try JSONParser.parse([0x22, 0x61, 0xC3, 0x28, 0x22]) }
        #expect(throws: JSONParser.Error.self) { try JSONParser.parse([0x22, 0x61, 0xE2, 0x82, 0x22]) }
    }

    /// Unescaped strings: ASCII and raw multi-byte UTF-8 both come through unchanged.
    @Test func readsUnescapedStrings() throws {
        #expect(try JSONParser.parse(#""plain ascii""#) == .string("plain ascii"))
        #expect(try JSONParser.parse("\"caf\u{E9} 😀\"") == .string("caf\u{E9} 😀"))
        #expect(try JSONParser.parse(#""""#) == .string(""))
    }

    @Test func serializesBackToEquivalentJSON() throws {
        let text = #"{"a":[1,2.5,"x\n\u0001"],"b":{"c":null,"d":true}}"#
        let value = try JSONParser.parse(text)
        #expect(value.serialized == text)
        #expect(try JSONParser.parse(value.serialized) == value)
    }
}
