import SegmentsWire

/// The protocol state of one server connection: the calls in flight (each with what stops and
/// paces it, `Control`), and whether the connection is serving, draining for shutdown, or closed.
/// A plain value, tested on its own (`RPCServerStateMachineTests`): ``RPCServerHandler`` feeds it
/// what arrives and performs the actions it returns.
struct RPCServerStateMachine<Control> {
    private enum State {
        case serving(inFlight: [UInt64: Control?])
        /// Shutting down: no new call; the connection closes when the last call in flight ends.
        case draining(inFlight: [UInt64: Control?])
        case closed
    }

    private var state: State = .serving(inFlight: [:])
    /// The most calls handed to tasks at once on this connection.
    let maximumCallsInFlight: Int

    init(maximumCallsInFlight: Int) {
        self.maximumCallsInFlight = maximumCallsInFlight
    }

    private var inFlight: [UInt64: Control?] {
        switch self.state {
        case .serving(let calls), .draining(let calls): return calls
        case .closed: return [:]
        }
    }

    // MARK: - Frames

    /// What to do with a frame that cancels a call or grants it frames.
    enum ControlAction {
        /// The call is not in flight (it ended): nothing.
        case none
        /// Apply to the call's control (`nil`: a unary call, which has none).
        case apply(Control?)
    }

    /// The client cancels `callID`, or grants it more frames: applies to the call in flight.
    func control(of callID: UInt64) -> ControlAction {
        guard let control = self.inFlight[callID] else { return .none }
        return .apply(control)
    }

    /// What to do with a new call's request.
    enum RequestAction {
        /// Look up its method and run it.
        case accept
        /// Answer the call with this error (and keep the connection).
        case refuse(RPCError)
        /// The client broke the protocol: close the connection.
        case close(reason: String)
    }

    /// A request frame for a new call arrived.
    func request(_ callID: UInt64) -> RequestAction {
        switch self.state {
        case .serving(let calls):
            return calls[callID] != nil ? .close(reason: "call id reused while in flight") : .accept
        case .draining(let calls):
            return calls[callID] != nil
                ? .close(reason: "call id reused while in flight")
                : .refuse(RPCError(.unavailable, "server is shutting down"))
        case .closed:
            return .refuse(RPCError(.unavailable, "connection closed"))
        }
    }

    /// A call is to run in a task (not answered on the event loop): it counts as in flight until
    /// ``callEnded(_:)``.
    /// - Returns: `nil` when it may start, else the error to answer it with.
    mutating func startTask(_ callID: UInt64, control: Control?) -> RPCError? {
        guard case .serving(var calls) = self.state else {
            return RPCError(.unavailable, "server is shutting down")
        }
        guard calls.count < self.maximumCallsInFlight else {
            return RPCError(.resourceExhausted, "more than \(self.maximumCallsInFlight) calls in flight")
        }
        calls[callID] = .some(control)
        self.state = .serving(inFlight: calls)
        return nil
    }

    // MARK: - Ends

    /// A call's task ended.
    /// - Returns: whether to close the connection now (draining, and it was the last call).
    mutating func callEnded(_ callID: UInt64) -> Bool {
        switch self.state {
        case .serving(var calls):
            calls.removeValue(forKey: callID)
            self.state = .serving(inFlight: calls)
            return false
        case .draining(var calls):
            calls.removeValue(forKey: callID)
            self.state = .draining(inFlight: calls)
            return calls.isEmpty
        case .closed:
            return false
        }
    }

    /// The server shuts down: stop taking calls, cancel the streams.
    /// - Returns: the controls to cancel, and whether to close the connection now (no call in
    ///   flight).
    mutating func drain() -> (cancel: [Control], closeNow: Bool) {
        guard case .serving(let calls) = self.state else { return ([], false) }
        self.state = .draining(inFlight: calls)
        return (calls.values.compactMap { $0 }, calls.isEmpty)
    }

    /// The connection has been idle past the server's idle timeout.
    /// - Returns: whether to close it (not while calls are in flight).
    func idle() -> Bool {
        if case .closed = self.state { return false }
        return self.inFlight.isEmpty
    }

    /// The connection closed.
    /// - Returns: the controls of the calls in flight, to cancel.
    mutating func closed() -> [Control] {
        let calls = self.inFlight
        self.state = .closed
        return calls.values.compactMap { $0 }
    }
}
