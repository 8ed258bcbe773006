import Foundation
import ProfileStore
import SegmentsRPC
import SegmentsWire
import SwiftProtobuf
import Synchronization

/// Checks of every request handler of the profile store: each input is a few calls (see
/// ``RPCCalls``) made through the store's real router against a real store on a temporary
/// directory, seeded with a few profiles, events, segments, a list and a webhook.
///
/// Properties, besides those of ``RPCCalls/check(_:_:_:)`` for every call: a write that reports
/// a change-log number made that entry — `Subscribe` from it answers a `ChangeBatch` starting
/// there, which SwiftProtobuf and the fast decoder read alike.
///
/// The store is put back to its seeded copy every ``resetInterval`` inputs, so the data stays
/// small; a finding that needs the writes of earlier inputs may therefore not replay alone.
public enum StoreChecks {
    /// Inputs between two resets of the store to its seeded copy.
    static let resetInterval = 200

    /// Every method of the store, in a fixed order (the method byte of an input indexes it).
    static let methods: [FuzzMethod] = [
        .unary(ProfileStoreAPI.upsertProfiles),
        .unary(ProfileStoreAPI.getProfile),
        .unary(ProfileStoreAPI.listUserEvents),
        .unary(ProfileStoreAPI.deleteProfile),
        .unary(ProfileStoreAPI.trackEvents),
        .unary(ProfileStoreAPI.putSegment),
        .unary(ProfileStoreAPI.getSegment),
        .unary(ProfileStoreAPI.listSegments),
        .unary(ProfileStoreAPI.deleteSegment),
        .unary(ProfileStoreAPI.createList),
        .unary(ProfileStoreAPI.changeListMembers),
        .stream(ProfileStoreAPI.listMembers),
        .unary(ProfileStoreAPI.listLists),
        .unary(ProfileStoreAPI.deleteList),
        .unary(ProfileStoreAPI.setClock),
        .unary(ProfileStoreAPI.getInfo),
        .stream(ProfileStoreAPI.subscribe, waitsForMore: true),
        .unary(ProfileStoreAPI.acknowledgeFeed),
        .stream(ProfileStoreAPI.readSnapshot),
        .unary(ProfileStoreAPI.addWebhook),
        .unary(ProfileStoreAPI.listWebhooks),
        .unary(ProfileStoreAPI.removeWebhook),
        .unary(ProfileStoreAPI.putTrait),
        .unary(ProfileStoreAPI.getTrait),
        .unary(ProfileStoreAPI.listTraits),
        .unary(ProfileStoreAPI.deleteTrait),
        .unary(ProfileStoreAPI.getTraitValues),
    ]

    /// Runs one input's calls and checks every answer.
    /// - Parameter input: the fuzz input.
    /// - Throws: ``FuzzFinding`` when a property does not hold.
    public static func check(_ input: [UInt8]) throws(FuzzFinding) {
        let router = try StoreHarness.shared.routerForNextInput()
        let calls = RPCCalls.calls(in: input, methods: Self.methods)
        let outcome = runBlocking { () async -> FuzzFinding? in
            do throws(FuzzFinding) {
                for (method, request) in calls {
                    let result = await RPCCalls.run(method, request, on: router)
                    try RPCCalls.check(method, request, result)
                    if case .response(let response) = result.invocation, let seq = Self.writtenSeq(method, response) {
                        try await Self.checkLogEntry(seq, written: method, on: router)
                    }
                }
                return nil
            } catch {
                return error
            }
        }
        if let outcome { throw outcome }
    }

    /// The change-log number a successful write reports; `nil` for reads and writes that
    /// changed nothing.
    private static func writtenSeq(_ method: FuzzMethod, _ response: [UInt8]) -> UInt64? {
        let seq: UInt64?
        switch method.name {
        case ProfileStoreAPI.putSegment.name: seq = try? Segments_V1_PutSegmentResponse(serializedBytes: response).seq
        case ProfileStoreAPI.putTrait.name: seq = try? Segments_V1_PutTraitResponse(serializedBytes: response).seq
        case ProfileStoreAPI.addWebhook.name: seq = try? Segments_V1_AddWebhookResponse(serializedBytes: response).seq
        case ProfileStoreAPI.setClock.name: seq = try? Segments_V1_ClockResponse(serializedBytes: response).seq
        case ProfileStoreAPI.upsertProfiles.name, ProfileStoreAPI.deleteProfile.name, ProfileStoreAPI.trackEvents.name,
            ProfileStoreAPI.deleteSegment.name, ProfileStoreAPI.createList.name,
            ProfileStoreAPI.changeListMembers.name, ProfileStoreAPI.deleteList.name,
            ProfileStoreAPI.removeWebhook.name, ProfileStoreAPI.deleteTrait.name:
            seq = try? Segments_V1_WriteResponse(serializedBytes: response).seq
        default:
            seq = nil
        }
        return seq == 0 ? nil : seq
    }

