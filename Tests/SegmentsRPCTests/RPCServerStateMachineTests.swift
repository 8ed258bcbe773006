import SegmentsWire
import Testing

@testable import SegmentsRPC

/// The server connection's protocol state as a plain value: events in, actions out.
@Suite struct RPCServerStateMachineTests {
    typealias Machine = RPCServerStateMachine<String>

    @Test func callsInFlightAreLimitedAndTheirIDsCannotBeReused() {
        var machine = Machine(maximumCallsInFlight: 2)
        guard case .accept = machine.request(1) else {
            Issue.record("call 1 refused")
            return
        }
        #expect(machine.startTask(1, control: nil) == nil)
        #expect(machine.startTask(2, control: "stream 2") == nil)
        #expect(machine.startTask(3, control: nil)?.code == .resourceExhausted)
        guard case .close = machine.request(2) else {
            Issue.record("a reused call id was accepted")
            return
        }
        #expect(machine.callEnded(2) == false)
        guard case .accept = machine.request(2) else {
            Issue.record("an ended call's id is free again")
            return
        }
        #expect(machine.startTask(3, control: nil) == nil)
    }

    @Test func cancelsAndGrantsReachOnlyCallsInFlight() {
        var machine = Machine(maximumCallsInFlight: 8)
        _ = machine.startTask(1, control: nil)
        _ = machine.startTask(2, control: "stream 2")
        guard case .apply(nil) = machine.control(of: 1) else {
            Issue.record("unary call not found")
            return
        }
        guard case .apply("stream 2") = machine.control(of: 2) else {
            Issue.record("stream not found")
            return
        }
        guard case .none = machine.control(of: 3) else {
            Issue.record("a call nobody made was found")
            return
        }
        _ = machine.callEnded(2)
        guard case .none = machine.control(of: 2) else {
            Issue.record("an ended stream was found")
            return
        }
    }

    @Test func drainingCancelsStreamsRefusesNewCallsAndClosesAfterTheLast() {
        var machine = Machine(maximumCallsInFlight: 8)
        _ = machine.startTask(1, control: nil)
        _ = machine.startTask(2, control: "stream 2")
        let (cancel, closeNow) = machine.drain()
        #expect(cancel == ["stream 2"])
        #expect(!closeNow)
        guard case .refuse(let error) = machine.request(3) else {
            Issue.record("a call started while draining")
            return
        }
        #expect(error.code == .unavailable)
        #expect(machine.startTask(3, control: nil)?.code == .unavailable)
        // Draining twice changes nothing.
        #expect(machine.drain().cancel.isEmpty)
        #expect(machine.callEnded(2) == false)
        #expect(machine.callEnded(1) == true)
    }

    @Test func drainingAnIdleConnectionClosesItAtOnce() {
        var machine = Machine(maximumCallsInFlight: 8)
        let (cancel, closeNow) = machine.drain()
        #expect(cancel.isEmpty)
        #expect(closeNow)
    }

    @Test func anIdleConnectionClosesOnlyWithoutCallsInFlight() {
        var machine = Machine(maximumCallsInFlight: 8)
        #expect(machine.idle())
        _ = machine.startTask(1, control: nil)
        #expect(!machine.idle())
        _ = machine.callEnded(1)
        #expect(machine.idle())
    }

    @Test func closingCancelsTheStreamsInFlight() {
        var machine = Machine(maximumCallsInFlight: 8)
        _ = machine.startTask(1, control: nil)
        _ = machine.startTask(2, control: "stream 2")
        #expect(machine.closed() == ["stream 2"])
        #expect(machine.closed().isEmpty)
        #expect(machine.callEnded(1) == false)
        #expect(!machine.idle())
        guard case .refuse = machine.request(4) else {
            Issue.record("a call accepted after close")
            return
        }
    }
}
