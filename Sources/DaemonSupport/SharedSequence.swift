import Atomics

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A sequence number one process publishes and other processes on the same machine read with a
/// single memory load, through a small memory-mapped file.
///
/// The store publishes its committed change-log head here *before* it acknowledges the writes of a
/// commit; an evaluator serving a read loads it and waits until it has applied that far. So a read
/// reflects every write acknowledged before it started, whoever wrote it, without a round trip to
/// the store.
///
/// File layout (16 bytes): the 8-byte magic `SEGHEAD1`, then the value as a native-endian `UInt64`
/// updated with atomic release stores (and read with acquire loads). The publisher reuses an
/// existing file in place (same inode), so readers that mapped it keep seeing new values across a
/// publisher restart.
public final class SharedSequence: @unchecked Sendable {
    // @unchecked Sendable: the mapping is immutable after init and the value is only accessed
    // atomically.
    private static let magic = Array("SEGHEAD1".utf8)
    private static let size = 16

    /// The file's path.
    public let path: String
    private let mapping: UnsafeMutableRawPointer
    private let value: UnsafeAtomic<UInt64>

    private init(path: String, mapping: UnsafeMutableRawPointer) {
        self.path = path
        self.mapping = mapping
        self.value = UnsafeAtomic(at: (mapping + 8).assumingMemoryBound(to: UInt64.AtomicRepresentation.self))
    }

    deinit {
        munmap(self.mapping, Self.size)
    }

    /// Opens (creating it if needed, mode 0644) the file for publishing.
    public static func publisher(path: String) throws(SharedSequenceError) -> SharedSequence {
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw SharedSequenceError(path, "cannot open") }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw SharedSequenceError(path, "cannot stat") }
        if Int(status.st_size) != Self.size {
            guard ftruncate(descriptor, off_t(Self.size)) == 0 else { throw SharedSequenceError(path, "cannot size") }
        }
        guard let mapping = mmap(nil, Self.size, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0),
            mapping != MAP_FAILED
        else {
            throw SharedSequenceError(path, "cannot map")
        }
        let bytes = mapping.assumingMemoryBound(to: UInt8.self)
        if Array(UnsafeBufferPointer(start: bytes, count: 8)) != Self.magic {
            // A new (or foreign-sized) file: value first, magic last, so a reader never sees the
            // magic with an uninitialised value.
            (mapping + 8).storeBytes(of: 0, as: UInt64.self)
            for (index, byte) in Self.magic.enumerated() { bytes[index] = byte }
        }
        return SharedSequence(path: path, mapping: mapping)
    }

    /// Opens an existing file for reading.
    /// - Throws: when it is missing, too small or not such a file.
    public static func reader(path: String) throws(SharedSequenceError) -> SharedSequence {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw SharedSequenceError(path, "cannot open") }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0, Int(status.st_size) >= Self.size else {
            throw SharedSequenceError(path, "is not a published sequence file (too small)", systemError: false)
        }
        guard let mapping = mmap(nil, Self.size, PROT_READ, MAP_SHARED, descriptor, 0), mapping != MAP_FAILED else {
            throw SharedSequenceError(path, "cannot map")
        }
        let bytes = mapping.assumingMemoryBound(to: UInt8.self)
        guard Array(UnsafeBufferPointer(start: bytes, count: 8)) == Self.magic else {
            munmap(mapping, Self.size)
            throw SharedSequenceError(path, "is not a published sequence file (bad magic)", systemError: false)
        }
        return SharedSequence(path: path, mapping: mapping)
    }

    /// Publishes `value` (release ordering: everything written before is visible to a reader that
    /// loads it). Only a publisher may call this.
    public func publish(_ value: UInt64) {
        self.value.store(value, ordering: .releasing)
    }

    /// The latest published value.
    public func load() -> UInt64 {
        self.value.load(ordering: .acquiring)
    }
}

/// A shared sequence file could not be opened or mapped.
public struct SharedSequenceError: Error, CustomStringConvertible {
    /// The file.
    public let path: String
    /// What failed, with the system's reason.
    public let message: String

    init(_ path: String, _ what: String, systemError: Bool = true) {
        let reason = systemError ? ": " + String(cString: strerror(errno)) : ""
        self.path = path
        self.message = "\(path) \(what)\(reason)"
    }

    public var description: String { self.message }
}