    /// `Subscribe` from `seq` answers a batch whose first entry is `seq`, and every batch reads
    /// alike with SwiftProtobuf and the fast decoder.
    private static func checkLogEntry(
        _ seq: UInt64,
        written: FuzzMethod,
        on router: RPCRouter
    ) async throws(FuzzFinding) {
        var request = Segments_V1_SubscribeRequest()
        request.fromSeq = seq
        let bytes = (try? request.serializedBytes() as [UInt8]) ?? []
        let subscribe = FuzzMethod.stream(ProfileStoreAPI.subscribe, waitsForMore: true)
        // The first batch only, waited for as long as any call may take (finding 5 in docs/fuzzing.md).
        let result = await RPCCalls.run(subscribe, bytes, on: router, responses: 1, limit: RPCCalls.callTimeLimit)
        try RPCCalls.check(subscribe, bytes, result)
        guard let first = result.streamed.first, let batch = try? Segments_V1_ChangeBatch(serializedBytes: first),
            batch.entries.first?.seq == seq
        else {
            // The outcome tells a slow first batch (ended by the harness after its live-stream time, nothing
            // streamed) from a store that answered an error or a batch starting elsewhere.
            throw FuzzFinding(
                "\(written.name) reported change \(seq), but Subscribe from it does not start there (outcome "
                    + "\(result.invocation), \(result.streamed.count) frames, ended by the harness: "
                    + "\(result.endedByHarness))"
            )
        }
        for frame in result.streamed {
            try WireChecks.checkFastDecoders(frame)
        }
    }

    /// Inputs to start fuzzing from: every method with a request of the seeded data, and a few
    /// sequences (write then read).
    public static var seeds: [[UInt8]] {
        var single: [(String, any Message)] = []
        single.append((ProfileStoreAPI.upsertProfiles.name, StoreSeed.upsert))
        single.append((ProfileStoreAPI.getProfile.name, Segments_V1_GetProfileRequest.with { $0.userID = "u1" }))
        single.append(
            (ProfileStoreAPI.listUserEvents.name, Segments_V1_ListUserEventsRequest.with { $0.userID = "u1" })
        )
        single.append((ProfileStoreAPI.deleteProfile.name, Segments_V1_DeleteProfileRequest.with { $0.userID = "u2" }))
        single.append((ProfileStoreAPI.trackEvents.name, StoreSeed.track))
        single.append(
            (
                ProfileStoreAPI.putSegment.name,
                Segments_V1_PutSegmentRequest.with {
                    $0.name = "lapsed"
                    $0.expression = "count(purchase) >= 1 and count(purchase within 30d) = 0"
                }
            )
        )
        single.append((ProfileStoreAPI.getSegment.name, Segments_V1_GetSegmentRequest.with { $0.name = "vip" }))
        single.append((ProfileStoreAPI.listSegments.name, Segments_V1_ListSegmentsRequest()))
        single.append((ProfileStoreAPI.deleteSegment.name, Segments_V1_DeleteSegmentRequest.with { $0.name = "vip" }))
        single.append(
            (
                ProfileStoreAPI.putTrait.name,
                Segments_V1_PutTraitRequest.with {
                    $0.name = "ltv"
                    $0.expression = "sum(purchase.amount) / 100"
                }
            )
        )
        single.append((ProfileStoreAPI.getTrait.name, Segments_V1_GetTraitRequest.with { $0.name = "ltv" }))
        single.append((ProfileStoreAPI.listTraits.name, Segments_V1_ListTraitsRequest()))
        single.append((ProfileStoreAPI.deleteTrait.name, Segments_V1_DeleteTraitRequest.with { $0.name = "ltv" }))
        single.append(
            (ProfileStoreAPI.getTraitValues.name, Segments_V1_GetTraitValuesRequest.with { $0.userID = "u1" })
        )
        single.append((ProfileStoreAPI.createList.name, Segments_V1_CreateListRequest.with { $0.name = "staff" }))
        single.append(
            (
                ProfileStoreAPI.changeListMembers.name,
                Segments_V1_ChangeListMembersRequest.with {
                    $0.name = "beta"
                    $0.add = ["u2", "u4"]
                    $0.remove = ["u1"]
                }
            )
        )
        single.append((ProfileStoreAPI.listMembers.name, Segments_V1_ListMembersRequest.with { $0.name = "beta" }))
        single.append((ProfileStoreAPI.listLists.name, Segments_V1_ListListsRequest()))
        single.append((ProfileStoreAPI.deleteList.name, Segments_V1_DeleteListRequest.with { $0.name = "beta" }))
        single.append((ProfileStoreAPI.setClock.name, Segments_V1_SetClockRequest.with { $0.advanceMs = 86_400_000 }))
        single.append(
            (ProfileStoreAPI.setClock.name, Segments_V1_SetClockRequest.with { $0.setMs = StoreSeed.startMs })
        )
        single.append((ProfileStoreAPI.getInfo.name, Segments_V1_GetInfoRequest()))
        single.append(
            (
                ProfileStoreAPI.subscribe.name,
                Segments_V1_SubscribeRequest.with {
                    $0.fromSeq = 1
                    $0.maxBatch = 2
                    $0.subscriberID = "ev-1"
                    $0.name = "fuzz"
                }
            )
        )
        single.append(
            (
                ProfileStoreAPI.acknowledgeFeed.name,
                Segments_V1_AcknowledgeFeedRequest.with {
                    $0.subscriberID = "ev-1"
                    $0.durableSeq = 3
                }
            )
        )
        single.append(
            (
                ProfileStoreAPI.readSnapshot.name,
                Segments_V1_ReadSnapshotRequest.with {
                    $0.shardCount = 2
                    $0.includeEvents = true
                }
            )
        )
        single.append((ProfileStoreAPI.addWebhook.name, StoreSeed.webhook))
        single.append((ProfileStoreAPI.listWebhooks.name, Segments_V1_ListWebhooksRequest()))
        single.append((ProfileStoreAPI.removeWebhook.name, Segments_V1_RemoveWebhookRequest.with { $0.id = "wh_0" }))
        var seeds = single.map { RPCCalls.input([$0], methods: Self.methods) }
        seeds.append(
            RPCCalls.input(
                [
                    (ProfileStoreAPI.deleteProfile.name, Segments_V1_DeleteProfileRequest.with { $0.userID = "u1" }),
                    (
                        ProfileStoreAPI.readSnapshot.name,
                        Segments_V1_ReadSnapshotRequest.with { $0.includeEvents = true }
                    ),
                    (ProfileStoreAPI.subscribe.name, Segments_V1_SubscribeRequest.with { $0.fromSeq = 1 }),
                ],
                methods: Self.methods
            )
        )
        seeds.append(
            RPCCalls.input(
                [
                    (ProfileStoreAPI.trackEvents.name, StoreSeed.track),
                    (ProfileStoreAPI.trackEvents.name, StoreSeed.track),
                    (ProfileStoreAPI.listUserEvents.name, Segments_V1_ListUserEventsRequest.with { $0.userID = "u3" }),
                ],
                methods: Self.methods
            )
        )
        return seeds
    }
}

