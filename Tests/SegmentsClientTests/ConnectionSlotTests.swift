import NIOCore
import NIOPosix
import SegmentsTesting
import Synchronization
import Testing

@testable import SegmentsClient

/// The client's shared connection to a daemon: opened once, however many calls want it first.
@Suite struct ConnectionSlotTests {
    /// Connections accepted by a listener.
    final class AcceptCounter: Sendable {
        let accepted = Atomic<Int>(0)

        var count: Int { self.accepted.load(ordering: .relaxed) }

        /// Waits (up to a second) until at least `count` connections were accepted; accepts are
        /// counted on the listener's event loop, after the client's connect has returned.
        func wait(for count: Int) async throws {
            for _ in 0..<100 where self.count < count { try await Task.sleep(for: .milliseconds(10)) }
        }
    }

    /// Listens on `path`, counting connections; never answers.
    static func listen(on path: String, counting counter: AcceptCounter) async throws -> any Channel {
        try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                counter.accepted.add(1, ordering: .relaxed)
                return channel.eventLoop.makeSucceededVoidFuture()
            }
            .bind(unixDomainSocketPath: path)
            .get()
    }

    @Test(.timeLimit(.minutes(1)))
    func concurrentFirstCallsShareOneConnect() async throws {
        try await TemporaryDirectory.with { directory in
            let path = directory + "/daemon.sock"
            let counter = AcceptCounter()
            let server = try await Self.listen(on: path, counting: counter)
            let slot = ConnectionSlot(path: path)
            let connections = try await withThrowingTaskGroup(of: ObjectIdentifier.self) { group in
                for _ in 0..<16 {
                    group.addTask { ObjectIdentifier(try await slot.get()) }
                }
                return try await group.reduce(into: Set<ObjectIdentifier>()) { $0.insert($1) }
            }
            #expect(connections.count == 1)
            try await counter.wait(for: 2)
            #expect(counter.count == 1)
            // Once open, it is reused; after it closes, the next call connects again, once.
            _ = try await slot.get()
            await slot.close()
            _ = try await slot.get()
            try await counter.wait(for: 3)
            #expect(counter.count == 2)
            await slot.close()
            try await server.close()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aFailedConnectIsReportedToEveryWaiterAndRetried() async throws {
        try await TemporaryDirectory.with { directory in
            let slot = ConnectionSlot(path: directory + "/nobody.sock")
            let failures = await withTaskGroup(of: SegmentsClientError.Code?.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        do {
                            _ = try await slot.get()
                            return nil
                        } catch let error as SegmentsClientError {
                            return error.code
                        } catch {
                            return nil
                        }
                    }
                }
                return await group.reduce(into: [SegmentsClientError.Code?]()) { $0.append($1) }
            }
            #expect(failures == Array(repeating: .unavailable, count: 4))
            // The failed attempt is not kept: a socket that appears later is connected to.
            let counter = AcceptCounter()
            let server = try await Self.listen(on: directory + "/nobody.sock", counting: counter)
            _ = try await slot.get()
            try await counter.wait(for: 1)
            #expect(counter.count == 1)
            await slot.close()
            try await server.close()
        }
    }
}
