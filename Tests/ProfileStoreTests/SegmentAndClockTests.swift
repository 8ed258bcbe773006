import SegmentsClient
import SegmentsTesting
import SegmentsWire
import Testing

@Suite struct SegmentAndClockTests {
    @Test func segmentsAreCheckedCanonicalizedAndListed() async throws {
        try await withStore { store in
            let client = store.client
            let saved = try await client.putSegment(
                "b",
                expression: "count( purchase  within 24h )>=1 # buyers",
                mode: .create
            )
            #expect(saved.expression == "count(purchase within 24h) >= 1")
            try await client.putSegment("a", expression: #"in_segment("b") and plan == "pro""#, mode: .create)
            #expect(try await client.segments().map(\.name) == ["a", "b"])
            #expect(
                await errorCode { try await client.putSegment("a", expression: "true = true", mode: .create) }
                    == .alreadyExists
            )
            #expect(
                await errorCode { try await client.putSegment("zz", expression: "exists(x)", mode: .update) }
                    == .notFound
            )
            #expect(await errorCode { _ = try await client.segment("zz") } == .notFound)
            // A cycle and an unknown reference are refused with positions; nothing is saved.
            do throws(SegmentsClientError) {
                try await client.putSegment("b", expression: #"in_segment("a")"#)
                Issue.record("cycle accepted")
            } catch {
                #expect(error.code == .invalidArgument)
                #expect(error.message.contains("1:1:"))
                #expect(error.message.contains("b -> a -> b"))
            }
            do throws(SegmentsClientError) {
                try await client.putSegment("c", expression: "count(purchase within 30 days) > 1")
                Issue.record("bad expression accepted")
            } catch {
                #expect(error.message.contains("1:23: expected a duration after 'within'"))
            }
            do throws(SegmentsClientError) {
                try await client.putSegment("c", expression: #"plan = "pro" and trait("ltv") > 500"#)
                Issue.record("an unknown trait accepted")
            } catch {
                #expect(error.code == .invalidArgument)
                #expect(error.message.contains(#"1:18: trait("ltv") names no saved trait"#))
            }
            #expect(try await client.segment("b").expression == "count(purchase within 24h) >= 1")
            // In use: refused; after removing the user of it: deleted.
            #expect(await errorCode { try await client.deleteSegment("b") } == .failedPrecondition)
            try await client.deleteSegment("a")
            try await client.deleteSegment("b")
            #expect(try await client.segments().isEmpty)
        }
    }

    @Test func invalidSegmentNamesAreRefused() async throws {
        try await withStore { store in
            for name in ["", "-x", "a b", "é", String(repeating: "a", count: 129)] {
                #expect(
                    await errorCode { try await store.client.putSegment(name, expression: "exists(x)") }
                        == .invalidArgument
                )
            }
        }
    }

    @Test func manualClockMovesForwardOnlyAndIsLogged() async throws {
        try await withStore(manualClockMs: 10_000) { store in
            let client = store.client
            #expect(try await client.advanceClock(byMs: 5000).nowMs == 15_000)
            #expect(try await client.setClock(toMs: 20_000).nowMs == 20_000)
            #expect(await errorCode { try await client.setClock(toMs: 19_999) } == .invalidArgument)
            #expect(await errorCode { try await client.advanceClock(byMs: -1) } == .invalidArgument)
            let undated = try await client.track([SegmentsEvent(userID: "u", name: "e")])
            let log = try await readLog(client, fromSeq: 1, count: 3)
            #expect(log[0].clockMoved.nowMs == 15_000)
            #expect(log[1].clockMoved.nowMs == 20_000)
            #expect(log[2].eventsTracked.events[0].atMs == 20_000)
            #expect(log[2].committedAtMs == 20_000)
            #expect(undated.seq == 3)
        }
    }

    @Test func wallClockCannotBeMoved() async throws {
        try await withStore(manualClockMs: nil) { store in
            let code = await errorCode { try await store.client.advanceClock(byMs: 1) }
            #expect(code == .failedPrecondition)
            let info = try await store.client.storeInfo()
            #expect(info.manualClock == false)
        }
    }

    @Test func manualClockNeverGoesBackAcrossRestarts() async throws {
        try await withStoreDirectory { directory in
            try await InProcessProfileStore.with(directory: directory, manualClockMs: 1000) { store in
                _ = try await store.client.setClock(toMs: 50_000)
            }
            try await InProcessProfileStore.with(directory: directory, manualClockMs: 1000) { store in
                let info = try await store.client.storeInfo()
                #expect(info.nowMs == 50_000)
                #expect(info.headSeq == 1)
            }
        }
    }
}
