import SegmentLanguage
import SegmentsClient
import SegmentsTesting
import SegmentsWire

/// Runs `body` against an in-process store and evaluator in a fresh temporary directory, with the
/// manual clock at `start`.
func withDaemons<Result: Sendable>(
    start: String = "2026-11-01T00:00:00Z",
    _ body: @Sendable (InProcessDaemons) async throws -> Result
) async throws -> Result {
    try await TemporaryDirectory.with { directory in
        try await InProcessDaemons.with(directory: directory, manualClockMs: ms(start), body)
    }
}

/// An RFC 3339 instant in ms; traps only on a literal typo in a test.
func ms(_ text: String) -> Int64 {
    guard let value = RFC3339.parse(text) else {
        preconditionFailure("bad timestamp literal in a test: \(text)")
    }
    return value
}

/// `(kind, segment, at)` of a user's history, for compact expectations.
func transitions(of user: String, _ client: SegmentsClient) async throws -> [String] {
    try await client.history(ofUser: user).map { "\($0.kind.rawValue) \($0.segment) \(RFC3339.format($0.atMs))" }
}

extension SegmentsClient {
    /// Sets the manual clock and returns the write's seq, for read-your-writes.
    func clock(_ text: String) async throws -> UInt64 {
        try await self.setClock(toMs: ms(text)).seq
    }

    /// Tracks one event at an instant and returns the seq.
    func event(
        _ user: String,
        _ name: String,
        at text: String,
        _ properties: [String: SegmentsValue] = [:]
    ) async throws -> UInt64 {
        try await self.track([SegmentsEvent(userID: user, name: name, atMs: ms(text), properties: properties)]).seq
    }
}
