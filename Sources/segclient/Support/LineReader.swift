#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a file or standard input line by line in large blocks.
struct LineReader: ~Copyable {
    private let descriptor: Int32
    private let ownsDescriptor: Bool
    private var buffer: [UInt8] = []
    private var start = 0
    private var reachedEnd = false
    private static let blockSize = 1 << 20

    /// Opens `path`, or standard input for `-`.
    /// - Throws: a message when the file cannot be opened.
    init(path: String) throws(LineReaderError) {
        if path == "-" {
            self.descriptor = STDIN_FILENO
            self.ownsDescriptor = false
        } else {
            let descriptor = open(path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else {
                throw LineReaderError(message: "cannot open \(path): \(String(cString: strerror(errno)))")
            }
            self.descriptor = descriptor
            self.ownsDescriptor = true
        }
    }

    deinit {
        if self.ownsDescriptor {
            close(self.descriptor)
        }
    }

    /// The next line without its terminator (`\n` or `\r\n`), or `nil` at the end.
    mutating func nextLine() throws(LineReaderError) -> ArraySlice<UInt8>? {
        while true {
            if let newline = self.buffer[self.start...].firstIndex(of: UInt8(ascii: "\n")) {
                var end = newline
                if end > self.start, self.buffer[end - 1] == UInt8(ascii: "\r") {
                    end -= 1
                }
                let line = self.buffer[self.start..<end]
                self.start = newline + 1
                return line
            }
            if self.reachedEnd {
                guard self.start < self.buffer.count else { return nil }
                let line = self.buffer[self.start...]
                self.start = self.buffer.count
                return line
            }
            try self.fill()
        }
    }

    private mutating func fill() throws(LineReaderError) {
        if self.start > 0 {
            self.buffer.removeFirst(self.start)
            self.start = 0
        }
        var failure: Int32 = 0
        let block = [UInt8](unsafeUninitializedCapacity: Self.blockSize) { raw, initialized in
            let count = read(self.descriptor, raw.baseAddress, Self.blockSize)
            if count < 0 { failure = errno }
            initialized = max(count, 0)
        }
        guard failure == 0 else {
            throw LineReaderError(message: "read failed: \(String(cString: strerror(failure)))")
        }
        let count = block.count
        self.buffer.append(contentsOf: block)
        if count == 0 {
            self.reachedEnd = true
        }
    }
}

/// A file that cannot be read.
struct LineReaderError: Error {
    var message: String
}
