import DaemonSupport
import Foundation
import SegmentEvaluator
import SegmentsRPC
import SegmentsWire
import SwiftProtobuf

/// Checks of every request handler of the evaluator: each input is a few calls (see
/// ``RPCCalls``) made through the evaluator's real router, over an evaluator whose data
/// directory was fed a small change log (segments, a list, profiles, events, a clock move and a
/// webhook) without a store. `Preview` reads a snapshot from the store's socket: without a store
/// it parses the expression and answers UNAVAILABLE, so only its refusals are exercised.
///
/// Properties, besides those of ``RPCCalls/check(_:_:_:)`` for every call (the evaluator never
/// answers INTERNAL, a read waiting for a later change ends with DEADLINE_EXCEEDED, …):
/// - `Check` agrees with `SegmentsOf` for the same user;
/// - `CountMembers` agrees with the number of users `Members` streams.
public enum EvaluatorChecks {
    /// Every method of the evaluator, in a fixed order (the method byte of an input indexes it).
    static let methods: [FuzzMethod] = [
        .unary(EvaluatorAPI.check),
        .unary(EvaluatorAPI.segmentsOf),
        .stream(EvaluatorAPI.members),
        .unary(EvaluatorAPI.countMembers),
        .unary(EvaluatorAPI.preview),
        .unary(EvaluatorAPI.explain),
        .stream(EvaluatorAPI.watch, waitsForMore: true),
        .stream(EvaluatorAPI.history),
        .unary(EvaluatorAPI.overlap),
        .unary(EvaluatorAPI.getStatus),
        .unary(EvaluatorAPI.listWebhookDeliveries),
        .unary(EvaluatorAPI.sizeSeries),
    ]

    /// The router and the published store head, opened at the first input.
    private static let opened = Result { () throws(FuzzFinding) -> EvaluatorSeed.Opened in try EvaluatorSeed.open() }

    /// Runs one input's calls and checks every answer.
    /// - Parameter input: the fuzz input.
    /// - Throws: ``FuzzFinding`` when a property does not hold.
    public static func check(_ input: [UInt8]) throws(FuzzFinding) {
        let router = try Self.opened.get().router
        let calls = RPCCalls.calls(in: input, methods: Self.methods)
        let outcome = runBlocking { () async -> FuzzFinding? in
            do throws(FuzzFinding) {
                for (method, request) in calls {
                    let result = await RPCCalls.run(method, request, on: router)
                    try RPCCalls.check(method, request, result)
                    switch result.invocation {
                    case .response(let response):
                        try await Self.crossCheck(method, request, response, on: router)
                    case .failed(let error)
                    where method.name == EvaluatorAPI.watch.name && error.code == .resourceExhausted:
                        // One watch at a time here, far below the limit: a watch that ended was not counted out.
                        throw FuzzFinding("Watch refused as over the watcher limit with no other watch open: \(error)")
                    default:
                        break
                    }
                }
                return nil
            } catch {
                return error
            }
        }
        if let outcome { throw outcome }
    }

    /// Answers that must agree with other reads of the same data (which does not change: the
    /// evaluator here follows no feed).
    private static func crossCheck(
        _ method: FuzzMethod,
        _ request: [UInt8],
        _ response: [UInt8],
        on router: RPCRouter
    ) async throws(FuzzFinding) {
        switch method.name {
        case EvaluatorAPI.check.name:
            guard let check = try? Segments_V1_CheckRequest(serializedBytes: request),
                let answer = try? Segments_V1_CheckResponse(serializedBytes: response)
            else { return }
            let segmentsOf = Segments_V1_SegmentsOfRequest.with { $0.userID = check.userID }
            let result = await Self.call(EvaluatorAPI.segmentsOf.name, segmentsOf, on: router)
            guard case .response(let bytes) = result.invocation,
                let segments = try? Segments_V1_SegmentsOfResponse(serializedBytes: bytes)
            else {
                throw FuzzFinding("Check answered for user \(check.userID) but SegmentsOf fails: \(result.invocation)")
            }
            guard segments.segments.contains(check.segment) == answer.member else {
                throw FuzzFinding(
                    "Check says \(check.userID) in \(check.segment) is \(answer.member); SegmentsOf says \(segments.segments)"
                )
            }
        case EvaluatorAPI.countMembers.name:
            guard let count = try? Segments_V1_CountMembersRequest(serializedBytes: request),
                let answer = try? Segments_V1_CountMembersResponse(serializedBytes: response)
            else { return }
            let members = Segments_V1_MembersRequest.with { $0.segment = count.segment }
            let result = await Self.call(EvaluatorAPI.members.name, members, on: router)
            let streamed = result.streamed.compactMap { try? Segments_V1_MembersChunk(serializedBytes: $0) }
            let listed = streamed.reduce(0) { $0 + $1.userIds.count }
            guard case .streamEnded = result.invocation, listed == answer.count else {
                throw FuzzFinding(
                    "CountMembers says \(answer.count) in \(count.segment); Members lists \(listed) (\(result.invocation))"
                )
            }
        default:
            break
        }
    }

