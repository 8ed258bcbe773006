import Foundation
import Testing

/// The hostile, randomized workload (`HostileWorkload.swift`) at its CI size: one epoch of fresh
/// daemons, 2 epochs of 10 phases of 3 concurrent clients, with restarts of both daemons.
///
/// `SEGMENTS_HOSTILE_SEED=N` picks the seed; `SEGMENTS_HOSTILE_SOAK_SECONDS=S` turns it into the
/// soak: epochs of 40 phases of 4 clients, each epoch with fresh daemons and the next seed, until
/// S seconds have passed (`dev/soak.sh`).
@Suite(.serialized) struct HostileWorkloadTests {
    @Test func concurrentClientsRestartsAndWatchersKeepEverySegmentExact() async throws {
        let environment = ProcessInfo.processInfo.environment
        var settings = HostileSettings(seed: environment["SEGMENTS_HOSTILE_SEED"].flatMap(UInt64.init) ?? 20_261_205)
        if let seconds = environment["SEGMENTS_HOSTILE_SOAK_SECONDS"].flatMap(Int.init) {
            settings.soakDuration = .seconds(seconds)
            settings.phasesPerEpoch = 40
            settings.clients = 4
            settings.actionsPerClient = 25
        }
        let report = try await HostileWorkload(settings: settings).run()
        print("hostile workload:\n\(report)")
        #expect(report.phases >= settings.phasesPerEpoch)
        #expect(report.restarts.count == 4, "every kind of restart: \(report.restarts)")
        #expect(report.restarts.values.reduce(0, +) > 0, "the run restarted daemons")
        #expect(report.segmentChecks > 0)
    }
}
