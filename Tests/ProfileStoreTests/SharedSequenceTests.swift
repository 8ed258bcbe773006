import DaemonSupport
import Foundation
import SegmentsTesting
import Testing

/// The memory-mapped head file the store publishes for evaluators.
@Suite struct SharedSequenceTests {
    @Test func readersSeeEveryPublishedValueAndSurviveAPublisherRestart() async throws {
        try await TemporaryDirectory.with { directory in
            let path = directory + "/store.sock.head"
            var publisher: SharedSequence? = try SharedSequence.publisher(path: path)
            let reader = try SharedSequence.reader(path: path)
            #expect(reader.load() == 0)
            publisher?.publish(41)
            #expect(reader.load() == 41)
            // A restarted publisher reuses the file in place: the reader's mapping stays live.
            publisher = nil
            publisher = try SharedSequence.publisher(path: path)
            #expect(reader.load() == 41)
            publisher?.publish(42)
            #expect(reader.load() == 42)
        }
    }

    @Test func aMissingOrForeignFileIsRefusedWithItsPath() async throws {
        try await TemporaryDirectory.with { directory in
            #expect(throws: SharedSequenceError.self) { try SharedSequence.reader(path: directory + "/missing") }
            let foreign = directory + "/foreign"
            try Data("not a sequence file at all".utf8).write(to: URL(fileURLWithPath: foreign))
            do throws(SharedSequenceError) {
                _ = try SharedSequence.reader(path: foreign)
                Issue.record("a foreign file was accepted")
            } catch {
                #expect(error.message == "\(foreign) is not a published sequence file (bad magic)")
            }
            // A publisher takes such a file over.
            let publisher = try SharedSequence.publisher(path: foreign)
            publisher.publish(7)
            #expect(try SharedSequence.reader(path: foreign).load() == 7)
        }
    }
}
