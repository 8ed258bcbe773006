/// RFC 3339 date-times to and from Unix milliseconds, in pure Swift (no Foundation, no locale, no time zone
/// database).
///
/// Accepted by ``parse(_:)``: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, the `T` and `Z` in either case, years
/// 0000–9999, days checked against the month and leap years, a leap second `:60` read as the first millisecond of
/// the next minute, any number of fraction digits truncated to milliseconds. A date alone (`2026-11-01`), a missing
/// offset, a space instead of `T`, and `±HH` without minutes are refused.
///
/// ```swift
/// RFC3339.parse("2026-11-01T10:00:00Z")          // 1793527200000
/// RFC3339.parse("2026-11-01T11:00:00.5+01:00")   // 1793527200500
/// RFC3339.format(1793527200500)                  // "2026-11-01T10:00:00.500Z"
/// ```
public enum RFC3339 {
    private static let msPerDay: Int64 = 86_400_000

    /// Parses an RFC 3339 date-time.
    ///
    /// - Parameter text: The date-time, for example `2026-11-01T10:00:00Z` or `2026-11-01T12:00:00.25+02:00`.
    /// - Returns: Milliseconds since the Unix epoch, or `nil` when `text` is not a complete RFC 3339 date-time.
    public static func parse(_ text: String) -> Int64? {
        var copy = text
        return copy.withUTF8 { parse(bytes: $0) }
    }

    /// Parses an RFC 3339 date-time from UTF-8 bytes; the same rules as ``parse(_:)``.
    static func parse(bytes b: UnsafeBufferPointer<UInt8>) -> Int64? {
        var i = 0
        func digits(_ count: Int) -> Int64? {
            guard i + count <= b.count else { return nil }
            var value: Int64 = 0
            for k in i..<(i + count) {
                let c = b[k]
                guard c >= 0x30, c <= 0x39 else { return nil }
                value = value * 10 + Int64(c - 0x30)
            }
            i += count
            return value
        }
        func expect(_ c: UInt8, or alternative: UInt8? = nil) -> Bool {
            guard i < b.count, b[i] == c || (alternative != nil && b[i] == alternative) else { return false }
            i += 1
            return true
        }
        guard let year = digits(4), expect(0x2D), let month = digits(2), expect(0x2D), let day = digits(2),
            expect(0x54, or: 0x74), let hour = digits(2), expect(0x3A), let minute = digits(2), expect(0x3A),
            let second = digits(2)
        else { return nil }
        guard (1...12).contains(month), day >= 1, day <= daysInMonth(year: year, month: month), hour <= 23,
            minute <= 59, second <= 60
        else { return nil }
        var millis: Int64 = 0
        if i < b.count, b[i] == 0x2E {
            i += 1
            var count = 0
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
                if count < 3 { millis = millis * 10 + Int64(b[i] - 0x30) }
                count += 1
                i += 1
            }
            guard count > 0 else { return nil }
            for _ in count..<max(count, 3) { millis *= 10 }
        }
        guard i < b.count else { return nil }
        var offsetMinutes: Int64 = 0
        switch b[i] {
        case 0x5A, 0x7A:  // Z z
            i += 1
        case 0x2B, 0x2D:  // + -
            let sign: Int64 = b[i] == 0x2D ? -1 : 1
            i += 1
            guard let oh = digits(2), expect(0x3A), let om = digits(2), oh <= 23, om <= 59 else { return nil }
            offsetMinutes = sign * (oh * 60 + om)
        default:
            return nil
        }
        guard i == b.count else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let local = days * msPerDay + hour * 3_600_000 + minute * 60_000 + second * 1_000 + millis
        return local - offsetMinutes * 60_000
    }

    /// Formats milliseconds since the Unix epoch as an RFC 3339 date-time in UTC.
    ///
    /// Milliseconds are written only when they are not zero (`2026-11-01T10:00:00Z`,
    /// `2026-11-01T10:00:00.250Z`). Years outside 0000–9999 cannot be written in RFC 3339; they are written with a
    /// sign and as many digits as needed (`+12024-…`, `-0001-…`), which ``parse(_:)`` refuses.
    ///
    /// - Parameter ms: Milliseconds since 1970-01-01T00:00:00Z; may be negative.
    /// - Returns: The date-time text.
    public static func format(_ ms: Int64) -> String {
        // Floor division so that instants before 1970 land on the right day.
        let (q, r) = ms.quotientAndRemainder(dividingBy: msPerDay)
        let days = r < 0 ? q - 1 : q
        let inDay = r < 0 ? r + msPerDay : r
        let (year, month, day) = civilFromDays(days)
        let hour = inDay / 3_600_000
        let minute = inDay / 60_000 % 60
        let second = inDay / 1_000 % 60
        let millis = inDay % 1_000
        var out = ""
        if year < 0 {
            out += "-" + pad(-year, 4)
        } else if year > 9999 {
            out += "+" + String(year)
        } else {
            out += pad(year, 4)
        }
        out +=
            "-" + pad(month, 2) + "-" + pad(day, 2) + "T" + pad(hour, 2) + ":" + pad(minute, 2) + ":"
            + pad(second, 2)
        if millis != 0 { out += "." + pad(millis, 3) }
        return out + "Z"
    }

    // MARK: - Calendar arithmetic (proleptic Gregorian, after Howard Hinnant's days_from_civil)

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let s = String(value)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    private static func isLeap(_ year: Int64) -> Bool {
        year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    }

    private static func daysInMonth(year: Int64, month: Int64) -> Int64 {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a civil date.
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The civil date of a number of days since 1970-01-01.
    static func civilFromDays(_ days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
