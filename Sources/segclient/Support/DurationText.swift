/// Parses durations like `90s`, `15m`, `12h`, `30d`, `2w`, `500ms` or combinations such as
/// `1h30m`, into milliseconds.
enum DurationText {
    static func milliseconds(_ text: String) -> Int64? {
        var total: Int64 = 0
        var number: Int64?
        var index = text.startIndex
        guard !text.isEmpty else { return nil }
        while index < text.endIndex {
            let character = text[index]
            if let digit = character.wholeNumberValue, character.isASCII {
                let (times, overflow1) = (number ?? 0).multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = times.addingReportingOverflow(Int64(digit))
                guard !overflow1, !overflow2 else { return nil }
                number = sum
                index = text.index(after: index)
                continue
            }
            guard let value = number else { return nil }
            let unit: Int64
            if text[index...].hasPrefix("ms") {
                unit = 1
                index = text.index(index, offsetBy: 2)
            } else {
                switch character {
                case "s": unit = 1000
                case "m": unit = 60_000
                case "h": unit = 3_600_000
                case "d": unit = 86_400_000
                case "w": unit = 604_800_000
                default: return nil
                }
                index = text.index(after: index)
            }
            let (part, overflow1) = value.multipliedReportingOverflow(by: unit)
            let (sum, overflow2) = total.addingReportingOverflow(part)
            guard !overflow1, !overflow2 else { return nil }
            total = sum
            number = nil
        }
        return number == nil ? total : nil
    }
}
