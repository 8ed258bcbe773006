import ArgumentParser
import SegmentsClient
import SegmentsJSON

/// What `segclient status` and `segclient top` show: the store and every evaluator shard, read at one moment, and
/// whether the deployment is healthy (every shard reachable and, with a limit, not lagging beyond it).
struct StatusReport {
    /// How far a shard may lag before it counts as unhealthy: in store change-log entries or in time.
    enum LagLimit: Equatable, CustomStringConvertible {
        case entries(UInt64)
        case milliseconds(Int64)

        /// Parses `1000` (entries) or a duration such as `5s` or `500ms`.
        init?(_ text: String) {
            if let entries = UInt64(text) {
                self = .entries(entries)
            } else if let ms = DurationText.milliseconds(text) {
                self = .milliseconds(ms)
            } else {
                return nil
            }
        }

        var description: String {
            switch self {
            case .entries(let count): "\(count) entries"
            case .milliseconds(let ms): Output.duration(ms)
            }
        }
    }

    /// One evaluator shard as configured, and what it answered.
    struct Shard {
        var socketPath: String
        var status: Result<SegmentsEvaluatorStatus, SegmentsClientError>
    }

    var storeSocketPath: String
    var store: Result<SegmentsStoreInfo, SegmentsClientError>
    var shards: [Shard]

    /// Parses `--timeout`: a duration of at least 10 ms.
    static func timeout(_ text: String) throws -> Duration {
        guard let ms = DurationText.milliseconds(text), ms >= 10 else {
            throw ValidationError("--timeout '\(text)' must be a duration of at least 10ms, e.g. 5s")
        }
        return .milliseconds(ms)
    }

    /// A client of `connection`'s daemons whose calls give up after `--timeout` (a daemon that does not answer in
    /// time is reported unreachable).
    static func client(_ connection: ConnectionOptions, timeout: String) throws -> SegmentsClient {
        var configuration = connection.configuration()
        configuration.options.requestTimeout = try Self.timeout(timeout)
        return SegmentsClient(configuration: configuration)
    }

    /// Reads the store and every shard concurrently.
    static func read(from client: SegmentsClient) async -> StatusReport {
        async let shardResults = client.evaluatorStatusPerShard()
        let store: Result<SegmentsStoreInfo, SegmentsClientError>
        do throws(SegmentsClientError) {
            store = .success(try await client.storeInfo())
        } catch {
            store = .failure(error)
        }
        let shards = zip(client.configuration.evaluatorSocketPaths, await shardResults).map(Shard.init)
        return StatusReport(storeSocketPath: client.configuration.storeSocketPath, store: store, shards: shards)
    }

    /// The store's head as read now, or 0 when the store did not answer.
    var storeHead: UInt64 {
        (try? self.store.get().headSeq) ?? 0
    }

    /// What makes the deployment unhealthy, one sentence each; empty when healthy.
    func problems(maxLag: LagLimit?) -> [String] {
        var problems: [String] = []
        if case .failure(let error) = self.store {
            problems.append("the store at \(self.storeSocketPath) is unreachable: \(error.message)")
        }
        if self.shards.isEmpty {
            problems.append("no evaluator socket is configured")
        }
        for (index, shard) in self.shards.enumerated() {
            switch shard.status {
            case .failure(let error):
                problems.append("evaluator shard \(index) at \(shard.socketPath) is unreachable: \(error.message)")
            case .success(let status):
                if let reason = status.blockedBy {
                    problems.append("evaluator shard \(status.shardIndex) cannot move on: \(reason)")
                }
                let entries = status.lagEntries(storeHead: self.storeHead)
                switch maxLag {
                case .entries(let limit) where entries > limit:
                    problems.append("evaluator shard \(status.shardIndex) lags \(entries) entries (limit \(limit))")
                case .milliseconds(let limit) where status.lagMs > limit:
                    problems.append(
                        "evaluator shard \(status.shardIndex) lags \(Output.duration(status.lagMs)) "
                            + "(limit \(Output.duration(limit)))"
                    )
                default:
                    break
                }
            }
        }
        return problems
    }

