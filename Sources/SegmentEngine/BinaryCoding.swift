import SegmentLanguage

// A small binary format for checkpoints: LEB128 varints, zigzag for signed integers, little-endian IEEE doubles,
// length-prefixed UTF-8 strings. See docs/evaluation.md for the layout of each record.

/// Writes the format into a buffer of its own, growing it as needed; ``bytes`` gives the result.
///
/// The writer appends to raw memory rather than to an `Array`: a user's record is hundreds of small
/// varints, and an array's append checks capacity and uniqueness every time (a state save encodes
/// every changed user, and those checks were a third of the encoding).
struct BinaryWriter: ~Copyable {
    private var base: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private(set) var count = 0

    init(capacity: Int = 256) {
        self.capacity = Swift.max(capacity, 16)
        self.base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    /// The bytes written.
    var bytes: [UInt8] { Array(UnsafeBufferPointer(start: base, count: count)) }

    /// Appends the bytes written to `output`.
    func append(to output: inout [UInt8]) {
        output.append(contentsOf: UnsafeBufferPointer(start: base, count: count))
    }

    @inline(__always)
    private mutating func reserve(_ n: Int) {
        if count + n > capacity { grow(count + n) }
    }

    private mutating func grow(_ needed: Int) {
        let capacity = Swift.max(needed, self.capacity * 2)
        let base = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        base.update(from: self.base, count: count)
        self.base.deallocate()
        self.base = base
        self.capacity = capacity
    }

    mutating func u8(_ v: UInt8) {
        reserve(1)
        base[count] = v
        count += 1
    }

    mutating func raw(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
        reserve(bytes.count)
        (base + count).update(from: source, count: bytes.count)
        count += bytes.count
    }

    mutating func varint(_ v: UInt64) {
        reserve(10)
        var v = v
        var at = count
        while v >= 0x80 {
            base[at] = UInt8(truncatingIfNeeded: v) | 0x80
            v >>= 7
            at += 1
        }
        base[at] = UInt8(v)
        count = at + 1
    }

    mutating func int(_ v: Int) { varint(UInt64(v)) }

    mutating func zigzag(_ v: Int64) { varint(UInt64(bitPattern: (v << 1) ^ (v >> 63))) }

    mutating func double(_ v: Double) {
        reserve(8)
        let bits = v.bitPattern
        for i in 0..<8 { base[count + i] = UInt8(truncatingIfNeeded: bits >> (8 * UInt64(i))) }
        count += 8
    }

    /// A double that is often NaN or a small whole number: a tag then the shortest form.
    mutating func compactDouble(_ v: Double) {
        if v.isNaN {
            u8(0)
        } else if abs(v) < 1e15, v == Double(Int64(v)), !(v == 0 && v.sign == .minus) {
            u8(1)
            zigzag(Int64(v))
        } else {
            u8(2)
            double(v)
        }
    }

    mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { buffer in
            int(buffer.count)
            raw(buffer)
        }
    }

    mutating func value(_ v: AttributeValue) {
        switch v {
        case .string(let s):
            u8(0)
            string(s)
        case .number(let n):
            u8(1)
            double(n)
        case .bool(let b): u8(b ? 3 : 2)
        case .timestamp(let t):
            u8(4)
            zigzag(t)
        case .stringList(let items):
            u8(5)
            int(items.count)
            for item in items { string(item) }
        }
    }

    mutating func properties(_ p: [String: AttributeValue]) {
        int(p.count)
        // Most are empty (an aggregate's witness, an event without properties): no key array to sort.
        guard !p.isEmpty else { return }
        for name in p.keys.sorted(by: utf8Less) {
            string(name)
            value(p[name]!)
        }
    }
}

struct BinaryReader {
    let bytes: [UInt8]
    var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { offset == bytes.count }

    static func corrupt(_ what: String) -> MembershipEngineError {
        MembershipEngineError(.corruptState, "checkpoint bytes are truncated or malformed (\(what))")
    }

    mutating func u8() throws(MembershipEngineError) -> UInt8 {
        guard offset < bytes.count else { throw Self.corrupt("unexpected end") }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func varint() throws(MembershipEngineError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try u8()
            guard shift < 64 else { throw Self.corrupt("varint too long") }
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
        }
    }

    /// A count or index, bounded so that a corrupt length cannot make us allocate wildly.
    mutating func int(max: Int = Int(Int32.max)) throws(MembershipEngineError) -> Int {
        let v = try varint()
        guard v <= UInt64(max) else { throw Self.corrupt("count out of range") }
        return Int(v)
    }

    /// A count of items that each take at least one byte.
    mutating func count() throws(MembershipEngineError) -> Int {
        try int(max: bytes.count - offset)
    }

    mutating func zigzag() throws(MembershipEngineError) -> Int64 {
        let v = try varint()
        return Int64(bitPattern: v >> 1) ^ -Int64(bitPattern: v & 1)
    }

    mutating func double() throws(MembershipEngineError) -> Double {
        guard offset + 8 <= bytes.count else { throw Self.corrupt("unexpected end") }
        var bits: UInt64 = 0
        for i in 0..<8 { bits |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
        offset += 8
        return Double(bitPattern: bits)
    }

    mutating func compactDouble() throws(MembershipEngineError) -> Double {
        switch try u8() {
        case 0: return .nan
        case 1: return Double(try zigzag())
        case 2: return try double()
        default: throw Self.corrupt("double tag")
        }
    }

    mutating func string() throws(MembershipEngineError) -> String {
        let n = try count()
        guard offset + n <= bytes.count else { throw Self.corrupt("unexpected end") }
        defer { offset += n }
        return String(decoding: bytes[offset..<(offset + n)], as: UTF8.self)
    }

    mutating func value() throws(MembershipEngineError) -> AttributeValue {
        switch try u8() {
        case 0: return .string(try string())
        case 1: return .number(try double())
        case 2: return .bool(false)
        case 3: return .bool(true)
        case 4: return .timestamp(try zigzag())
        case 5:
            let n = try count()
            var items: [String] = []
            items.reserveCapacity(n)
            for _ in 0..<n { items.append(try string()) }
            return .stringList(items)
        default: throw Self.corrupt("value tag")
        }
    }

    mutating func properties() throws(MembershipEngineError) -> [String: AttributeValue] {
        let n = try count()
        var out: [String: AttributeValue] = [:]
        for _ in 0..<n {
            let name = try string()
            out[name] = try value()
        }
        return out
    }
}
