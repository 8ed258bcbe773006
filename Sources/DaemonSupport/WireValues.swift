import SegmentLanguage
import SegmentsWire

extension AttributeValue {
    /// Reads a wire value; `nil` for a null.
    public init?(wire: Segments_V1_Value) {
        switch wire.kind {
        case .stringValue(let string): self = .string(string)
        case .numberValue(let number): self = .number(number)
        case .boolValue(let bool): self = .bool(bool)
        case .timestampMs(let ms): self = .timestamp(ms)
        case .stringList(let list): self = .stringList(list.values)
        case nil: return nil
        }
    }

    /// The value as sent on the wire.
    public var wire: Segments_V1_Value {
        var value = Segments_V1_Value()
        switch self {
        case .string(let string): value.stringValue = string
        case .number(let number): value.numberValue = number
        case .bool(let bool): value.boolValue = bool
        case .timestamp(let ms): value.timestampMs = ms
        case .stringList(let list): value.stringList.values = list
        }
        return value
    }
}

extension EventRecord {
    /// Reads a wire event (its `at` resolved by the store).
    public init(wire: Segments_V1_Event) {
        self.init(
            name: wire.name,
            atMs: wire.atMs,
            properties: wire.properties.compactMapValues(AttributeValue.init(wire:))
        )
    }
}

extension Segments_V1_Segment {
    /// The expression the evaluator runs: the one with its traits expanded when it reads any.
    public var evaluated: String { evaluatedExpression.isEmpty ? expression : evaluatedExpression }
}
