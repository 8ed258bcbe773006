import Testing

@testable import SegmentLanguage

/// Property-based tests with a seeded generator: failures print the seed and the text, so they reproduce.
@Suite struct PropertyTests {
    @Test(arguments: 0..<8)
    func randomTreesRoundTripThroughThePrinter(_ batch: Int) throws {
        var r = SeededRandom(seed: 0xC0FFEE + UInt64(batch))
        let generator = ExpressionGenerator()
        for _ in 0..<500 {
            let tree = generator.node(&r)
            let e = SegmentExpression(root: tree)
            let text = e.canonicalText
            let parsed: SegmentExpression
            do {
                parsed = try SegmentExpression.parse(text)
            } catch {
                Issue.record("\(error)\n\(text)")
                continue
            }
            #expect(parsed == e, "\(text)")
            #expect(parsed.canonicalText == text)
            #expect(parsed.referencedSegments.map(\.name) == e.referencedSegments.map(\.name))
        }
    }

    /// Fragments that make random text likely to get far into the grammar.
    static let fragments = [
        " ", "\n", "\t", "(", ")", "[", "]", ",", ".", "=", "==", "!=", "<", "<=", ">", ">=", "!", "&", "#", "`", "\"",
        "\\", "\\u", "\\uD83D", "-", "+", ":", "and", "or", "not", "in", "contains", "starts_with", "ends_with",
        "exists", "in_segment", "count", "sum", "avg", "min", "max", "first", "last", "where", "within", "ago", "now",
        "true", "false", "plan", "x", "é", "😀", "0", "1", "30d", "0s", "2w", "1.5", "1e999", "2026-01-01T00:00:00Z",
        "2026-11-01", "99999999999999999999", "\"pro\"", "`a b`", "\r",
    ]

    @Test(arguments: 0..<4)
    func randomTextParsesOrGivesAPositionedError(_ batch: Int) {
        var r = SeededRandom(seed: 0xBAD + UInt64(batch))
        for _ in 0..<3_000 {
            var text = ""
            for _ in 0..<r.int(0...40) {
                if r.chance(0.1) {
                    text.unicodeScalars.append(Unicode.Scalar(UInt8(r.int(0...127))))
                } else {
                    text += r.pick(Self.fragments)
                }
            }
            checkParsesOrPositions(text)
        }
    }

    @Test(arguments: 0..<4)
    func mutatedValidExpressionsParseOrGiveAPositionedError(_ batch: Int) {
        var r = SeededRandom(seed: 0xFACE + UInt64(batch))
        let generator = ExpressionGenerator()
        for _ in 0..<1_500 {
            var scalars = Array(SegmentExpression(root: generator.node(&r)).canonicalText.unicodeScalars)
            for _ in 0..<r.int(1...4) {
                let at = r.int(0...scalars.count)
                switch r.int(0...4) {
                case 0 where !scalars.isEmpty:
                    let end = min(scalars.count, at + r.int(1...6))
                    if at < end { scalars.removeSubrange(at..<end) }
                case 1:
                    scalars.insert(contentsOf: r.pick(Self.fragments).unicodeScalars, at: at)
                case 2 where scalars.count > 1:
                    scalars.swapAt(r.int(0...scalars.count - 1), r.int(0...scalars.count - 1))
                case 3 where !scalars.isEmpty:
                    let start = r.int(0...scalars.count - 1)
                    let end = min(scalars.count, start + r.int(1...10))
                    scalars.insert(contentsOf: scalars[start..<end], at: at)
                default:
                    scalars.insert(Unicode.Scalar(UInt8(r.int(32...126))), at: at)
                }
            }
            var text = ""
            text.unicodeScalars.append(contentsOf: scalars)
            checkParsesOrPositions(text)
        }
    }

    private func checkParsesOrPositions(_ text: String) {
        do {
            let e = try SegmentExpression.parse(text)
            #expect(try SegmentExpression.parse(e.canonicalText) == e, "\(text)")
        } catch {
            // The position is inside the text: an existing line, at most one past its last scalar.
            // Lines by scalar: "\r\n" is one Character, so split the scalars, not the characters.
            let lines = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(error.line >= 1 && error.line <= lines.count, "\(error.message) in \(text.debugDescription)")
            if error.line >= 1 && error.line <= lines.count {
                let length = lines[error.line - 1].count
                #expect(error.column >= 1 && error.column <= length + 1, "\(error.message) in \(text.debugDescription)")
            }
            #expect(!error.reason.isEmpty)
            #expect(error.description.hasPrefix(error.message + "\n"))
        }
    }
}
