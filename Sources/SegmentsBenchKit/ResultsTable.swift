import Foundation

/// Renders results as a plain-text table for people (stdout) and as Markdown rows.
public enum ResultsTable {
    /// Rows of (section, measure, ours, baseline or goal).
    public static func rows(_ r: BenchResults) -> [(String, String, String, String)] {
        var rows: [(String, String, String, String)] = []
        func add(_ a: String, _ b: String, _ c: String, _ d: String = "") { rows.append((a, b, c, d)) }
        if let i = r.bulkImport {
            add("import", "profiles/s acknowledged", Self.int(i.profilesPerSecond))
            add(
                "import",
                "events/s acknowledged (batch \(i.batchSize), \(i.inFlight) in flight)",
                Self.int(i.eventsPerSecond),
                "goal ≥ 300,000"
            )
            if i.storeCPUSeconds > 0 {
                add("import", "store CPU µs/event", Self.fixed(i.storeCPUSeconds * 1e6 / Double(max(i.events, 1)), 2))
            }
        }
        if let c = r.catchUp {
            add("catch-up", "evaluator start → applied head", Self.fixed(c.seconds, 2) + " s")
            add("catch-up", "events/s", Self.int(c.eventsPerSecond), "goal ≥ 800,000")
            add(
                "catch-up",
                "evaluator CPU µs/event; CPU s evaluator / store",
                "\(Self.fixed(c.cpuMicrosecondsPerEvent, 2)); \(Self.fixed(c.evaluatorCPUSeconds, 2)) / \(Self.fixed(c.storeCPUSeconds, 2))"
            )
        }
        if let l = r.liveIngest {
            add("live ingest", "store events/s (batch \(l.batchSize))", Self.int(l.storeEventsPerSecond))
            add(
                "live ingest",
                "unpaced: evaluator events/s; max lag; drain",
                "\(Self.int(l.evaluatorEventsPerSecond)); \(l.maxLagEvents) ev; \(Self.fixed(l.drainMilliseconds, 1)) ms"
            )
            if let paced = l.pacedEventsPerSecond {
                add(
                    "live ingest",
                    "paced (last of 80, 70 … 30 %): events/s; max lag; drain",
                    "\(Self.int(paced)); \(l.pacedMaxLagEvents ?? 0) ev; \(Self.fixed(l.pacedDrainMilliseconds ?? 0, 1)) ms"
                )
            }
            add(
                "live ingest",
                "sustained with bounded lag (drain < 500 ms)",
                Self.int(l.sustainedEventsPerSecond),
                "goal ≥ 100,000"
            )
        }
        if let f = r.freshness {
            add(
                "freshness",
                "ack → watch p50 / p99 / max µs",
                "\(Self.int(f.p50Us)) / \(Self.int(f.p99Us)) / \(Self.int(f.maxUs))",
                "goal ≤ 200 / 2,000"
            )
        }
        if let t = r.timeDriven {
            add(
                "time-driven",
                "due → watch p50 / p99 / max µs (\(t.window) window)",
                "\(Self.int(t.lateness.p50Us)) / \(Self.int(t.lateness.p99Us)) / \(Self.int(t.lateness.maxUs))",
                "goal p99 ≤ 5,000"
            )
            add(
                "time-driven",
                "burst of \(t.burstTransitions) due exits: per s",
                Self.int(t.burstPerSecond),
                "goal ≥ 300,000"
            )
        }
        if !r.queries.isEmpty, let floor = r.machine.socketRoundTripP50Us {
            add("queries", "bare Unix-socket round trip p50 µs (this machine's floor)", Self.fixed(floor, 1), "")
        }
        for q in r.queries {
            let base: String
            if q.query == "check", let b = r.baseline {
                base = "SQL \(Self.int(b.checkOneSegment.p50Us)) / \(Self.int(b.checkOneSegment.p99Us))"
            } else {
                base = q.query == "check" && q.clients == 1 ? "goal ≤ 40 / 150" : ""
            }
            add(
                "queries",
                "\(q.query) ×\(q.clients) p50 / p99 µs, calls/s",
                "\(Self.int(q.latency.p50Us)) / \(Self.int(q.latency.p99Us)), \(Self.int(q.callsPerSecond))/s",
                base
            )
        }
        if let m = r.members {
            add(
                "members",
                "rows/s (\(m.segments.count) segments, \(m.rows) rows)",
                Self.int(m.rowsPerSecond),
                r.baseline.map { "SQL \(Self.int($0.membersRowsPerSecond))" } ?? ""
            )
        }
        if let b = r.backfill {
            add(
                "back-fill",
                "new segment put → readable (\(b.members) members)",
                Self.fixed(b.seconds * 1000, 1) + " ms",
                "SQL \(Self.fixed(b.baselineSQLSeconds * 1000, 1)) ms"
            )
        }
        if let s = r.restartToReadySeconds {
            add("restart", "evaluator SIGTERM + start → ready at head", Self.fixed(s * 1000, 0) + " ms")
        }
        if let m = r.footprint {
            add(
                "memory",
                "store / evaluator peak RSS",
                "\(Self.mib(m.storePeakRSSBytes)) / \(Self.mib(m.evaluatorPeakRSSBytes))"
            )
            if let idle = m.evaluatorIdleRSSBytes, let atHead = m.evaluatorRSSAtHeadBytes {
                add(
                    "memory",
                    "evaluator RSS idle / at the head / after catch-up (idle)",
                    "\(Self.mib(idle)) / \(Self.mib(atHead)) / \(Self.mib(m.evaluatorRSSAfterCatchUpBytes))"
                )
            }
            add(
                "memory",
                "evaluator (RSS after catch-up − idle) per user / per event",
                "\(Self.int(m.evaluatorBytesPerUser)) B / \(Self.fixed(m.evaluatorBytesPerEvent, 1)) B",
                "goal ≤ 100 B/user + 16 B/event"
            )
            add(
                "disk",
                "store / evaluator / SQL copy",
                "\(Self.mib(m.storeDiskBytes)) / \(Self.mib(m.evaluatorDiskBytes)) / \(Self.mib(m.baselineDiskBytes))"
            )
            add("disk", "store bytes per event", Self.fixed(m.storeDiskBytesPerEvent, 1))
        }
        if let b = r.baseline {
            add(
                "baseline",
                "SQL copy load + index",
                "\(Self.fixed(b.loadSeconds, 2)) s + \(Self.fixed(b.indexSeconds, 2)) s"
            )
            add(
                "baseline",
                "whole segment SQL median / max (\(b.segmentsQueried) segs)",
                "\(Self.fixed(b.wholeSegmentMedianMs, 1)) / \(Self.fixed(b.wholeSegmentMaxMs, 1)) ms"
            )
            add(
                "baseline",
                "recompute 1 user, all segments p50 / p99 µs",
                "\(Self.int(b.recomputeUser.p50Us)) / \(Self.int(b.recomputeUser.p99Us))"
            )
            add("baseline", "SQL count = evaluator count", "\(b.segmentsAgreeing) of \(b.segmentsQueried)")
        }
        for (name, value) in r.ratios.sorted(by: { $0.key < $1.key }) {
            add("ratio", name, String(format: "%.3g×", value))
        }
        return rows
    }

