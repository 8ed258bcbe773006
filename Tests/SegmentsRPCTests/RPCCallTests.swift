import SegmentsRPC
import SegmentsWire
import SwiftProtobuf
import Testing

/// Unary calls against a real ``RPCServer`` on a temporary socket, with ``RPCConnection`` as client.
@Suite(.timeLimit(.minutes(1))) struct RPCCallTests {
    private typealias Numbers = TestAPI.Numbers

    @Test func inlineUnaryCallAnswersWithItsResponse() async throws {
        let probe = Probe()
        try await TestServer.with(router: TestAPI.router(probe: probe)) { server in
            let connection = try await server.connect()
            let request = Segments_V1_Status.with {
                $0.code = .aborted
                $0.message = "hello, 世界"
            }
            let response = try await connection.call(TestAPI.inlineEcho, request)
            #expect(response == request)
            await connection.close()
        }
    }

    @Test func inlineFirstAnswersOnTheLoopOrFallsBackToATask() async throws {
        let probe = Probe()
        try await TestServer.with(router: TestAPI.router(probe: probe)) { server in
            let connection = try await server.connect()
            let onLoop = try await connection.call(TestAPI.inlineFirst, .with { $0.seq = 4 })
            #expect(onLoop.seq == 4)
            #expect(onLoop.nowMs == 0)
            let fromTask = try await connection.call(TestAPI.inlineFirst, .with { $0.seq = 5 })
            #expect(fromTask.seq == 5)
            #expect(fromTask.nowMs == 1)
            await #expect(throws: RPCError(.outOfRange, "unlucky")) {
                try await connection.call(TestAPI.inlineFirst, .with { $0.seq = 13 })
            }
            await connection.close()
        }
    }

    @Test func asyncUnaryCallAnswersWithItsResponse() async throws {
        let probe = Probe()
        try await TestServer.with(router: TestAPI.router(probe: probe)) { server in
            let connection = try await server.connect()
            let response = try await connection.call(
                TestAPI.asyncEcho,
                .with {
                    $0.seq = 99
                    $0.nowMs = 5
                }
            )
            #expect(response.seq == 99)
            // An empty request is a valid message too.
            #expect(try await connection.call(TestAPI.asyncEcho, Numbers()) == Numbers())
            await connection.close()
        }
    }

    @Test func manyConcurrentCallsOnOneConnectionAreMatchedByCallID() async throws {
        let probe = Probe()
        try await TestServer.with(router: TestAPI.router(probe: probe)) { server in
            let connection = try await server.connect()
            let callCount = 400
            try await withThrowingTaskGroup(of: Void.self) { group in
                for tag in 0..<callCount {
                    group.addTask {
                        if tag % 3 == 0 {
                            let message = "inline \(tag)"
                            let response = try await connection.call(TestAPI.inlineEcho, .with { $0.message = message })
                            #expect(response.message == message)
                        } else {
                            // Later calls tend to finish first: responses arrive out of order.
                            let delay = Int64((callCount - tag) % 25)
                            let response = try await connection.call(
                                TestAPI.asyncEcho,
                                .with {
                                    $0.seq = UInt64(tag)
                                    $0.nowMs = delay
                                }
                            )
                            #expect(response.seq == UInt64(tag))
                            #expect(response.nowMs == delay)
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(connection.isActive)
            await connection.close()
        }
    }

    @Test func callsFromManyConnectionsAreServedSideBySide() async throws {
        let probe = Probe()
        try await TestServer.with(router: TestAPI.router(probe: probe)) { server in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for client in 0..<8 {
                    group.addTask {
                        let connection = try await server.connect()
                        for call in 0..<25 {
                            let tag = UInt64(client * 1000 + call)
                            #expect(try await connection.call(TestAPI.asyncEcho, .with { $0.seq = tag }).seq == tag)
                        }
                        await connection.close()
                    }
                }
                try await group.waitForAll()
            }
        }
    }

    @Test(arguments: [RPCError.Code.notFound, .invalidArgument, .failedPrecondition, .alreadyExists, .unavailable])
    func handlerThrowingRPCErrorReachesTheClientUnchanged(code: RPCError.Code) async throws {
        let probe = Probe()
        try await TestServer.with(router: TestAPI.router(probe: probe)) { server in
            let connection = try await server.connect()
            let request = Segments_V1_Status.with {
                $0.code = code.wireValue
                $0.message = "user 'ü-42' has no such thing"
            }
            for method in [TestAPI.inlineFail, TestAPI.asyncFail] {
                let error = await #expect(throws: RPCError.self) {
                    _ = try await connection.call(method, request)
                }
                #expect(error == RPCError(code, "user 'ü-42' has no such thing"), "\(method.name)")
            }
            // The connection carries on after failed calls.
            #expect(try await connection.call(TestAPI.inlineEcho, request) == request)
            await connection.close()
        }
    }

    @Test func otherHandlerErrorsAreInternalWithoutDetails() async throws {
        let probe = Probe()
        try await TestServer.with(router: TestAPI.router(probe: probe)) { server in
            let connection = try await server.connect()
            let error = await #expect(throws: RPCError.self) {
                _ = try await connection.call(TestAPI.asyncCrash, .init())
            }
            #expect(error?.code == .internalError)
            #expect(error?.message.contains("secret") == false)
            await connection.close()
        }
    }

    @Test func requestThatIsNotTheMethodsMessageIsInvalidArgument() async throws {
        let probe = Probe()
        try await TestServer.with(router: TestAPI.router(probe: probe)) { server in
            let connection = try await server.connect()
            // ResponseFrame's field 2 is bytes, Status's field 2 a string: invalid UTF-8 there
            // makes the payload an invalid Status.
            let impostor = UnaryMethod<Segments_V1_ResponseFrame, Segments_V1_Status>(TestAPI.inlineEcho.name)
            for bogus in [impostor, UnaryMethod(TestAPI.asyncFail.name)] {
                let error = await #expect(throws: RPCError.self) {
                    _ = try await connection.call(bogus, .with { $0.payload = .init([0xFF, 0xFE, 0xFD]) })
                }
                #expect(error?.code == .invalidArgument)
                #expect(error?.message.contains("segments.v1.Status") == true)
            }
            await connection.close()
        }
    }

    @Test func unknownMethodIsUnimplemented() async throws {
        let probe = Probe()
        try await TestServer.with(router: TestAPI.router(probe: probe)) { server in
            let connection = try await server.connect()
            let error = await #expect(throws: RPCError.self) {
                _ = try await connection.call(TestAPI.missing, .init())
            }
            #expect(error?.code == .unimplemented)
            #expect(error?.message.contains(TestAPI.missing.name) == true)

            let streamError = await #expect(throws: RPCError.self) {
                for try await _ in connection.stream(TestAPI.missingStream, .init()) {
                    Issue.record("no message expected")
                }
            }
            #expect(streamError?.code == .unimplemented)
            #expect(try await connection.call(TestAPI.asyncEcho, .with { $0.seq = 1 }).seq == 1)
            await connection.close()
        }
    }

    @Test func callsBeyondTheInFlightLimitAreResourceExhausted() async throws {
        let probe = Probe()
        try await TestServer.with(router: TestAPI.router(probe: probe), maximumCallsInFlight: 3) { server in
            let connection = try await server.connect()
            try await withThrowingTaskGroup(of: UInt64.self) { group in
                defer { probe.gate.open() }
                for tag in UInt64(1)...3 {
                    group.addTask { try await connection.call(TestAPI.gated, .with { $0.seq = tag }).seq }
                }
                try await probe.waitFor(.gatedStarted, times: 3)
                let error = await #expect(throws: RPCError.self) {
                    _ = try await connection.call(TestAPI.asyncEcho, .init())
                }
                #expect(error?.code == .resourceExhausted)
                // Inline calls do not count: they never wait.
                #expect(try await connection.call(TestAPI.inlineEcho, .with { $0.message = "x" }).message == "x")
                probe.gate.open()
                var finished: [UInt64] = []
                for try await tag in group { finished.append(tag) }
                #expect(finished.sorted() == [1, 2, 3])
            }
            #expect(try await connection.call(TestAPI.asyncEcho, .with { $0.seq = 4 }).seq == 4)
            await connection.close()
        }
    }

    @Test func connectionsBeyondTheLimitAreRefusedWithTheReason() async throws {
        let probe = Probe()
        try await TestServer.with(router: TestAPI.router(probe: probe), maximumConnections: 2) { server in
            let first = try await server.connect()
            let second = try await server.connect()
            #expect(try await first.call(TestAPI.asyncEcho, .with { $0.seq = 1 }).seq == 1)
            #expect(try await second.call(TestAPI.asyncEcho, .with { $0.seq = 2 }).seq == 2)
            let third = try await server.connect()
            let error = await #expect(throws: RPCError.self) {
                _ = try await third.call(TestAPI.asyncEcho, .init())
            }
            #expect(error?.code == .resourceExhausted)
            #expect(error?.message.contains("2 connections open, its limit (--max-connections)") == true)
            await third.close()
            // Room again once a connection goes: the server notices the close, then admits a new one.
            await first.close()
            var admitted = false
            for _ in 0..<100 where !admitted {
                let next = try await server.connect()
                admitted = (try? await next.call(TestAPI.asyncEcho, .with { $0.seq = 3 }))?.seq == 3
                await next.close()
                if !admitted { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(admitted)
            #expect(try await second.call(TestAPI.asyncEcho, .with { $0.seq = 4 }).seq == 4)
            await second.close()
        }
    }

    @Test func callsBeyondTheCallersRoleAreRefusedNamingTheRoleNeeded() async throws {
        // The daemon's user is someone else, so this process gets the `others` role.
        let access = try RPCAccessPolicy(parsing: "others = writer", source: "test", ownerUID: 4_242_424)
        try await TestServer.with(router: TestAPI.router(probe: Probe()), access: access) { server in
            let connection = try await server.connect()
            #expect(try await connection.call(TestAPI.inlineEcho, .with { $0.message = "ok" }).message == "ok")
            var counted = 0
            for try await _ in connection.stream(TestAPI.count, .with { $0.seq = 3 }) { counted += 1 }
            #expect(counted == 3)
            let error = await #expect(throws: RPCError.self) {
                _ = try await connection.call(TestAPI.asyncEcho, .with { $0.seq = 1 })
            }
            #expect(error?.code == .permissionDenied)
            #expect(error?.message.hasPrefix("AsyncEcho needs the admin role; this caller (uid ") == true)
            #expect(error?.message.hasSuffix("has the writer role") == true)
            // The connection goes on.
            #expect(try await connection.call(TestAPI.inlineEcho, .with { $0.message = "still" }).message == "still")
            await connection.close()
        }
    }

    @Test func aCallerWithNoAccessIsToldSoOnEveryCall() async throws {
        let access = try RPCAccessPolicy(parsing: "others = none", source: "test", ownerUID: 4_242_424)
        try await TestServer.with(router: TestAPI.router(probe: Probe()), access: access) { server in
            let connection = try await server.connect()
            for _ in 0..<3 {
                let error = await #expect(throws: RPCError.self) {
                    _ = try await connection.call(TestAPI.inlineEcho, .init())
                }
                #expect(error?.code == .permissionDenied)
                #expect(error?.message.contains("has no access to this socket") == true, "\(String(describing: error))")
            }
            await connection.close()
        }
    }

    @Test func connectingWhereNothingListensIsUnavailable() async throws {
        let error = await #expect(throws: RPCError.self) {
            _ = try await RPCConnection.connect(to: "/tmp/segments-no-such-dir/none.sock")
        }
        #expect(error?.code == .unavailable)
    }

    @Test func callsOnAClosedConnectionAreUnavailable() async throws {
        let probe = Probe()
        try await TestServer.with(router: TestAPI.router(probe: probe)) { server in
            let connection = try await server.connect()
            await connection.close()
            #expect(!connection.isActive)
            let error = await #expect(throws: RPCError.self) {
                _ = try await connection.call(TestAPI.inlineEcho, .init())
            }
            #expect(error?.code == .unavailable)
        }
    }
}
