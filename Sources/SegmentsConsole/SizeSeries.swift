import SegmentLanguage
import SegmentsClient

/// A segment's member count over time, rebuilt from its recorded transitions (not by re-evaluating): starting from
/// the count now and walking the transitions back, each enter means one member fewer before it, each exit one
/// more. With only the latest transitions read, the series starts at the first of them.
struct SizeSeries: Sendable, Equatable {
    /// (instant in ms since the Unix epoch, members from that instant on), oldest first; never empty.
    var points: [(atMs: Int64, count: Int)]

    static func == (a: SizeSeries, b: SizeSeries) -> Bool {
        a.points.elementsEqual(b.points) { $0.atMs == $1.atMs && $0.count == $1.count }
    }

    /// - Parameters:
    ///   - transitions: the segment's latest transitions, oldest first.
    ///   - currentCount: the member count now.
    ///   - nowMs: the instant of the count now.
    init(transitions: [SegmentsTransition], currentCount: Int, nowMs: Int64) {
        var points: [(atMs: Int64, count: Int)] = [(nowMs, currentCount)]
        var count = currentCount
        for transition in transitions.reversed() {
            points.append((transition.atMs, count))
            count += transition.kind == .enter ? -1 : 1
        }
        if let first = transitions.first {
            points.append((first.atMs - 1, max(0, count)))
        }
        self.points = points.reversed()
    }

    /// A small line (no axes) for a table cell.
    func sparklineSVG(width: Int = 120, height: Int = 24) -> String {
        let path = self.polyline(width: Double(width), height: Double(height), left: 1, top: 2)
        return """
            <svg class="spark" width="\(width)" height="\(height)" viewBox="0 0 \(width) \(height)" role="img" \
            aria-label="size over time"><polyline fill="none" stroke="#3563c9" stroke-width="1.5" points="\(path)"/></svg>
            """
    }

    /// A chart a person can read: the segment's name as its title, the member count on the vertical axis (0 and
    /// the largest count), dates and times under the horizontal one (first, middle, last instant).
    func chartSVG(title: String, width: Int = 720, height: Int = 240) -> String {
        let (left, top, right, bottom) = (56.0, 28.0, 16.0, 36.0)
        let plotWidth = Double(width) - left - right
        let plotHeight = Double(height) - top - bottom
        let path = self.polyline(width: plotWidth, height: plotHeight, left: left, top: top)
        let maximum = max(1, self.points.map(\.count).max() ?? 1)
        let first = self.points.first?.atMs ?? 0
        let last = self.points.last?.atMs ?? first
        let ticks = [first, first + (last - first) / 2, last]
        var labels = ""
        for (index, instant) in ticks.enumerated() {
            let x = left + plotWidth * Double(index) / 2
            let anchor = ["start", "middle", "end"][index]
            labels += """
                <text x="\(x)" y="\(Double(height) - 12)" text-anchor="\(anchor)" font-size="11">\
                \(HTML.escape(Self.label(instant)))</text>
                """
        }
        return """
            <svg class="chart" width="\(width)" height="\(height)" viewBox="0 0 \(width) \(height)" role="img" \
            aria-label="\(HTML.escape(title)) size over time" style="background:#fff;border:1px solid #e3e6eb">\
            <text x="\(left)" y="18" font-size="13" font-weight="600">\(HTML.escape(title)) — members over time</text>\
            <line x1="\(left)" y1="\(top)" x2="\(left)" y2="\(top + plotHeight)" stroke="#8a93a5"/>\
            <line x1="\(left)" y1="\(top + plotHeight)" x2="\(left + plotWidth)" y2="\(top + plotHeight)" \
            stroke="#8a93a5"/>\
            <text x="\(left - 6)" y="\(top + 4)" text-anchor="end" font-size="11">\(maximum)</text>\
            <text x="\(left - 6)" y="\(top + plotHeight)" text-anchor="end" font-size="11">0</text>\
            \(labels)<polyline fill="none" stroke="#3563c9" stroke-width="2" points="\(path)"/></svg>
            """
    }

    /// The series as a step line scaled into the box.
    private func polyline(width: Double, height: Double, left: Double, top: Double) -> String {
        let first = self.points.first?.atMs ?? 0
        let span = Double(max(1, (self.points.last?.atMs ?? first) - first))
        let maximum = Double(max(1, self.points.map(\.count).max() ?? 1))
        func x(_ atMs: Int64) -> Double { left + width * Double(atMs - first) / span }
        func y(_ count: Int) -> Double { top + height - height * Double(count) / maximum }
        var coordinates: [String] = []
        var previous: Int?
        for point in self.points {
            if let previous {
                coordinates.append(Self.pair(x(point.atMs), y(previous)))
            }
            coordinates.append(Self.pair(x(point.atMs), y(point.count)))
            previous = point.count
        }
        return coordinates.joined(separator: " ")
    }

    private static func pair(_ x: Double, _ y: Double) -> String {
        "\((x * 10).rounded() / 10),\((y * 10).rounded() / 10)"
    }

    /// `2026-11-01 09:30` (UTC).
    static func label(_ ms: Int64) -> String {
        let text = RFC3339.format(ms)
        return String(text.prefix(16).map { $0 == "T" ? " " : $0 })
    }
}