    /// A fixed-width text table.
    public static func text(_ r: BenchResults) -> String {
        let rows = Self.rows(r)
        let w0 = rows.map(\.0.count).max() ?? 0
        let w1 = rows.map(\.1.count).max() ?? 0
        let w2 = rows.map(\.2.count).max() ?? 0
        var out =
            "segbench \(r.run.scale) (\(r.run.users) users, \(r.run.events) events, \(r.run.segments) segments, seed \(r.run.seed))\n"
        out +=
            "machine: \(r.machine.cores) cores, \(Self.mib(r.machine.memoryBytes)), \(r.machine.cpuModel), load \(Self.fixed(r.machine.loadAverageAtStart, 2))"
            + (r.machine.socketRoundTripP50Us.map { ", bare Unix-socket round trip p50 \(Self.fixed($0, 1)) µs" } ?? "")
            + "\n\n"
        for row in rows {
            out += Self.pad(row.0, w0) + "  " + Self.pad(row.1, w1) + "  " + Self.pad(row.2, w2) + "  " + row.3 + "\n"
        }
        if !r.goals.isEmpty {
            out += "\ngoals:\n"
            for goal in r.goals {
                let mark = goal.met.map { $0 ? "met   " : "missed" } ?? "n/a   "
                out += "  [\(mark)] \(goal.name): \(goal.measured) (goal \(goal.goal))\n"
            }
        }
        return out
    }

    /// A Markdown table of the same rows.
    public static func markdown(_ r: BenchResults) -> String {
        var out = "| section | measure | Segments | baseline / goal |\n|---|---|---|---|\n"
        for row in Self.rows(r) {
            out += "| \(row.0) | \(row.1) | \(row.2) | \(row.3) |\n"
        }
        return out
    }

    static func pad(_ s: String, _ width: Int) -> String { s + String(repeating: " ", count: max(0, width - s.count)) }
    /// A number with thousands separators, no decimals.
    public static func int(_ value: Double) -> String {
        guard value.isFinite else { return "–" }
        let digits = String(Int64(value.rounded()))
        var out = ""
        for (i, c) in digits.reversed().enumerated() {
            if i > 0 && i % 3 == 0 && c != "-" { out.append(",") }
            out.append(c)
        }
        return String(out.reversed())
    }
    static func fixed(_ value: Double, _ places: Int) -> String { String(format: "%.\(places)f", value) }
    static func mib(_ bytes: UInt64) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }
}