    /// The report as people read it.
    func lines() -> [String] {
        var lines: [String] = []
        switch self.store {
        case .success(let info):
            lines.append("store \(self.storeSocketPath) (version \(info.version), id \(info.storeID))")
            lines.append("  change log head: \(info.headSeq)")
            lines.append("  clock: \(Output.time(info.nowMs))\(info.manualClock ? " (manual)" : "")")
            lines.append("  users: \(info.userCount), events: \(info.eventCount)")
            for subscriber in info.feedSubscribers {
                lines.append(
                    "  feed subscriber \(subscriber.name) (\(subscriber.id)): durable at \(subscriber.durableSeq), "
                        + "seen \(Output.time(subscriber.seenAtMs))"
                )
            }
            if info.heldEntryCount > 0 {
                lines.append("  entries held for deleted users' replay: \(info.heldEntryCount)")
            }
        case .failure(let error):
            lines.append("store \(self.storeSocketPath): unreachable: \(error.message)")
        }
        for (index, shard) in self.shards.enumerated() {
            switch shard.status {
            case .success(let status):
                lines.append(
                    "evaluator shard \(status.shardIndex)/\(status.shardCount) \(shard.socketPath) "
                        + "(version \(status.version))"
                )
                lines.append(
                    "  applied: \(status.appliedSeq), lag: \(status.lagEntries(storeHead: self.storeHead)) entries, "
                        + Output.duration(status.lagMs)
                )
                if let reason = status.blockedBy {
                    lines.append("  BLOCKED: \(reason)")
                }
                lines.append("  users: \(status.userCount), segments: \(status.segmentCount)")
                lines.append(
                    "  scheduled wake-ups: \(status.scheduledWakeups), next due: "
                        + (status.nextDueMs.map(Output.time) ?? "none")
                )
                lines.append(
                    "  transitions recorded: \(status.transitionSeq), webhook backlog: \(status.webhookBacklog)"
                        + (status.coversFromMs.map { ", history from \(Output.time($0))" } ?? "")
                )
                lines.append(
                    "  memory: \(Output.bytes(status.residentBytes)), up \(Output.duration(status.uptimeMs)) "
                        + "(since \(Output.time(status.startedAtMs)))"
                )
            case .failure(let error):
                lines.append("evaluator shard \(index) \(shard.socketPath): unreachable: \(error.message)")
            }
        }
        return lines
    }

    /// The report for scripts: the store's fields at the top level (as `status --json` printed before it showed the
    /// evaluators), then `evaluators`, `healthy` and `problems`.
    func json(maxLag: LagLimit?) -> JSONValue {
        var fields: [(key: String, value: JSONValue)] = [("store_socket", .string(self.storeSocketPath))]
        switch self.store {
        case .success(let info):
            fields += [
                ("store_reachable", .bool(true)),
                ("head_seq", .number(Double(info.headSeq))),
                ("now", .string(Output.time(info.nowMs))),
                ("manual_clock", .bool(info.manualClock)),
                ("users", .number(Double(info.userCount))),
                ("events", .number(Double(info.eventCount))),
                ("version", .string(info.version)),
                ("store_id", .string(info.storeID)),
                ("held_entries", .number(Double(info.heldEntryCount))),
                (
                    "feed_subscribers",
                    .array(
                        info.feedSubscribers.map { subscriber in
                            .object([
                                ("id", .string(subscriber.id)),
                                ("name", .string(subscriber.name)),
                                ("durable_seq", .number(Double(subscriber.durableSeq))),
                                ("seen_at", .string(Output.time(subscriber.seenAtMs))),
                            ])
                        }
                    )
                ),
            ]
        case .failure(let error):
            fields += [("store_reachable", .bool(false)), ("store_error", .string(error.message))]
        }
        let shards = self.shards.enumerated().map { index, shard -> JSONValue in
            switch shard.status {
            case .success(let status):
                return .object([
                    ("socket", .string(shard.socketPath)),
                    ("reachable", .bool(true)),
                    ("shard_index", .number(Double(status.shardIndex))),
                    ("shard_count", .number(Double(status.shardCount))),
                    ("applied_seq", .number(Double(status.appliedSeq))),
                    ("store_head_seq", .number(Double(max(status.storeHeadSeq, self.storeHead)))),
                    ("lag_entries", .number(Double(status.lagEntries(storeHead: self.storeHead)))),
                    ("lag_ms", .number(Double(status.lagMs))),
                    ("users", .number(Double(status.userCount))),
                    ("segments", .number(Double(status.segmentCount))),
                    ("scheduled_wakeups", .number(Double(status.scheduledWakeups))),
                    ("next_due", status.nextDueMs.map { .string(Output.time($0)) } ?? .null),
                    ("transition_seq", .number(Double(status.transitionSeq))),
                    ("webhook_backlog", .number(Double(status.webhookBacklog))),
                    ("resident_bytes", .number(Double(status.residentBytes))),
                    ("started_at", .string(Output.time(status.startedAtMs))),
                    ("uptime_ms", .number(Double(status.uptimeMs))),
                    ("entries_applied", .number(Double(status.entriesApplied))),
                    ("events_applied", .number(Double(status.eventsApplied))),
                    ("transitions_recorded", .number(Double(status.transitionsRecorded))),
                    ("version", .string(status.version)),
                    ("blocked_by", status.blockedBy.map { .string($0) } ?? .null),
                    ("history_from", status.coversFromMs.map { .string(Output.time($0)) } ?? .null),
                ])
            case .failure(let error):
                return .object([
                    ("socket", .string(shard.socketPath)), ("shard_index", .number(Double(index))),
                    ("reachable", .bool(false)), ("error", .string(error.message)),
                ])
            }
        }
        let problems = self.problems(maxLag: maxLag)
        return .object(
            fields + [
                ("evaluators", .array(shards)),
                ("healthy", .bool(problems.isEmpty)),
                ("problems", .array(problems.map(JSONValue.string))),
            ]
        )
    }
}
