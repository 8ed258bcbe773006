import Foundation
import SegmentLanguage

/// An SVG line chart of member counts over time: one line per segment, a time axis with dates, a count axis from
/// zero, a legend with the segments' names and a title. Self-contained (no scripts, no external fonts).
struct SizeChart {
    /// One segment's counts at the chart's instants.
    struct Series {
        var name: String
        var counts: [UInt64]
    }

    let instants: [Int64]
    let series: [Series]

    static let width = 960.0
    static let height = 480.0
    static let left = 80.0
    static let right = 48.0
    static let top = 56.0
    static let bottom = 72.0
    static let colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

    /// The chart as an SVG document.
    func svg() -> String {
        let plotWidth = Self.width - Self.left - Self.right
        let plotHeight = Self.height - Self.top - Self.bottom
        let first = self.instants.first ?? 0
        let last = max(self.instants.last ?? 1, first + 1)
        let peak = max(self.series.flatMap(\.counts).max() ?? 0, 1)
        let yTicks = Self.countTicks(upTo: peak)
        let yMax = Double(yTicks.last ?? peak)
        func x(_ ms: Int64) -> Double { Self.left + plotWidth * Double(ms - first) / Double(last - first) }
        func y(_ count: UInt64) -> Double { Self.top + plotHeight * (1 - Double(count) / yMax) }

        var body = ""
        let names = self.series.map(\.name).joined(separator: ", ")
        body += text(Self.left, 28, "Members of \(names)", attributes: "class=\"title\"")
        body += text(
            Self.left,
            44,
            "\(RFC3339.format(first)) – \(RFC3339.format(self.instants.last ?? first)), from the transition log",
            attributes: "class=\"note\""
        )
        // Count axis: grid lines and labels.
        for tick in yTicks {
            let position = y(tick)
            body += line(Self.left, position, Self.left + plotWidth, position, "grid")
            body += text(Self.left - 8, position + 4, Self.count(tick), attributes: "text-anchor=\"end\"")
        }
        body += text(
            18,
            Self.top + plotHeight / 2,
            "members",
            attributes: "transform=\"rotate(-90 18 \(Self.f(Self.top + plotHeight / 2)))\" text-anchor=\"middle\""
        )
        // Time axis: ticks and dates.
        let span = last - first
        for tick in Self.timeTicks(from: first, to: last) {
            let position = x(tick)
            body += line(position, Self.top + plotHeight, position, Self.top + plotHeight + 6, "axis")
            body += text(
                position,
                Self.top + plotHeight + 22,
                Self.date(tick, span: span),
                attributes: "text-anchor=\"middle\""
            )
        }
        body += line(Self.left, Self.top + plotHeight, Self.left + plotWidth, Self.top + plotHeight, "axis")
        body += line(Self.left, Self.top, Self.left, Self.top + plotHeight, "axis")
        body += text(Self.left + plotWidth / 2, Self.height - 18, "time (UTC)", attributes: "text-anchor=\"middle\"")
        // One line per segment, and the legend.
        for (index, series) in self.series.enumerated() {
            let color = Self.colors[index % Self.colors.count]
            let points = zip(self.instants, series.counts).map { "\(Self.f(x($0))),\(Self.f(y($1)))" }
            body +=
                "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(points.joined(separator: " "))\"/>\n"
            if self.instants.count == 1, let point = points.first {
                let parts = point.split(separator: ",")
                body += "<circle cx=\"\(parts[0])\" cy=\"\(parts[1])\" r=\"3\" fill=\"\(color)\"/>\n"
            }
            let legendX = Self.left + plotWidth - 200
            let legendY = Self.top + 16 + Double(index) * 18
            body +=
                "<rect x=\"\(Self.f(legendX))\" y=\"\(Self.f(legendY - 9))\" width=\"12\" height=\"4\" fill=\"\(color)\"/>\n"
            let latest = series.counts.last.map(Self.count) ?? "0"
            body += text(legendX + 18, legendY - 3, "\(series.name) (\(latest) at the end)")
        }
        return """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(Self.width))" height="\(Int(Self.height))" \
            viewBox="0 0 \(Int(Self.width)) \(Int(Self.height))" font-family="sans-serif" font-size="12">
            <style>.title{font-size:16px;font-weight:bold}.note{fill:#555}.grid{stroke:#e5e5e5}.axis{stroke:#333}</style>
            <rect width="100%" height="100%" fill="white"/>
            \(body)</svg>

            """
    }

    private func text(_ x: Double, _ y: Double, _ content: String, attributes: String = "") -> String {
        "<text x=\"\(Self.f(x))\" y=\"\(Self.f(y))\" \(attributes)>\(Self.escape(content))</text>\n"
    }

    private func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, _ style: String) -> String {
        "<line x1=\"\(Self.f(x1))\" y1=\"\(Self.f(y1))\" x2=\"\(Self.f(x2))\" y2=\"\(Self.f(y2))\" class=\"\(style)\"/>\n"
    }

    /// 0 and four to six round steps up to at least `peak` (1, 2 or 5 times a power of ten).
    static func countTicks(upTo peak: UInt64) -> [UInt64] {
        var step: UInt64 = 1
        while peak / step > 6 {
            let next = [step * 2, step * 5, step * 10].first { peak / $0 <= 6 } ?? step * 10
            step = next
        }
        let top = (peak + step - 1) / step * step
        return Array(stride(from: 0, through: top, by: Int(step)).map { UInt64($0) })
    }

    /// Round instants between `first` and `last`: a step from 1 minute to 1 year giving at most 8 ticks.
    static func timeTicks(from first: Int64, to last: Int64) -> [Int64] {
        let minute: Int64 = 60_000
        let steps: [Int64] = [1, 5, 15, 30, 60, 180, 360, 720, 1440, 2880, 10080, 20160, 43200, 129_600, 525_600]
            .map { $0 * minute }
        let step = steps.first { (last - first) / $0 <= 8 } ?? steps[steps.count - 1]
        var tick = (first + step - 1) / step * step
        var ticks: [Int64] = []
        while tick <= last {
            ticks.append(tick)
            tick += step
        }
        return ticks
    }

    /// A tick's label: the time of day over a short span, the date over a long one.
    static func date(_ ms: Int64, span: Int64) -> String {
        let text = RFC3339.format(ms)  // 2026-11-01T12:00:00Z
        let day = String(text.prefix(10))
        let time = String(text.dropFirst(11).prefix(5))
        if span <= 86_400_000 { return time }
        if span <= 7 * 86_400_000 { return "\(day.dropFirst(5)) \(time)" }
        return day
    }

    static func count(_ value: UInt64) -> String {
        value >= 10_000 ? String(format: "%.0fk", Double(value) / 1000) : "\(value)"
    }

    static func f(_ value: Double) -> String {
        String(format: "%.1f", value)
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
