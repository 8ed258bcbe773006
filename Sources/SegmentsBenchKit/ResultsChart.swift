import Foundation

/// Draws the headline figures as a hand-written SVG: horizontal bars on a log scale, Segments
/// next to the SQL baseline.
public enum ResultsChart {
    struct Bar {
        var label: String
        var value: Double
        var unit: String
        var isBaseline: Bool
    }

    /// The SVG document.
    public static func svg(_ r: BenchResults) -> String {
        var latency: [Bar] = []
        for q in r.queries {
            latency.append(
                Bar(label: "\(q.query) ×\(q.clients) p50", value: q.latency.p50Us, unit: "µs", isBaseline: false)
            )
            latency.append(
                Bar(label: "\(q.query) ×\(q.clients) p99", value: q.latency.p99Us, unit: "µs", isBaseline: false)
            )
        }
        if let f = r.freshness {
            latency.append(Bar(label: "freshness p50", value: f.p50Us, unit: "µs", isBaseline: false))
            latency.append(Bar(label: "freshness p99", value: f.p99Us, unit: "µs", isBaseline: false))
        }
        if let t = r.timeDriven {
            latency.append(Bar(label: "time lateness p50", value: t.lateness.p50Us, unit: "µs", isBaseline: false))
            latency.append(Bar(label: "time lateness p99", value: t.lateness.p99Us, unit: "µs", isBaseline: false))
        }
        if let b = r.baseline {
            latency.append(
                Bar(label: "SQL check 1 seg p50", value: b.checkOneSegment.p50Us, unit: "µs", isBaseline: true)
            )
            latency.append(
                Bar(label: "SQL check 1 seg p99", value: b.checkOneSegment.p99Us, unit: "µs", isBaseline: true)
            )
            latency.append(
                Bar(label: "SQL recompute user p50", value: b.recomputeUser.p50Us, unit: "µs", isBaseline: true)
            )
            latency.append(
                Bar(label: "SQL recompute user p99", value: b.recomputeUser.p99Us, unit: "µs", isBaseline: true)
            )
        }
        if let c = r.catchUp {
            latency.append(
                Bar(
                    label: "evaluator CPU/event, catch-up",
                    value: c.cpuMicrosecondsPerEvent,
                    unit: "µs",
                    isBaseline: false
                )
            )
        }
        if let l = r.liveIngest, l.evaluatorCPUMicrosecondsPerEvent > 0 {
            latency.append(
                Bar(
                    label: "evaluator CPU/event, live",
                    value: l.evaluatorCPUMicrosecondsPerEvent,
                    unit: "µs",
                    isBaseline: false
                )
            )
        }
        var throughput: [Bar] = []
        if let i = r.bulkImport {
            throughput.append(Bar(label: "import events/s", value: i.eventsPerSecond, unit: "/s", isBaseline: false))
        }
        if let c = r.catchUp {
            throughput.append(Bar(label: "catch-up events/s", value: c.eventsPerSecond, unit: "/s", isBaseline: false))
        }
        if let l = r.liveIngest {
            throughput.append(
                Bar(
                    label: "live evaluator events/s (unpaced)",
                    value: l.evaluatorEventsPerSecond,
                    unit: "/s",
                    isBaseline: false
                )
            )
            throughput.append(
                Bar(
                    label: "live, sustained with bounded lag",
                    value: l.sustainedEventsPerSecond,
                    unit: "/s",
                    isBaseline: false
                )
            )
        }
        if let t = r.timeDriven {
            throughput.append(Bar(label: "due exits/s (burst)", value: t.burstPerSecond, unit: "/s", isBaseline: false))
        }
        for q in r.queries where q.clients == (r.queries.map(\.clients).max() ?? 0) {
            throughput.append(
                Bar(label: "\(q.query) ×\(q.clients) calls/s", value: q.callsPerSecond, unit: "/s", isBaseline: false)
            )
        }
        if let b = r.baseline, b.checkOneSegment.meanUs > 0 {
            throughput.append(
                Bar(
                    label: "SQL check calls/s (1 thread)",
                    value: 1e6 / b.checkOneSegment.meanUs,
                    unit: "/s",
                    isBaseline: true
                )
            )
        }
        if let m = r.members {
            throughput.append(Bar(label: "members rows/s", value: m.rowsPerSecond, unit: "/s", isBaseline: false))
        }
        if let b = r.baseline {
            throughput.append(
                Bar(label: "SQL members rows/s", value: b.membersRowsPerSecond, unit: "/s", isBaseline: true)
            )
        }
        if let b = r.backfill {
            throughput.append(
                Bar(
                    label: "new segment: users/s back-filled",
                    value: Double(r.run.users) / max(b.seconds, 1e-9),
                    unit: "/s",
                    isBaseline: false
                )
            )
            throughput.append(
                Bar(
                    label: "SQL whole segment users/s",
                    value: Double(r.run.users) / max(b.baselineSQLSeconds, 1e-9),
                    unit: "/s",
                    isBaseline: true
                )
            )
        }

        let width = 900.0
        let labelWidth = 260.0
        let barHeight = 16.0
        let gap = 5.0
        var y = 50.0
        var body = ""
        func panel(_ title: String, _ bars: [Bar]) {
            let values = bars.map(\.value).filter { $0 > 0 && $0.isFinite }
            let lo = floor(log10(values.min() ?? 1))
            let hi = max(lo + 1, ceil(log10(values.max() ?? 10)))
            let plotWidth = width - labelWidth - 120
            func x(_ v: Double) -> Double { labelWidth + (log10(max(v, pow(10, lo))) - lo) / (hi - lo) * plotWidth }
            body += "<text x=\"10\" y=\"\(y)\" class=\"h\">\(Self.escape(title))</text>\n"
            y += 12
            let top = y
            let bottom = top + Double(bars.count) * (barHeight + gap)
            var decade = lo
            while decade <= hi {
                let gx = x(pow(10, decade))
                body +=
                    "<line x1=\"\(Self.f(gx))\" y1=\"\(Self.f(top))\" x2=\"\(Self.f(gx))\" y2=\"\(Self.f(bottom))\" class=\"g\"/>\n"
                body +=
                    "<text x=\"\(Self.f(gx))\" y=\"\(Self.f(bottom + 12))\" class=\"t\" text-anchor=\"middle\">\(Self.short(pow(10, decade)))</text>\n"
                decade += 1
            }
            for bar in bars {
                let w = max(1, x(bar.value) - labelWidth)
                body +=
                    "<text x=\"\(Self.f(labelWidth - 6))\" y=\"\(Self.f(y + 12))\" text-anchor=\"end\">\(Self.escape(bar.label))</text>\n"
                body +=
                    "<rect x=\"\(Self.f(labelWidth))\" y=\"\(Self.f(y))\" width=\"\(Self.f(w))\" height=\"\(Self.f(barHeight))\" class=\"\(bar.isBaseline ? "b" : "o")\"/>\n"
                body +=
                    "<text x=\"\(Self.f(labelWidth + w + 4))\" y=\"\(Self.f(y + 12))\">\(Self.short(bar.value)) \(bar.unit)</text>\n"
                y += barHeight + gap
            }
            y = bottom + 40
        }
        panel("Latency (µs, log scale, lower is better)", latency)
        panel("Throughput (per second, log scale, higher is better)", throughput)
        let title =
            "segbench \(r.run.scale): \(r.run.users) users, \(r.run.events) events, \(r.run.segments) segments — \(r.machine.cores) cores, \(r.run.date)"
        return """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(y))" viewBox="0 0 \(Int(width)) \(Int(y))" font-family="sans-serif" font-size="11">
            <style>.h{font-size:13px;font-weight:bold}.g{stroke:#ddd}.t{fill:#666;font-size:10px}.o{fill:#2f6db5}.b{fill:#d9822b}</style>
            <rect width="100%" height="100%" fill="white"/>
            <text x="10" y="20" class="h">\(Self.escape(title))</text>
            <rect x="560" y="28" width="12" height="10" class="o"/><text x="576" y="37">Segments</text>
            <rect x="650" y="28" width="12" height="10" class="b"/><text x="666" y="37">naive SQL baseline (SQLite, in-process)</text>
            \(body)</svg>

            """
    }

    static func f(_ v: Double) -> String { String(format: "%.1f", v) }
    static func short(_ v: Double) -> String {
        switch v {
        case 1e9...: return String(format: "%.1fG", v / 1e9)
        case 1e6...: return String(format: "%.1fM", v / 1e6)
        case 1e4...: return String(format: "%.0fk", v / 1e3)
        case 1e3...: return String(format: "%.1fk", v / 1e3)
        case 10...: return String(format: "%.0f", v)
        default: return String(format: "%.2g", v)
        }
    }
    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(
            of: ">",
            with: "&gt;"
        )
    }
}
