import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A stand-in for the profile store that does no work: it reads each request frame, counts the
/// events in a `TrackEventsRequest`, and answers at once with an OK `WriteResponse` of that many
/// accepted. Used to time `segclient import` with an infinitely fast store.
///
/// The protobuf is walked by hand (wire format only) so the stand-in costs almost nothing:
/// `RequestFrame { 1: call_id varint, 2: method bytes, 3: payload bytes }`,
/// `TrackEventsRequest { 1: repeated Event }`,
/// `ResponseFrame { 1: call_id, 2: payload, 3: end }`, `WriteResponse { 2: accepted }`.
struct FakeStore {
    let path: String

    func run() -> Never {
        unlink(self.path)
        let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        precondition(listener >= 0, "socket failed")
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(self.path.utf8.prefix(raw.count - 1)) + [0]
            raw.copyBytes(from: bytes)
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        precondition(bound == 0, "bind failed: \(errno)")
        precondition(listen(listener, 16) == 0, "listen failed")
        FileHandle.standardError.write(Data("fake store listening on \(self.path)\n".utf8))
        while true {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { continue }
            Thread.detachNewThread { Self.serve(connection) }
        }
    }

    private static func serve(_ fd: Int32) {
        defer { close(fd) }
        var buffer = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { return }
            buffer.append(contentsOf: chunk[0..<n])
            var start = 0
            var out = [UInt8]()
            while buffer.count - start >= 4 {
                let length =
                    Int(buffer[start]) << 24 | Int(buffer[start + 1]) << 16 | Int(buffer[start + 2]) << 8
                    | Int(buffer[start + 3])
                guard buffer.count - start - 4 >= length else { break }
                let frame = buffer[(start + 4)..<(start + 4 + length)]
                start += 4 + length
                let (callID, payload) = parseRequest(frame)
                var write = [UInt8]()
                let accepted = countEvents(payload)
                if accepted > 0 {
                    write.append(0x10)
                    appendVarint(UInt64(accepted), to: &write)
                }
                var response = [UInt8]()
                response.append(0x08)
                appendVarint(callID, to: &response)
                response.append(0x12)
                appendVarint(UInt64(write.count), to: &response)
                response += write
                let count = response.count
                out += [
                    UInt8(count >> 24 & 0xFF), UInt8(count >> 16 & 0xFF), UInt8(count >> 8 & 0xFF), UInt8(count & 0xFF),
                ]
                out += response
            }
            if start > 0 { buffer.removeFirst(start) }
            var sent = 0
            while sent < out.count {
                let w = out[sent...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                if w <= 0 { return }
                sent += w
            }
        }
    }

    /// The call id and the payload's range of a `RequestFrame`.
    private static func parseRequest(_ frame: ArraySlice<UInt8>) -> (UInt64, ArraySlice<UInt8>) {
        var index = frame.startIndex
        var callID: UInt64 = 0
        var payload = frame[frame.startIndex..<frame.startIndex]
        while index < frame.endIndex {
            let key = readVarint(frame, &index)
            switch key & 7 {
            case 0:
                let value = readVarint(frame, &index)
                if key >> 3 == 1 { callID = value }
            case 2:
                let length = Int(readVarint(frame, &index))
                if key >> 3 == 3 { payload = frame[index..<(index + length)] }
                index += length
            default:
                return (callID, payload)
            }
        }
        return (callID, payload)
    }

    /// How many field-1 entries (events) a `TrackEventsRequest` has.
    private static func countEvents(_ payload: ArraySlice<UInt8>) -> Int {
        var index = payload.startIndex
        var count = 0
        while index < payload.endIndex {
            let key = readVarint(payload, &index)
            guard key & 7 == 2 else { return count }
            let length = Int(readVarint(payload, &index))
            if key >> 3 == 1 { count += 1 }
            index += length
        }
        return count
    }

    private static func readVarint(_ bytes: ArraySlice<UInt8>, _ index: inout Int) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while index < bytes.endIndex {
            let byte = bytes[index]
            index += 1
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { break }
            shift += 7
        }
        return value
    }

    private static func appendVarint(_ value: UInt64, to bytes: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }
}