    private static func call(_ name: String, _ request: some Message, on router: RPCRouter) async -> FuzzCallResult {
        let method = Self.methods.first { $0.name == name }!
        return await RPCCalls.run(method, (try? request.serializedBytes()) ?? [], on: router)
    }

    /// Inputs to start fuzzing from: every method with a request of the seeded data.
    public static var seeds: [[UInt8]] {
        let single: [(String, any Message)] = [
            (
                EvaluatorAPI.check.name,
                Segments_V1_CheckRequest.with {
                    $0.userID = "u1"
                    $0.segment = "vip"
                }
            ),
            (EvaluatorAPI.segmentsOf.name, Segments_V1_SegmentsOfRequest.with { $0.userID = "u1" }),
            (
                EvaluatorAPI.members.name,
                Segments_V1_MembersRequest.with {
                    $0.segment = "beta"
                    $0.limit = 1
                }
            ),
            (EvaluatorAPI.countMembers.name, Segments_V1_CountMembersRequest.with { $0.segment = "buyers" }),
            (
                EvaluatorAPI.preview.name,
                Segments_V1_PreviewRequest.with {
                    $0.expression = "count(purchase within 7d) >= 1"
                    $0.sampleSize = 3
                }
            ),
            (
                EvaluatorAPI.explain.name,
                Segments_V1_ExplainRequest.with {
                    $0.userID = "u1"
                    $0.segment = "buyers"
                }
            ),
            (
                EvaluatorAPI.watch.name,
                Segments_V1_WatchRequest.with {
                    $0.segments = ["vip"]
                    $0.fromSeq = 1
                }
            ),
            (EvaluatorAPI.history.name, Segments_V1_HistoryRequest.with { $0.userID = "u1" }),
            (
                EvaluatorAPI.history.name,
                Segments_V1_HistoryRequest.with {
                    $0.segment = "vip"
                    $0.limit = 1
                }
            ),
            (EvaluatorAPI.overlap.name, Segments_V1_OverlapRequest.with { $0.segments = ["vip", "buyers", "beta"] }),
            (EvaluatorAPI.getStatus.name, Segments_V1_GetStatusRequest()),
            (EvaluatorAPI.listWebhookDeliveries.name, Segments_V1_ListWebhookDeliveriesRequest()),
            (
                EvaluatorAPI.sizeSeries.name,
                Segments_V1_SizeSeriesRequest.with {
                    $0.segment = "vip"
                    $0.fromMs = 1_793_491_200_000
                    $0.toMs = 1_793_577_600_000
                    $0.stepMs = 3_600_000
                }
            ),
            (
                EvaluatorAPI.members.name,
                Segments_V1_MembersRequest.with {
                    $0.segment = "buyers"
                    $0.at.atMs = 1_793_500_000_000
                }
            ),
            (
                EvaluatorAPI.check.name,
                Segments_V1_CheckRequest.with {
                    $0.userID = "u1"
                    $0.segment = "vip"
                    $0.at.atMs = 1_700_000_000_000
                }
            ),
            (
                EvaluatorAPI.check.name,
                Segments_V1_CheckRequest.with {
                    $0.userID = "u2"
                    $0.segment = "beta"
                    $0.minSeq = 99
                }
            ),
        ]
        return single.map { RPCCalls.input([$0], methods: Self.methods) }
    }
}

/// The evaluator's seeded data: a change log as the store would send it.
enum EvaluatorSeed {
    static let startMs: Int64 = 1_793_527_200_000

