import SegmentsWire
import Testing

@testable import SegmentsRPC

/// The client connection's protocol state as a plain value: events in, actions out.
@Suite struct RPCClientStateMachineTests {
    typealias Machine = RPCClientStateMachine<String, String, [UInt8]>

    @Test func aUnaryCallSucceedsOnceAndLaterFramesForItAreIgnored() {
        var machine = Machine()
        guard case .send = machine.start(1, .unary("call 1")) else {
            Issue.record("not sent")
            return
        }
        guard case .succeed("call 1", [7]) = machine.receive(callID: 1, end: true, failure: nil, payload: [7]) else {
            Issue.record("not answered")
            return
        }
        guard case .ignore = machine.receive(callID: 1, end: true, failure: nil, payload: [8]) else {
            Issue.record("answered twice")
            return
        }
        guard case .ignore = machine.receive(callID: 9, end: true, failure: nil, payload: []) else {
            Issue.record("a call nobody made was answered")
            return
        }
    }

    @Test func aUnaryCallFailsWithTheServersStatus() {
        var machine = Machine()
        _ = machine.start(1, .unary("call 1"))
        let status = RPCError(.notFound, "no such user")
        guard case .fail("call 1", let error) = machine.receive(callID: 1, end: true, failure: status, payload: [])
        else {
            Issue.record("not failed")
            return
        }
        #expect(error == status)
    }

    @Test func aStreamDeliversEveryMessageThenEnds() {
        var machine = Machine()
        _ = machine.start(3, .stream("stream 3"))
        // An empty payload before the end is a message whose fields all hold their defaults.
        guard case .deliver("stream 3", [], nil) = machine.receive(callID: 3, end: false, failure: nil, payload: [])
        else {
            Issue.record("empty message not delivered")
            return
        }
        guard
            case .deliver("stream 3", [1, 2], nil) = machine.receive(
                callID: 3,
                end: false,
                failure: nil,
                payload: [1, 2]
            )
        else {
            Issue.record("message not delivered")
            return
        }
        #expect(machine.acceptsGrant(3))
        // An end frame without a payload carries no message.
        guard
            case .deliver("stream 3", nil, .finished) = machine.receive(callID: 3, end: true, failure: nil, payload: [])
        else {
            Issue.record("not finished")
            return
        }
        #expect(!machine.acceptsGrant(3))
        guard case .ignore = machine.receive(callID: 3, end: false, failure: nil, payload: [1]) else {
            Issue.record("delivered after the end")
            return
        }
    }

    @Test func aStreamEndsWithItsLastMessageOrItsError() {
        var machine = Machine()
        _ = machine.start(1, .stream("a"))
        _ = machine.start(2, .stream("b"))
        guard case .deliver("a", [5], .finished) = machine.receive(callID: 1, end: true, failure: nil, payload: [5])
        else {
            Issue.record("last message lost")
            return
        }
        let status = RPCError(.resourceExhausted, "too slow")
        guard
            case .deliver("b", nil, .failed(let error)) = machine.receive(
                callID: 2,
                end: true,
                failure: status,
                payload: []
            )
        else {
            Issue.record("error lost")
            return
        }
        #expect(error == status)
    }

    @Test func grantsGoOnlyToOpenStreams() {
        var machine = Machine()
        _ = machine.start(1, .unary("u"))
        _ = machine.start(2, .stream("s"))
        #expect(!machine.acceptsGrant(1))
        #expect(machine.acceptsGrant(2))
        #expect(!machine.acceptsGrant(3))
        _ = machine.close(RPCError(.unavailable, "gone"))
        #expect(!machine.acceptsGrant(2))
    }

    @Test func cancellingTellsTheServerOnceAndDropsTheLateAnswer() {
        var machine = Machine()
        _ = machine.start(1, .unary("u"))
        _ = machine.start(2, .stream("s"))
        guard case .tellServer(failing: "u") = machine.cancel(1) else {
            Issue.record("unary not cancelled")
            return
        }
        guard case .tellServer(failing: nil) = machine.cancel(2) else {
            Issue.record("stream not cancelled")
            return
        }
        guard case .none = machine.cancel(1) else {
            Issue.record("cancelled twice")
            return
        }
        guard case .ignore = machine.receive(callID: 1, end: true, failure: nil, payload: [1]) else {
            Issue.record("a cancelled call was answered")
            return
        }
        guard case .ignore = machine.receive(callID: 2, end: false, failure: nil, payload: [1]) else {
            Issue.record("a cancelled stream was fed")
            return
        }
    }

    @Test func closingFailsEveryWaitingCallAndLaterCallsWithTheFirstReason() {
        var machine = Machine()
        _ = machine.start(1, .unary("u"))
        _ = machine.start(2, .stream("s"))
        _ = machine.receive(callID: 2, end: false, failure: nil, payload: [])
        let first = RPCError(.unavailable, "connection closed")
        let (calls, error) = machine.close(first)
        #expect(error == first)
        let names = calls.map { call -> String in
            switch call {
            case .unary(let name), .stream(let name): return name
            }
        }
        #expect(names.sorted() == ["s", "u"])
        // A second reason (the channel's inactivity after a protocol error) changes nothing.
        let (none, kept) = machine.close(RPCError(.internalError, "later"))
        #expect(none.isEmpty)
        #expect(kept == first)
        guard case .fail(.unary("late"), let refused) = machine.start(3, .unary("late")) else {
            Issue.record("a call started on a closed connection")
            return
        }
        #expect(refused == first)
        guard case .none = machine.cancel(1) else {
            Issue.record("cancel after close")
            return
        }
    }
}
