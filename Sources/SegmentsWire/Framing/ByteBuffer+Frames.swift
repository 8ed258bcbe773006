import NIOCore
import SwiftProtobuf

// MARK: - Writing whole frames

// The envelopes are written by hand so a payload is serialized once, straight into the
// outgoing buffer, instead of being serialized, copied into an envelope message and serialized
// again. The bytes are exactly what the generated `Segments_V1_RequestFrame` /
// `Segments_V1_ResponseFrame` would produce, except that call_id is written even when it is 0
// (tests decode them with the generated types; the wire-fuzz target compares the bytes):
//
//   RequestFrame:  0x08 call_id(varint) | 0x12 method(len, bytes) | 0x1A payload(len, bytes) | 0x20 cancel(1)
//                  | 0x28 window(varint)
//   ResponseFrame: 0x08 call_id(varint) | 0x12 payload(len, bytes) | 0x18 end(1) | 0x22 status(len, Status)
//   Status:        0x08 code(varint)    | 0x12 message(len, bytes)

extension ByteBuffer {
    /// Appends one complete request frame (length prefix included).
    /// - Parameters:
    ///   - callID: the call's id on this connection.
    ///   - method: the fully qualified method name; empty for a cancel.
    ///   - payload: the serialized request message.
    ///   - cancel: whether this frame cancels `callID`.
    ///   - window: on a stream's first frame, the response frames the server may send before the
    ///     client grants more (0: no per-stream limit); on a frame with no method, a grant of that
    ///     many more.
    public mutating func writeRequestFrame(
        callID: UInt64,
        method: String,
        payload: [UInt8],
        cancel: Bool = false,
        window: UInt32 = 0
    ) {
        let start = self.writerIndex
        self.writeInteger(UInt32(0), endianness: .big)
        self.writeVarint(0x08)
        self.writeVarint(callID)
        if !method.isEmpty {
            self.writeVarint(0x12)
            self.writeVarint(UInt64(method.utf8.count))
            self.writeString(method)
        }
        if !payload.isEmpty {
            self.writeVarint(0x1A)
            self.writeVarint(UInt64(payload.count))
            self.writeBytes(payload)
        }
        if cancel {
            self.writeVarint(0x20)
            self.writeVarint(1)
        }
        if window != 0 {
            self.writeVarint(0x28)
            self.writeVarint(UInt64(window))
        }
        self.setInteger(UInt32(self.writerIndex - start - 4), at: start, endianness: .big)
    }

    /// Appends one complete response frame (length prefix included).
    /// - Parameters:
    ///   - callID: the call this frame answers.
    ///   - payload: the serialized response message, if any.
    ///   - end: whether this is the call's last frame.
    ///   - error: the failure, on an end frame of a failed call; `nil` means OK.
    public mutating func writeResponseFrame(callID: UInt64, payload: [UInt8], end: Bool, error: RPCError? = nil) {
        let start = self.writerIndex
        self.writeInteger(UInt32(0), endianness: .big)
        self.writeVarint(0x08)
        self.writeVarint(callID)
        if !payload.isEmpty {
            self.writeVarint(0x12)
            self.writeVarint(UInt64(payload.count))
            self.writeBytes(payload)
        }
        if end {
            self.writeVarint(0x18)
            self.writeVarint(1)
            var status = ByteBuffer()
            if let error {
                // Enum values are int32 on the wire: a negative one is a sign-extended varint.
                let code = UInt64(bitPattern: Int64(error.code.wireValue.rawValue))
                if code != 0 {
                    status.writeVarint(0x08)
                    status.writeVarint(code)
                }
                if !error.message.isEmpty {
                    status.writeVarint(0x12)
                    status.writeVarint(UInt64(error.message.utf8.count))
                    status.writeString(error.message)
                }
                if let writer = error.writerAddress, !writer.isEmpty {
                    status.writeVarint(0x1A)  // writer_address (3)
                    status.writeVarint(UInt64(writer.utf8.count))
                    status.writeString(writer)
                }
            }
            self.writeVarint(0x22)
            self.writeVarint(UInt64(status.readableBytes))
            self.writeBuffer(&status)
        }
        self.setInteger(UInt32(self.writerIndex - start - 4), at: start, endianness: .big)
    }

    /// Appends `value` as a protobuf base-128 varint.
    mutating func writeVarint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            self.writeInteger(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        self.writeInteger(UInt8(value))
    }
}

// MARK: - Reading

extension Message {
    /// Decodes a message from the readable bytes of `buffer` without copying them.
    /// - Parameter buffer: holds exactly one serialized message.
    /// - Throws: `SwiftProtobuf.BinaryDecodingError` when the bytes are not a valid message.
    public init(buffer: ByteBuffer) throws {
        try self.init(serializedBytes: buffer.readableBytesSpan)
    }
}
