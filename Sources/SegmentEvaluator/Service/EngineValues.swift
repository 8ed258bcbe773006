import SegmentLanguage
import SegmentsWire

extension AttributeValue {
    /// As people read it in an explanation.
    var explainText: String {
        switch self {
        case .string(let string): "\"\(string)\""
        case .number(let number):
            number == number.rounded() && abs(number) < 1e15 ? String(Int64(number)) : "\(number)"
        case .bool(let bool): bool ? "true" : "false"
        case .timestamp(let ms): RFC3339.format(ms)
        case .stringList(let list): "[" + list.map { "\"\($0)\"" }.joined(separator: ", ") + "]"
        }
    }
}

extension ExplanationNode {
    /// The explanation as sent on the wire.
    var wire: Segments_V1_ExplainNode {
        var node = Segments_V1_ExplainNode()
        node.text = self.text
        switch self.result {
        case .bool(let truth):
            node.value = truth ? "true" : "false"
            node.result = truth
        case .value(let value):
            node.value = value.explainText
        case .missing:
            node.value = "missing"
        }
        node.children = self.children.map(\.wire)
        return node
    }
}