/// The store's seeded data.
enum StoreSeed {
    /// The manual clock's start: 2026-11-01T10:00:00Z.
    static let startMs: Int64 = 1_793_527_200_000

    static let upsert = Segments_V1_UpsertProfilesRequest.with {
        $0.patches = [
            .with {
                $0.userID = "u1"
                $0.attributes = ["plan": .with { $0.stringValue = "pro" }, "age": .with { $0.numberValue = 34 }]
            },
            .with {
                $0.userID = "u2"
                $0.attributes = [
                    "plan": .with { $0.stringValue = "free" },
                    "tags": .with { $0.stringList.values = ["a", "b"] },
                    "vip": .with { $0.boolValue = true },
                ]
            },
            .with {
                $0.userID = "u3"
                $0.attributes = ["signup_at": .with { $0.timestampMs = Self.startMs - 86_400_000 }]
            },
        ]
    }

    static let track = Segments_V1_TrackEventsRequest.with {
        $0.events = [
            .with {
                $0.userID = "u1"
                $0.name = "purchase"
                $0.atMs = Self.startMs - 3_600_000
                $0.atGiven = true
                $0.properties = ["amount": .with { $0.numberValue = 42.5 }]
                $0.eventID = "e-1"
            },
            .with {
                $0.userID = "u3"
                $0.name = "page_view"
                $0.properties = ["url": .with { $0.stringValue = "/pricing" }]
            },
        ]
    }

    static let webhook = Segments_V1_AddWebhookRequest.with {
        $0.url = "http://127.0.0.1:9/hook"
        $0.segments = ["vip"]
        $0.secret = "s3cret"
    }

