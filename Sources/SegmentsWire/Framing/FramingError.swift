/// Why a byte stream could not be split into frames. Either ends the connection.
public enum FramingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A frame header announced more bytes than the limit allows.
    case frameTooLarge(length: Int, limit: Int)
    /// The stream ended in the middle of a frame.
    case truncatedFrame(bufferedBytes: Int)

    public var description: String {
        switch self {
        case .frameTooLarge(let length, let limit):
            return "frame of \(length) bytes exceeds the limit of \(limit) bytes"
        case .truncatedFrame(let bufferedBytes):
            return "connection ended inside a frame (\(bufferedBytes) bytes of it received)"
        }
    }
}
