import DaemonSupport
import Foundation
import Testing

/// The lock around the evaluator's engine and persistence: exclusive, and typed errors pass through it.
@Suite struct SleepingMutexTests {
    @Test func excludesAcrossThreadsAndPassesTypedErrorsThrough() async throws {
        let counter = SleepingMutex(0)
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            for _ in 0..<50_000 { counter.withLock { $0 += 1 } }
        }
        #expect(counter.withLock { $0 } == 200_000)

        struct Refused: Error, Equatable { let code: Int }
        #expect(throws: Refused(code: 7)) {
            try counter.withLock { (value: inout Int) throws(Refused) -> Void in
                value = -1
                throw Refused(code: 7)
            }
        }
        // Released by the throw; what the body wrote stays.
        #expect(counter.withLock { $0 } == -1)
    }
}