    /// The calls that seed a new store, in order.
    static var calls: [(FuzzMethod, any Message)] {
        func method(_ name: String) -> FuzzMethod {
            StoreChecks.methods.first { $0.name == name }!
        }
        return [
            (
                method(ProfileStoreAPI.putSegment.name),
                Segments_V1_PutSegmentRequest.with {
                    $0.name = "vip"
                    $0.expression = #"plan = "pro""#
                }
            ),
            (
                method(ProfileStoreAPI.putSegment.name),
                Segments_V1_PutSegmentRequest.with {
                    $0.name = "buyers"
                    $0.expression = "count(purchase within 30d) >= 1"
                }
            ),
            (method(ProfileStoreAPI.upsertProfiles.name), Self.upsert),
            (method(ProfileStoreAPI.trackEvents.name), Self.track),
            (method(ProfileStoreAPI.createList.name), Segments_V1_CreateListRequest.with { $0.name = "beta" }),
            (
                method(ProfileStoreAPI.changeListMembers.name),
                Segments_V1_ChangeListMembersRequest.with {
                    $0.name = "beta"
                    $0.add = ["u1", "u3"]
                }
            ),
            (method(ProfileStoreAPI.addWebhook.name), Self.webhook),
        ]
    }
}

/// The store the checks run against: opened on a temporary directory from a seeded copy, and
/// put back to that copy every ``StoreChecks/resetInterval`` inputs.
final class StoreHarness: Sendable {
    static let shared = StoreHarness()

    private struct State {
        var router: RPCRouter?
        var close: (@Sendable () async -> Void)?
        var inputsSinceReset = 0
    }

    private let state = Mutex(State())
    /// Holds the seeded copy (`template/`) and the working store (`store/`).
    private let directory: String
    private var template: String { self.directory + "/template" }
    private var working: String { self.directory + "/store" }

    private init() {
        self.directory = Self.directory(of: getpid())
        // libFuzzer ends the process with exit(): remove the directory then.
        atexit { try? FileManager.default.removeItem(atPath: StoreHarness.directory(of: getpid())) }
    }

    private static func directory(of process: pid_t) -> String {
        NSTemporaryDirectory() + "segments-fuzz-store-\(process)"
    }

    /// The router for the next input, after putting the store back to its seeded copy when due.
    func routerForNextInput() throws(FuzzFinding) -> RPCRouter {
        let (router, close) = self.state.withLock { state -> (RPCRouter?, (@Sendable () async -> Void)?) in
            state.inputsSinceReset += 1
            guard state.router == nil || state.inputsSinceReset > StoreChecks.resetInterval else {
                return (state.router, nil)
            }
            defer {
                state.router = nil
                state.close = nil
            }
            return (nil, state.close)
        }
        if let router { return router }
        if let close { runBlocking { await close() } }
        let fresh = try self.openFromTemplate()
        self.state.withLock { state in
            state.router = fresh.router
            state.close = fresh.close
            state.inputsSinceReset = 1
        }
        return fresh.router
    }

    private func openFromTemplate() throws(FuzzFinding) -> (router: RPCRouter, close: @Sendable () async -> Void) {
        let files = FileManager.default
        if !files.fileExists(atPath: self.template) {
            try self.makeTemplate()
        }
        do {
            try? files.removeItem(atPath: self.working)
            try files.copyItem(atPath: self.template, toPath: self.working)
        } catch {
            throw FuzzFinding("setup: cannot copy the seeded store: \(error)")
        }
        return try Self.open(self.working)
    }

    private static func open(
        _ directory: String
    ) throws(FuzzFinding) -> (
        router: RPCRouter, close: @Sendable () async -> Void
    ) {
        var configuration = ProfileStoreConfiguration(
            server: RPCServerConfiguration(socketPath: directory + "/unused.sock"),
            dataDirectory: directory,
            clock: .manual(startMs: StoreSeed.startMs),
            durability: .normal,
            readerCount: 2,
            writerCacheKiB: 2048
        )
        configuration.integrityCheck = .off
        let opened: (router: RPCRouter, close: @Sendable () async -> Void)
        do {
            opened = try ProfileStoreService.harnessRouter(configuration: configuration, logger: RPCCalls.quietLogger)
        } catch {
            throw FuzzFinding("setup: cannot open the store: \(error)")
        }
        try RPCCalls.checkTable(StoreChecks.methods, of: opened.router)
        return opened
    }

    /// Opens a new store in the template directory, seeds it through its own router and closes it.
    private func makeTemplate() throws(FuzzFinding) {
        try? FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
        let (router, close) = try Self.open(self.template)
        let failure = runBlocking { () async -> String? in
            for (method, request) in StoreSeed.calls {
                let bytes = (try? request.serializedBytes() as [UInt8]) ?? []
                let result = await RPCCalls.run(method, bytes, on: router)
                guard case .response = result.invocation else { return "\(method.name): \(result.invocation)" }
            }
            await close()
            return nil
        }
        if let failure { throw FuzzFinding("setup: seeding the store failed: \(failure)") }
    }
}
