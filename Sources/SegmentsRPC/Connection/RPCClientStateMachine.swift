import SegmentsWire

/// The protocol state of one client connection: the calls waiting for responses, and whether the
/// connection has closed. A plain value, tested on its own (`RPCClientStateMachineTests`):
/// ``RPCClientHandler`` feeds it what happens on the channel and performs the actions it returns.
///
/// Generic over what completes a call (`Unary`: a promise; `Stream`: a response stream's source)
/// and over the payload's type, so that the tests can use plain values.
struct RPCClientStateMachine<Unary, Stream, Payload: Collection> {
    /// A call waiting for its response.
    enum Call {
        case unary(Unary)
        case stream(Stream)
    }

    private enum State {
        case open(pending: [UInt64: Call])
        /// No call can start; the first reason the connection closed.
        case closed(RPCError)
    }

    private var state: State = .open(pending: [:])

    // MARK: - Starting a call

    /// What to do with a call's request.
    enum StartAction {
        /// Send the request frame.
        case send
        /// The connection is closed: fail the call (and the write) with the error.
        case fail(Call, RPCError)
    }

    /// A call is about to send its request.
    mutating func start(_ callID: UInt64, _ call: Call) -> StartAction {
        switch self.state {
        case .open(var pending):
            pending[callID] = call
            self.state = .open(pending: pending)
            return .send
        case .closed(let error):
            return .fail(call, error)
        }
    }

    // MARK: - Responses

    /// How a stream ends.
    enum StreamEnd {
        case finished
        case failed(RPCError)
    }

    /// What to do with a response frame.
    enum ResponseAction {
        /// Nothing waits for it (a call cancelled or given up on, or the connection closed).
        case ignore
        case succeed(Unary, payload: Payload)
        case fail(Unary, RPCError)
        /// Give the stream's consumer `payload` when there is one, then end the stream when `end` is set.
        case deliver(Stream, payload: Payload?, end: StreamEnd?)
    }

    /// A response frame arrived for `callID`.
    /// - Parameters:
    ///   - end: the frame ends the call.
    ///   - failure: the error status of an end frame (`nil`: OK).
    ///   - payload: the frame's message.
    mutating func receive(callID: UInt64, end: Bool, failure: RPCError?, payload: Payload) -> ResponseAction {
        guard case .open(var pending) = self.state, let call = pending[callID] else { return .ignore }
        switch call {
        case .unary(let unary):
            pending.removeValue(forKey: callID)
            self.state = .open(pending: pending)
            return failure.map { .fail(unary, $0) } ?? .succeed(unary, payload: payload)
        case .stream(let stream):
            // Every non-end frame carries one message, and a message whose fields all hold their
            // defaults serializes to zero bytes: an empty payload is still a message. An end frame
            // carries one only when its payload is not empty.
            let message = !end || !payload.isEmpty ? payload : nil
            guard end else { return .deliver(stream, payload: message, end: nil) }
            pending.removeValue(forKey: callID)
            self.state = .open(pending: pending)
            return .deliver(stream, payload: message, end: failure.map { .failed($0) } ?? .finished)
        }
    }

    // MARK: - Flow control and cancellation

    /// Whether a grant for `callID` is to be sent: the call is a stream still waiting for frames.
    func acceptsGrant(_ callID: UInt64) -> Bool {
        guard case .open(let pending) = self.state, case .stream = pending[callID] else { return false }
        return true
    }

    /// What to do when a caller goes away.
    enum CancelAction {
        /// The call is not waiting (it ended, or the connection closed).
        case none
        /// Tell the server to cancel the call; fail `failing` (a unary caller still waiting) with the reason.
        case tellServer(failing: Unary?)
    }

    /// The caller of `callID` went away (a stream's consumer, a cancelled unary caller, or one whose
    /// deadline passed).
    mutating func cancel(_ callID: UInt64) -> CancelAction {
        guard case .open(var pending) = self.state, let call = pending.removeValue(forKey: callID) else {
            return .none
        }
        self.state = .open(pending: pending)
        if case .unary(let unary) = call { return .tellServer(failing: unary) }
        return .tellServer(failing: nil)
    }

    // MARK: - Closing

    /// The connection closed, failed, or the server broke the protocol: every waiting call is to
    /// fail with `error`, and later calls with the first such error.
    /// - Returns: the calls to fail, and the error to fail them with.
    mutating func close(_ error: RPCError) -> (calls: [Call], error: RPCError) {
        switch self.state {
        case .open(let pending):
            self.state = .closed(error)
            return (Array(pending.values), error)
        case .closed(let first):
            return ([], first)
        }
    }
}
