/// Unsigned base-128 (LEB128) varints, as protobuf writes them: for wire bytes written by hand (the store's
/// spliced log entries, the client's events) and for the evaluator's own storage formats.
public enum Varint {
    /// Appends `value` to `bytes`.
    public static func append(_ value: UInt64, to bytes: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    /// The varint at `offset`, moving `offset` past it; `nil` when the bytes end inside it or it
    /// is longer than 64 bits.
    public static func read(_ bytes: UnsafeBufferPointer<UInt8>, at offset: inout Int) -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while offset < bytes.count, shift < 64 {
            let byte = bytes[offset]
            offset += 1
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return value }
            shift += 7
        }
        return nil
    }
}
