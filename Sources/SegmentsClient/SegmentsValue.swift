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
    @_spi(SegmentsInternal)
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

    /// The serialized `Value` message (a oneof: its field is written even when it holds the
    /// default, as SwiftProtobuf does).
    var wireBytes: [UInt8] {
        var bytes: [UInt8] = []
        switch self {
        case .string(let string):
            WireBytes.appendString(string, field: 1, to: &bytes, omitEmpty: false)
        case .number(let number):
            bytes.append(2 << 3 | 1)  // fixed64
            withUnsafeBytes(of: number.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
        case .bool(let bool):
            bytes += [3 << 3, bool ? 1 : 0]
        case .timestamp(let ms):
            Varint.append(4 << 3, to: &bytes)
            Varint.append(UInt64(bitPattern: ms), to: &bytes)
        case .stringList(let list):
            var values: [UInt8] = []
            for string in list {
                WireBytes.appendString(string, field: 1, to: &values, omitEmpty: false)
            }
            WireBytes.appendLengthDelimited(&values, field: 5, to: &bytes)
        }
        return bytes
    }

    /// Reads a wire value; `nil` for a null (no kind set).
    /// - Parameter wire: the value from a message.
    init?(wire: Segments_V1_Value) {
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

    /// Appends the event as one `events` field (number 1) of a serialized `TrackEventsRequest`:
    /// the same bytes SwiftProtobuf writes for ``wireEvent`` up to the order of `properties`
    /// entries (which protobuf leaves unspecified), without building the messages.
    func appendWireBytes(to bytes: inout [UInt8]) {
        var body: [UInt8] = []
        body.reserveCapacity(64)
        WireBytes.appendString(self.userID, field: 1, to: &body, omitEmpty: true)
        WireBytes.appendString(self.name, field: 2, to: &body, omitEmpty: true)
        if let atMs = self.atMs {
            if atMs != 0 {
                Varint.append(3 << 3, to: &body)
                Varint.append(UInt64(bitPattern: atMs), to: &body)
            }
            body += [4 << 3, 1]  // at_given = true
        }
        for (name, value) in self.properties {
            var value = value.wireBytes
            var entry: [UInt8] = []
            entry.reserveCapacity(name.utf8.count + value.count + 4)
            WireBytes.appendString(name, field: 1, to: &entry, omitEmpty: false)
            WireBytes.appendLengthDelimited(&value, field: 2, to: &entry)
            WireBytes.appendLengthDelimited(&entry, field: 5, to: &body)
        }
        WireBytes.appendString(self.id ?? "", field: 6, to: &body, omitEmpty: true)
        WireBytes.appendLengthDelimited(&body, field: 1, to: &bytes)
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

/// Writing protobuf wire format by hand (see ``SegmentsEvent/appendWireBytes(to:)``).
enum WireBytes {
    /// A length-delimited field (wire type 2) holding `payload`.
    static func appendLengthDelimited(_ payload: inout [UInt8], field: UInt64, to bytes: inout [UInt8]) {
        Varint.append(field << 3 | 2, to: &bytes)
        Varint.append(UInt64(payload.count), to: &bytes)
        bytes.append(contentsOf: payload)
    }

    /// A string field; an empty one is left out when `omitEmpty` (proto3 default).
    static func appendString(_ string: String, field: UInt64, to bytes: inout [UInt8], omitEmpty: Bool) {
        let utf8 = string.utf8
        if omitEmpty, utf8.isEmpty { return }
        Varint.append(field << 3 | 2, to: &bytes)
        Varint.append(UInt64(utf8.count), to: &bytes)
        bytes.append(contentsOf: utf8)
    }
}