    static var entries: [Segments_V1_ChangeEntry] {
        var changes: [(inout Segments_V1_ChangeEntry) -> Void] = []
        changes.append {
            $0.segmentPut.segment = .with {
                $0.name = "vip"
                $0.expression = #"plan = "pro""#
            }
        }
        changes.append {
            $0.segmentPut.segment = .with {
                $0.name = "buyers"
                $0.expression = "count(purchase within 30d) >= 1"
            }
        }
        changes.append {
            $0.segmentPut.segment = .with {
                $0.name = "engaged"
                $0.expression =
                    #"count(page_view where url starts_with "/pricing" within 7d) >= 1 or in_segment("vip")"#
            }
        }
        changes.append { $0.listCreated.name = "beta" }
        changes.append {
            $0.profilesUpserted.changes = [
                .with {
                    $0.userID = "u1"
                    $0.set = ["plan": .with { $0.stringValue = "pro" }]
                    $0.created = true
                },
                .with {
                    $0.userID = "u2"
                    $0.set = ["plan": .with { $0.stringValue = "free" }]
                    $0.created = true
                },
                .with {
                    $0.userID = "u3"
                    $0.set = ["age": .with { $0.numberValue = 34 }]
                    $0.created = true
                },
            ]
        }
        changes.append {
            $0.eventsTracked.events = [
                .with {
                    $0.userID = "u2"
                    $0.name = "purchase"
                    $0.atMs = Self.startMs + 1_000
                    $0.atGiven = true
                    $0.properties = ["amount": .with { $0.numberValue = 42.5 }]
                },
                .with {
                    $0.userID = "u3"
                    $0.name = "page_view"
                    $0.atMs = Self.startMs + 2_000
                    $0.properties = ["url": .with { $0.stringValue = "/pricing" }]
                },
            ]
        }
        changes.append {
            $0.listMembersChanged.name = "beta"
            $0.listMembersChanged.added = ["u1", "u3"]
        }
        changes.append { $0.clockMoved.nowMs = Self.startMs + 86_400_000 }
        changes.append {
            $0.webhookAdded.webhook = .with {
                $0.id = "wh_1"
                $0.url = "http://127.0.0.1:9/hook"
                $0.segments = ["vip"]
                $0.createdSeq = 9
            }
            $0.webhookAdded.secret = "s3cret"
        }
        return changes.enumerated().map { index, change in
            var entry = Segments_V1_ChangeEntry()
            entry.seq = UInt64(index + 1)
            entry.committedAtMs = Self.startMs + Int64(index) * 1_000
            change(&entry)
            return entry
        }
    }

    /// An opened evaluator: its router and the store head published for it (kept mapped).
    struct Opened: Sendable {
        let router: RPCRouter
        let storeHead: SharedSequence
    }

    /// Opens the evaluator's router on a new temporary directory fed ``entries``, with the
    /// store's head published beside the (absent) store socket.
    static func open() throws(FuzzFinding) -> Opened {
        let directory = NSTemporaryDirectory() + "segments-fuzz-evaluator-\(getpid())"
        try? FileManager.default.removeItem(atPath: directory)
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        atexit {
            try? FileManager.default.removeItem(atPath: NSTemporaryDirectory() + "segments-fuzz-evaluator-\(getpid())")
        }
        let socket = directory + "/store.sock"
        var configuration = SegmentEvaluatorConfiguration(
            storeSocketPath: socket,
            server: RPCServerConfiguration(socketPath: directory + "/evaluator.sock"),
            dataDirectory: directory + "/data",
            readYourWritesTimeout: .milliseconds(10)
        )
        configuration.maximumWatchers = 4
        let entries = Self.entries
        let opened: Opened
        do {
            let head = try SharedSequence.publisher(path: DefaultSocketPaths.headFile(ofStoreSocket: socket))
            head.publish(UInt64(entries.count))
            let router = try SegmentEvaluatorService.harnessRouter(
                configuration: configuration,
                entries: entries,
                logger: RPCCalls.quietLogger
            )
            opened = Opened(router: router, storeHead: head)
        } catch {
            throw FuzzFinding("setup: cannot open the evaluator: \(error)")
        }
        try RPCCalls.checkTable(EvaluatorChecks.methods, of: opened.router)
        return opened
    }
}
