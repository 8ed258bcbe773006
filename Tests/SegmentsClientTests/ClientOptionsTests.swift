import Logging
import NIOCore
import NIOPosix
import SegmentsRPC
import SegmentsTesting
import SegmentsWire
import Synchronization
import Testing

@testable import SegmentsClient

/// The configuration's options at work: a request timeout, reconnect attempts, the logger and the event loops.
@Suite struct ClientOptionsTests {
    /// Log messages kept in memory.
    final class LogRecorder: LogHandler, @unchecked Sendable {
        // @unchecked: `messages` is behind its mutex; the rest is set before use.
        let messages = Mutex<[String]>([])
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .debug

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { self.metadata[key] }
            set { self.metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            self.messages.withLock { $0.append("\(event.level) \(event.message)") }
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aCallWithNoAnswerFailsAtItsRequestTimeout() async throws {
        try await TemporaryDirectory.with { directory in
            let path = directory + "/silent.sock"
            let counter = ConnectionSlotTests.AcceptCounter()
            let server = try await ConnectionSlotTests.listen(on: path, counting: counter)
            let client = SegmentsClient(
                configuration: .init(storeSocketPath: path, options: .init(requestTimeout: .milliseconds(200)))
            )
            let clock = ContinuousClock()
            let start = clock.now
            do throws(SegmentsClientError) {
                _ = try await client.storeInfo()
                Issue.record("a call to a daemon that never answers returned")
            } catch {
                #expect(error.code == .deadlineExceeded)
                #expect(error.method == ProfileStoreAPI.getInfo.name)
                #expect(error.message.contains(ProfileStoreAPI.getInfo.name), "\(error.message)")
            }
            let waited = clock.now - start
            #expect(waited >= .milliseconds(200) && waited < .seconds(10), "\(waited)")
            // The connection stays usable for the next call, which times out on its own.
            do throws(SegmentsClientError) {
                _ = try await client.storeInfo()
                Issue.record("the second call returned")
            } catch {
                #expect(error.code == .deadlineExceeded)
            }
            #expect(counter.count == 1)
            await client.close()
            try await server.close()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aBackoffPolicyWaitsForADaemonThatStartsLate() async throws {
        try await TemporaryDirectory.with { directory in
            let path = directory + "/late.sock"
            let recorder = LogRecorder()
            let logger = Logger(label: "test") { _ in recorder }
            // Without retries the call fails at once.
            let impatient = ConnectionSlot(path: path)
            await #expect(throws: SegmentsClientError.self) { _ = try await impatient.get() }
            let patient = ConnectionSlot(
                path: path,
                options: .init(
                    reconnect: .backoff(attempts: 40, initialDelay: .milliseconds(20), maximumDelay: .milliseconds(100))
                ),
                logger: logger
            )
            let counter = ConnectionSlotTests.AcceptCounter()
            async let connected = patient.get(for: "Test/Late")
            try await Task.sleep(for: .milliseconds(300))
            let server = try await ConnectionSlotTests.listen(on: path, counting: counter)
            _ = try await connected
            try await counter.wait(for: 1)
            #expect(counter.count == 1)
            let messages = recorder.messages.withLock { $0 }
            #expect(messages.contains { $0.hasPrefix("debug cannot connect; trying again") }, "\(messages)")
            #expect(messages.last == "debug connected", "\(messages)")
            await patient.close()
            try await server.close()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func attemptsAreBoundedAndTheLastFailureIsLogged() async throws {
        try await TemporaryDirectory.with { directory in
            let recorder = LogRecorder()
            let slot = ConnectionSlot(
                path: directory + "/nobody.sock",
                options: .init(reconnect: .backoff(attempts: 3, initialDelay: .milliseconds(10))),
                logger: Logger(label: "test") { _ in recorder }
            )
            await #expect(throws: SegmentsClientError.self) { _ = try await slot.get() }
            let messages = recorder.messages.withLock { $0 }
            #expect(messages.filter { $0.hasPrefix("debug cannot connect; trying again") }.count == 2, "\(messages)")
            #expect(messages.last == "info cannot connect", "\(messages)")
        }
    }

    @Test func backoffDelaysDoubleUpToTheMaximum() {
        let policy = SegmentsClientConfiguration.ReconnectPolicy.backoff(
            attempts: 10,
            initialDelay: .milliseconds(50),
            maximumDelay: .milliseconds(300)
        )
        #expect((2...6).map(policy.delay(before:)) == [50, 100, 200, 300, 300].map(Duration.milliseconds))
        #expect(SegmentsClientConfiguration.ReconnectPolicy.never.attempts == 1)
        #expect(
            SegmentsClientConfiguration.ReconnectPolicy(attempts: 0, initialDelay: .zero, maximumDelay: .zero).attempts
                == 1
        )
    }

    @Test(.timeLimit(.minutes(1)))
    func connectionsRunOnTheConfiguredEventLoops() async throws {
        try await TemporaryDirectory.with { directory in
            let path = directory + "/daemon.sock"
            let counter = ConnectionSlotTests.AcceptCounter()
            let server = try await ConnectionSlotTests.listen(on: path, counting: counter)
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            let slot = ConnectionSlot(path: path, eventLoopGroup: group)
            #expect(try await slot.get().eventLoop === group.next())
            await slot.close()
            try await server.close()
            try await group.shutdownGracefully()
        }
    }
}
