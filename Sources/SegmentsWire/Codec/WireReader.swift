import SwiftProtobuf

/// Reads protobuf wire format from a byte range; every read returns `nil` on malformed or
/// truncated input. Used by the hand-written decoders (`init?(fastDecoding:)`), which answer as
/// SwiftProtobuf would for the plain shapes they handle and `nil` otherwise.
struct WireReader {
    let bytes: UnsafeRawBufferPointer
    var position: Int
    let end: Int

    var atEnd: Bool { self.position >= self.end }

    mutating func varint() -> UInt64? {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while self.position < self.end, shift < 64 {
            let byte = self.bytes[self.position]
            self.position += 1
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
        return nil
    }

    /// A field's tag: a varint of at most 5 bytes whose value is below 2^32 - 1, as SwiftProtobuf reads one (it
    /// refuses a longer encoding even of a small value: `8A 80 80 80 80 00` for tag 10; fuzz finding 6).
    mutating func tag() -> UInt64? {
        let start = self.position
        guard let value = self.varint(), self.position - start <= 5, value < UInt64(UInt32.max) else { return nil }
        return value
    }

    mutating func fixed64() -> UInt64? {
        guard self.end - self.position >= 8 else { return nil }
        var value: UInt64 = 0
        for offset in 0..<8 {
            value |= UInt64(self.bytes[self.position + offset]) << (8 * UInt64(offset))
        }
        self.position += 8
        return value
    }

    /// The next length-delimited payload, as a reader over it.
    mutating func lengthDelimited() -> WireReader? {
        guard let length = self.varint(), length <= UInt64(self.end - self.position) else { return nil }
        let start = self.position
        self.position += Int(length)
        return WireReader(bytes: self.bytes, position: start, end: self.position)
    }

    /// The next length-delimited payload as a string; `nil` when it is not valid UTF-8.
    mutating func string() -> String? {
        guard let payload = self.lengthDelimited() else { return nil }
        let run = UnsafeBufferPointer(
            rebasing: self.bytes.assumingMemoryBound(to: UInt8.self)[payload.position..<payload.end]
        )
        var ascii = true
        for byte in run where byte >= 0x80 {
            ascii = false
            break
        }
        return ascii ? String(decoding: run, as: UTF8.self) : String(validating: run, as: UTF8.self)
    }

    /// The bytes of an `Event`'s name (field 2), skipping the other fields; `nil` when malformed
    /// or of an unexpected wire type.
    func eventName() -> UnsafeRawBufferPointer? {
        var reader = self
        var name = UnsafeRawBufferPointer(start: nil, count: 0)
        while !reader.atEnd {
            guard let tag = reader.tag() else { return nil }
            switch tag & 7 {
            case 0:
                guard reader.varint() != nil else { return nil }
            case 1:
                guard reader.fixed64() != nil else { return nil }
            case 2:
                guard let field = reader.lengthDelimited() else { return nil }
                if tag == 0x12 { name = UnsafeRawBufferPointer(rebasing: self.bytes[field.position..<field.end]) }
            default:
                return nil
            }
        }
        return name
    }

    /// The rest of the range, copied.
    var bytesCopy: [UInt8] {
        Array(UnsafeRawBufferPointer(rebasing: self.bytes[self.position..<self.end]))
    }

    /// A `map<string, Value>` entry: `(key, value)`, defaults for absent fields; `nil` when
    /// malformed or not of the plain shape.
    func valueMapEntry() -> (key: String, value: Segments_V1_Value)? {
        var entry = self
        var key = ""
        var value = Segments_V1_Value()
        while !entry.atEnd {
            guard let tag = entry.tag() else { return nil }
            switch tag {
            case 0x0A:
                guard let string = entry.string() else { return nil }
                key = string
            case 0x12:
                guard let bytes = entry.lengthDelimited(), let decoded = Segments_V1_Value.fastValue(bytes) else {
                    return nil
                }
                value = decoded
            default:
                return nil
            }
        }
        return (key, value)
    }
}

extension Segments_V1_Value {
    /// A `Value` with at most one field, or `nil` (see ``init(fastDecoding:)``).
    static func fastValue(_ reader: WireReader) -> Segments_V1_Value? {
        var reader = reader
        var value = Segments_V1_Value()
        guard !reader.atEnd else { return value }
        guard let tag = reader.tag() else { return nil }
        switch tag {
        case 0x0A:
            guard let string = reader.string() else { return nil }
            value.stringValue = string
        case 0x11:
            guard let bits = reader.fixed64() else { return nil }
            value.numberValue = Double(bitPattern: bits)
        case 0x18:
            guard let bool = reader.varint() else { return nil }
            value.boolValue = bool != 0
        case 0x20:
            guard let ms = reader.varint() else { return nil }
            value.timestampMs = Int64(bitPattern: ms)
        case 0x2A:
            guard var list = reader.lengthDelimited() else { return nil }
            var strings: [String] = []
            while !list.atEnd {
                guard list.varint() == 0x0A, let string = list.string() else { return nil }
                strings.append(string)
            }
            value.stringList.values = strings
        default:
            return nil
        }
        return reader.atEnd ? value : nil
    }
}
