import SegmentLanguage

// `explain` from the retained state. The engine keeps aggregate values, not raw events, so it cannot hand the
// reference interpreter the events. Instead it rewrites the expression with each aggregate replaced by its current
// value — a number literal, a timestamp literal (a time operand, like `first`/`last`), or a name bound to nothing
// when the value is missing — which compares exactly as the aggregate does; explains both the rewritten and the
// original text with `ReferenceInterpreter.explain`; and merges them: texts from the original, results from the
// rewritten, and each aggregate operand shown with its maintained value.

extension MembershipEngine {
    /// Why a user is or is not in a segment, sub-expression by sub-expression, from the state the engine keeps.
    ///
    /// The tree is `ReferenceInterpreter.explain`'s over the user's retained attributes and the maintained
    /// aggregate values at ``nowMs``; its root result is the user's membership. For a segment awaiting a back-fill
    /// it is computed from the data kept so far, which is incomplete.
    ///
    /// - Parameters:
    ///   - userID: The user id.
    ///   - segment: The segment name.
    /// - Returns: The explanation, or `nil` when there is no such segment or user.
    public func explain(userID: String, segment: String) -> ExplanationNode? {
        guard let s = segIndex[segment], let seg = segs[Int(s)], let user = userIndex.slot(of: userID, in: users) else {
            return nil
        }
        let u: Int32? = user
        let attrs = attributeDictionary(user, seg)
        let member: (String) -> Bool = { name in self.isMember(user, name) }
        let original = seg.expression.canonicalText
        let spans = Self.aggregateSpans(in: original)

        var missingName = "·missing·"
        while attrs[missingName] != nil || seg.plan.attributes.contains(missingName) { missingName += "·" }
        var valueBySpan: [String: AttributeValue?] = [:]
        var rewritten = ""
        var cursor = original.startIndex
        for span in spans {
            let text = String(original[span])
            let value = valueBySpan[text] ?? aggregateValue(text: text, user: u)
            valueBySpan[text] = value
            rewritten += original[cursor..<span.lowerBound]
            // After a unary minus, `-3` would read back as one literal: `-(3)` keeps the negation.
            let literal = Self.literalText(value).map { rewritten.last == "-" ? "(\($0))" : $0 }
            rewritten += literal ?? "`\(missingName)`"
            cursor = span.upperBound
        }
        rewritten += original[cursor...]

        // Sequences are conditions, not operands: they stay in the rewritten text and are answered from their
        // maintained values.
        let sequenceHolds: (AggregateKey) -> Bool = { key in
            guard let k = self.keyIndex[key], let slot = self.keySlots[Int(k)] else { return false }
            return self.aggregateValue(self.users[Int(user)], k, slot, at: self.nowMs) == .bool(true)
        }
        let base = ReferenceInterpreter.explain(
            seg.expression,
            attributes: attrs,
            events: [],
            nowMs: nowMs,
            isMember: member,
            sequenceHolds: sequenceHolds
        )
        guard let substituted = try? SegmentExpression.parse(rewritten) else { return base }
        let values = ReferenceInterpreter.explain(
            substituted,
            attributes: attrs,
            events: [],
            nowMs: nowMs,
            isMember: member,
            sequenceHolds: sequenceHolds
        )
        return Self.merge(base, values, valueBySpan: valueBySpan, missingText: "`\(missingName)`")
    }

    /// The maintained value of the aggregate written `text` (canonical) for user `u`.
    private func aggregateValue(text: String, user u: Int32?) -> AttributeValue? {
        guard let e = try? SegmentExpression.parse(text + " = 0"), let key = SegmentPlan(e).aggregates.first else {
            return nil
        }
        guard let k = keyIndex[key], let slot = keySlots[Int(k)] else { return nil }
        guard let u else { return AggregateLogic.emptyValue(slot.key.kind) }
        return aggregateValue(users[Int(u)], k, slot, at: nowMs)
    }

