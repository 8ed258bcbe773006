import SegmentsWire

/// An attribute or event property value.
public enum SegmentsValue: Sendable, Hashable {
    /// A UTF-8 string.
    case string(String)
    /// A number (IEEE double).
    case number(Double)
    /// A boolean.
    case bool(Bool)
    /// An instant in milliseconds since the Unix epoch.
    case timestamp(Int64)
    /// A list of strings.
    case stringList([String])

    /// The value as sent on the wire.
    public var wireValue: Segments_V1_Value {
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

    /// Reads a wire value; `nil` for a null (no kind set).
    /// - Parameter wire: the value from a message.
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
}

/// A user's profile as stored.
public struct SegmentsProfile: Sendable, Hashable {
    /// The user id.
    public var userID: String
    /// The attributes.
    public var attributes: [String: SegmentsValue]
    /// Change-log numbers of the write that created the user and of the last attribute change.
    public var createdSeq: UInt64
    public var updatedSeq: UInt64
}

/// An event to record.
public struct SegmentsEvent: Sendable, Hashable {
    /// The user; created if unknown.
    public var userID: String
    /// Event name, e.g. `purchase`.
    public var name: String
    /// When it happened (ms since the Unix epoch); `nil` = when the store accepts it.
    public var atMs: Int64?
    /// Properties.
    public var properties: [String: SegmentsValue]
    /// De-duplication id; a repeated id of the same user is ignored.
    public var id: String?

    /// Creates an event.
    public init(
        userID: String,
        name: String,
        atMs: Int64? = nil,
        properties: [String: SegmentsValue] = [:],
        id: String? = nil
    ) {
        self.userID = userID
        self.name = name
        self.atMs = atMs
        self.properties = properties
        self.id = id
    }

    var wireEvent: Segments_V1_Event {
        var event = Segments_V1_Event()
        event.userID = self.userID
        event.name = self.name
        if let atMs = self.atMs {
            event.atMs = atMs
            event.atGiven = true
        }
        event.properties = self.properties.mapValues(\.wireValue)
        event.eventID = self.id ?? ""
        return event
    }
}

/// The outcome of a write.
public struct SegmentsWriteResult: Sendable, Hashable {
    /// An item of a batch that was refused.
    public struct Rejection: Sendable, Hashable {
        /// Its position in the batch (0-based).
        public var index: Int
        /// Why.
        public var error: SegmentsClientError
    }

    /// Change-log number of the write (0 when nothing changed). Pass it to reads as `minSeq`
    /// to see at least this write.
    public var seq: UInt64
    /// Items stored.
    public var accepted: Int
    /// Events skipped as repeats of a stored event id.
    public var duplicates: Int
    /// Items refused; the rest were stored.
    public var rejected: [Rejection]

    init(_ response: Segments_V1_WriteResponse) {
        self.seq = response.seq
        self.accepted = Int(response.accepted)
        self.duplicates = Int(response.duplicates)
        self.rejected = response.rejected.map {
            Rejection(index: Int($0.index), error: SegmentsClientError(RPCError(status: $0.status)))
        }
    }
}
