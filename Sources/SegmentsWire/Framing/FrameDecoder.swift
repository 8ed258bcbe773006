import NIOCore

/// Splits a byte stream into length-prefixed frames, enforcing a size limit before reading.
///
/// ```
/// +--------------------+--------------------------------+
/// | length: UInt32 BE  | payload: `length` bytes        |
/// +--------------------+--------------------------------+
/// ```
///
/// The length is checked against ``maximumFrameLength`` as soon as the 4 header bytes are
/// there, so an oversized frame is refused before any of its payload is buffered. Bytes left
/// over when the stream ends are a truncated frame and raise ``FramingError``.
public struct FrameDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = ByteBuffer

    /// Size of the length prefix in bytes.
    public static let headerLength = 4
    /// The default frame size limit: 16 MiB.
    public static let defaultMaximumFrameLength = 16 * 1024 * 1024

    /// Frames longer than this many payload bytes are refused.
    public let maximumFrameLength: Int

    /// Creates a decoder.
    /// - Parameter maximumFrameLength: the largest payload accepted, in bytes.
    public init(maximumFrameLength: Int = FrameDecoder.defaultMaximumFrameLength) {
        self.maximumFrameLength = maximumFrameLength
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> ByteBuffer? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: UInt32.self) else {
            return nil
        }
        guard Int(length) <= self.maximumFrameLength else {
            throw FramingError.frameTooLarge(length: Int(length), limit: self.maximumFrameLength)
        }
        guard buffer.readableBytes >= Self.headerLength + Int(length) else {
            return nil
        }
        buffer.moveReaderIndex(forwardBy: Self.headerLength)
        return buffer.readSlice(length: Int(length))
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> ByteBuffer? {
        if let frame = try self.decode(buffer: &buffer) {
            return frame
        }
        if buffer.readableBytes > 0 {
            throw FramingError.truncatedFrame(bufferedBytes: buffer.readableBytes)
        }
        return nil
    }
}
