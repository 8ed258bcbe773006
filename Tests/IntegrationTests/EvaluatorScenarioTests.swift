import SegmentLanguage
import SegmentsClient
import SegmentsTesting
import SegmentsWire
import Testing

/// Deterministic scenarios through the real daemons with the manual clock.
@Suite struct EvaluatorScenarioTests {
    @Test func lapsedBuyerEntersAtLastPurchasePlus30dAndLeavesOnANewPurchase() async throws {
        try await withDaemons { daemons in
            let client = daemons.client
            try await client.putSegment("lapsed", expression: "count(purchase) >= 1 and count(purchase within 30d) = 0")
            var seq = try await client.event("u1", "purchase", at: "2026-10-25T12:00:00Z")
            #expect(try await client.check("u1", in: "lapsed", minSeq: seq).member == false)
            seq = try await client.clock("2026-11-24T11:59:59.999Z")
            #expect(try await client.check("u1", in: "lapsed", minSeq: seq).member == false)
            seq = try await client.clock("2026-11-24T12:00:00Z")
            let check = try await client.check("u1", in: "lapsed", minSeq: seq)
            #expect(check.member)
            #expect(check.sinceMs == ms("2026-11-24T12:00:00Z"))
            // A jump far past the due instant still records the due instant.
            seq = try await client.clock("2026-12-10T00:00:00Z")
            seq = try await client.event("u1", "purchase", at: "2026-12-09T00:00:00Z")
            #expect(try await client.check("u1", in: "lapsed", minSeq: seq).member == false)
            #expect(
                try await transitions(of: "u1", client) == [
                    "enter lapsed 2026-11-24T12:00:00Z", "exit lapsed 2026-12-10T00:00:00Z",
                ]
            )
        }
    }

    @Test func cartAbandonerAndWindowedSumAgeOut() async throws {
        try await withDaemons { daemons in
            let client = daemons.client
            try await client.putSegment(
                "abandoner",
                expression: "count(add_to_cart within 2d) >= 1 and count(purchase within 2d) = 0"
            )
            try await client.putSegment("big_spender", expression: "sum(purchase.amount within 90d) > 500")
            _ = try await client.event("u1", "add_to_cart", at: "2026-11-01T00:00:00Z")
            _ = try await client.event("u2", "add_to_cart", at: "2026-11-01T00:00:00Z")
            var seq = try await client.event("u2", "purchase", at: "2026-11-01T00:00:00Z", ["amount": .number(300)])
            #expect(try await client.members("abandoner", minSeq: seq) == ["u1"])
            _ = try await client.event("u2", "purchase", at: "2026-10-15T00:00:00Z", ["amount": .number(250)])
            seq = try await client.event("u3", "purchase", at: "2026-10-01T00:00:00Z", ["amount": .number(600)])
            #expect(try await client.members("big_spender", minSeq: seq) == ["u2", "u3"])
            // u1's cart leaves the 2d window at exactly 2026-11-03T00:00:00Z.
            seq = try await client.clock("2026-11-03T00:00:00Z")
            #expect(try await client.members("abandoner", minSeq: seq).isEmpty)
            // u3's purchase leaves the 90d window at 2026-12-30T00:00:00Z; u2's older one at 2027-01-13.
            seq = try await client.clock("2027-02-01T00:00:00Z")
            #expect(try await client.members("big_spender", minSeq: seq).isEmpty)
            #expect(
                try await transitions(of: "u1", client) == [
                    "enter abandoner 2026-11-01T00:00:00Z", "exit abandoner 2026-11-03T00:00:00Z",
                ]
            )
            #expect(
                try await transitions(of: "u3", client) == [
                    "enter big_spender 2026-11-01T00:00:00Z", "exit big_spender 2026-12-30T00:00:00Z",
                ]
            )
            // u2 was briefly an abandoner: its cart and its purchase came in separate writes.
            #expect(
                try await transitions(of: "u2", client) == [
                    "enter abandoner 2026-11-01T00:00:00Z", "exit abandoner 2026-11-01T00:00:00Z",
                    "enter big_spender 2026-11-01T00:00:00Z", "exit big_spender 2027-01-13T00:00:00Z",
                ]
            )
        }
    }

    @Test func timestampAttributeCrosses14dAgoAndChainsUpdateInOneStep() async throws {
        try await withDaemons { daemons in
            let client = daemons.client
            try await client.putSegment("employees", expression: #"email ends_with "@segments.dev""#)
            try await client.putSegment("new", expression: "signup_at > 14d ago")
            try await client.putSegment(
                "new_customer",
                expression: #"in_segment("new") and not in_segment("employees")"#
            )
            _ = try await client.setProfile("u1", ["signup_at": .string("2026-10-25T00:00:00Z")])
            // Unix seconds work too.
            let seq = try await client.setProfile(
                "u2",
                ["signup_at": .number(1_793_232_000), "email": .string("a@segments.dev")]
            ).seq
            #expect(try await client.segments(of: "u1", minSeq: seq) == ["new", "new_customer"])
            #expect(try await client.segments(of: "u2", minSeq: seq) == ["employees", "new"])
            let after = try await client.clock("2026-11-20T00:00:00Z")
            #expect(try await client.segments(of: "u1", minSeq: after).isEmpty)
            let history = try await client.history(ofUser: "u1")
            // Both exits at the crossing instant (signup + 14d), recorded by the same step.
            #expect(history.suffix(2).map(\.atMs) == [ms("2026-11-08T00:00:00Z"), ms("2026-11-08T00:00:00Z")])
            #expect(Set(history.suffix(2).map(\.segment)) == ["new", "new_customer"])
            #expect(Set(history.suffix(2).map(\.storeSeq)).count == 1)
        }
    }

    @Test func deletingAUserOrChangingASegmentProducesExits() async throws {
        try await withDaemons { daemons in
            let client = daemons.client
            try await client.putSegment("pro", expression: #"plan = "pro""#)
            _ = try await client.setProfile("u1", ["plan": .string("pro")])
            var seq = try await client.setProfile("u2", ["plan": .string("pro")]).seq
            #expect(try await client.memberCount("pro", minSeq: seq) == 2)
            seq = try await client.deleteProfile("u1").seq
            #expect(try await client.members("pro", minSeq: seq) == ["u2"])
            seq = try await client.putSegment("pro", expression: #"plan = "enterprise""#).updatedSeq
            #expect(try await client.memberCount("pro", minSeq: seq) == 0)
            seq = try await client.setProfile("u3", ["plan": .string("enterprise")]).seq
            #expect(try await client.members("pro", minSeq: seq) == ["u3"])
            seq = try await client.deleteSegment("pro").seq
            await #expect(throws: SegmentsClientError.self) { _ = try await client.memberCount("pro", minSeq: seq) }
            let status = try await client.evaluatorStatus()
            #expect(status.first?.segmentCount == 0)
            #expect(
                try await transitions(of: "u3", client) == [
                    "enter pro 2026-11-01T00:00:00Z", "exit pro 2026-11-01T00:00:00Z",
                ]
            )
            #expect(
                try await client.history(ofSegment: "pro").map(\.kind) == [.enter, .enter, .exit, .exit, .enter, .exit]
            )
        }
    }

    @Test func newSegmentIsBackFilledFromExistingData() async throws {
        try await withDaemons { daemons in
            let client = daemons.client
            // Data first: the evaluator has no segment reading it yet, so it keeps none of it.
            _ = try await client.setProfile("u1", ["country": .string("DE")])
            _ = try await client.event("u1", "page_view", at: "2026-10-30T00:00:00Z", ["url": .string("/pricing")])
            _ = try await client.event("u1", "page_view", at: "2026-10-31T00:00:00Z", ["url": .string("/pricing/x")])
            _ = try await client.event("u2", "page_view", at: "2026-10-31T00:00:00Z", ["url": .string("/docs")])
            let seq = try await client.putSegment(
                "pricing_de",
                expression: #"country = "DE" and count(page_view where url starts_with "/pricing" within 7d) >= 2"#
            ).updatedSeq
            #expect(try await client.members("pricing_de", minSeq: seq) == ["u1"])
            // And it keeps following: one view leaves the window at 2026-11-06T00:00:00Z.
            let later = try await client.clock("2026-11-06T00:00:00Z")
            #expect(try await client.members("pricing_de", minSeq: later).isEmpty)
        }
    }

    @Test func unknownNamesAndBadRequestsGetClearErrors() async throws {
        try await withDaemons { daemons in
            let client = daemons.client
            try await client.putSegment("pro", expression: #"plan = "pro""#)
            let seq = try await client.setProfile("u1", ["plan": .string("pro")]).seq
            await #expect(throws: SegmentsClientError.self) {
                _ = try await client.check("ghost", in: "pro", minSeq: seq)
            }
            do throws(SegmentsClientError) {
                _ = try await client.check("u1", in: "nosuch")
                Issue.record("unknown segment accepted")
            } catch {
                #expect(error.code == .notFound)
                #expect(error.message == "no segment or list 'nosuch'")
            }
            do throws(SegmentsClientError) {
                _ = try await client.preview("count(purchase within 30 days) > 1")
                Issue.record("bad preview accepted")
            } catch {
                #expect(error.code == .invalidArgument)
                #expect(error.message.contains("1:23:"))
            }
            do {
                for try await _ in try await client.watch(fromSeq: 1000) {}
                Issue.record("watch beyond the log accepted")
            } catch let error as SegmentsClientError {
                #expect(error.code == .outOfRange)
            }
            let preview = try await client.preview(#"plan = "pro" or in_segment("pro")"#, minSeq: seq)
            #expect(preview.count == 1)
            #expect(preview.sample == ["u1"])
        }
    }

    @Test func readYourWritesFromASeparateClient() async throws {
        try await withDaemons { daemons in
            try await daemons.client.putSegment("buyers", expression: "count(purchase) >= 1")
            let other = SegmentsClient(configuration: daemons.client.configuration)
            for index in 0..<50 {
                let seq = try await daemons.client.event("u\(index)", "purchase", at: "2026-10-01T00:00:00Z")
                // Immediately after the acknowledgement, from another connection.
                #expect(try await other.check("u\(index)", in: "buyers", minSeq: seq).member)
            }
            await other.close()
        }
    }
}
