import DaemonSupport
import Foundation
import Testing

/// Giving freed memory back to the system (both daemons use it after large bursts of work).
@Suite struct FreeMemoryTests {
    /// Resident bytes of this process.
    static func residentBytes() throws -> Int {
        let statm = try String(contentsOfFile: "/proc/self/statm", encoding: .utf8)
        let pages = try #require(Int(statm.split(separator: " ")[1]))
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/proc/self/statm")))
    func memoryFreedInTheMiddleOfTheHeapLeavesTheResidentSet() throws {
        // 3,200 blocks of 64 KiB (below glibc's mmap threshold: they come from the heap), all touched; then all but
        // the last freed, so that the freed memory lies below a block still in use and free() cannot shrink the heap.
        let blockSize = 64 * 1024
        var blocks: [UnsafeMutableRawPointer] = []
        for _ in 0..<3200 {
            let block = try #require(malloc(blockSize))
            memset(block, 1, blockSize)
            blocks.append(block)
        }
        let fence = blocks.removeLast()
        defer { free(fence) }
        for block in blocks { free(block) }
        let before = try Self.residentBytes()
        FreeMemory.releaseToSystem()
        let after = try Self.residentBytes()
        // ~200 MiB were freed; other tests running meanwhile may allocate, so ask for half.
        #expect(before - after >= 100 * 1024 * 1024, "resident \(before >> 20) MiB → \(after >> 20) MiB")
    }
}