    /// A literal that compares like the value: a number or an RFC 3339 timestamp; `nil` when none can (missing, a
    /// non-finite number, an instant outside years 0–9999).
    static func literalText(_ value: AttributeValue?) -> String? {
        switch value {
        case .number(let n)?:
            guard n.isFinite else { return nil }
            if abs(n) < 1e15, n == Double(Int64(n)) { return String(Int64(n)) }
            return n.description
        case .timestamp(let t)?:
            let text = RFC3339.format(t)
            return RFC3339.parse(text) == t ? text : nil
        default:
            return nil
        }
    }

    /// Ranges of the aggregates (`count(...)`, `sum(...)`, …) in a canonical expression text, outside strings and
    /// backticked names.
    static func aggregateSpans(in text: String) -> [Range<String.Index>] {
        let keywords: Set<Substring> = ["count", "sum", "avg", "min", "max", "first", "last"]
        var spans: [Range<String.Index>] = []
        var i = text.startIndex
        func isWord(_ c: Character) -> Bool { c == "_" || c.isLetter || c.isNumber }
        while i < text.endIndex {
            let c = text[i]
            if c == "\"" || c == "`" {
                i = skipQuoted(text, from: i)
                continue
            }
            if isWord(c) {
                var j = i
                while j < text.endIndex, isWord(text[j]) { j = text.index(after: j) }
                if keywords.contains(text[i..<j]), j < text.endIndex, text[j] == "(" {
                    // Find the matching parenthesis.
                    var depth = 0
                    var k = j
                    while k < text.endIndex {
                        let d = text[k]
                        if d == "\"" || d == "`" {
                            k = skipQuoted(text, from: k)
                            continue
                        }
                        if d == "(" { depth += 1 }
                        if d == ")" {
                            depth -= 1
                            if depth == 0 { break }
                        }
                        k = text.index(after: k)
                    }
                    guard k < text.endIndex else { return spans }
                    let end = text.index(after: k)
                    spans.append(i..<end)
                    i = end
                    continue
                }
                i = j
                continue
            }
            i = text.index(after: i)
        }
        return spans
    }

    /// The index after a string literal or backticked name starting at `start`.
    private static func skipQuoted(_ text: String, from start: String.Index) -> String.Index {
        let quote = text[start]
        var i = text.index(after: start)
        while i < text.endIndex {
            let c = text[i]
            if quote == "\"", c == "\\" {
                i = text.index(after: i)
                if i < text.endIndex { i = text.index(after: i) }
                continue
            }
            if c == quote { return text.index(after: i) }
            i = text.index(after: i)
        }
        return i
    }

    /// Texts from `base`, results from `values`; aggregate operands shown with their maintained values.
    static func merge(
        _ base: ExplanationNode,
        _ values: ExplanationNode,
        valueBySpan: [String: AttributeValue?],
        missingText: String
    ) -> ExplanationNode {
        let isBoolean =
            !base.children.isEmpty && base.children.allSatisfy { if case .bool = $0.result { true } else { false } }
        if isBoolean, base.children.count == values.children.count {
            let children = zip(base.children, values.children).map {
                merge($0, $1, valueBySpan: valueBySpan, missingText: missingText)
            }
            return ExplanationNode(text: base.text, result: values.result, children: children)
        }
        // A comparison: its operands. Aggregates are missing from (or renamed in) the rewritten children.
        var others = values.children.filter { $0.text != missingText }[...]
        var children: [ExplanationNode] = []
        for child in base.children {
            if let value = valueBySpan[child.text] {
                children.append(
                    ExplanationNode(text: child.text, result: value.map { .value($0) } ?? .missing, children: [])
                )
            } else if let next = others.popFirst() {
                children.append(ExplanationNode(text: child.text, result: next.result, children: []))
            } else {
                children.append(child)
            }
        }
        return ExplanationNode(text: base.text, result: values.result, children: children)
    }
}
