/// Reads a fuzz input front to back: small integers and byte runs, with every read defined even
/// when the input runs out (zeros, empty runs), so any input is a valid program for a check.
public struct FuzzBytes {
    private let bytes: [UInt8]
    private var position = 0

    /// - Parameter bytes: the fuzz input.
    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Whether every byte has been read.
    public var isAtEnd: Bool { self.position >= self.bytes.count }

    /// The next byte, or 0 at the end.
    public mutating func byte() -> UInt8 {
        guard self.position < self.bytes.count else { return 0 }
        defer { self.position += 1 }
        return self.bytes[self.position]
    }

    /// The next two bytes as a little-endian number, 0 past the end.
    public mutating func uint16() -> Int {
        Int(self.byte()) | Int(self.byte()) << 8
    }

    /// The next `count` bytes, or as many as are left.
    public mutating func take(_ count: Int) -> [UInt8] {
        let end = min(self.bytes.count, self.position + max(0, count))
        defer { self.position = end }
        return Array(self.bytes[self.position..<end])
    }

    /// Every byte not read yet.
    public mutating func rest() -> [UInt8] {
        self.take(self.bytes.count - self.position)
    }
}
