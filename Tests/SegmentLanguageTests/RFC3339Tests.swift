import Testing

@testable import SegmentLanguage

@Suite struct RFC3339Tests {
    @Test func parsesValidDateTimes() {
        let rows: [(String, Int64)] = [
            ("1970-01-01T00:00:00Z", 0),
            ("1970-01-01T00:00:00.001Z", 1),
            ("1970-01-01T00:00:00.0019Z", 1),
            ("1970-01-01T00:00:00.5Z", 500),
            ("1969-12-31T23:59:59.999Z", -1),
            ("2026-11-01T10:00:00Z", 1_793_527_200_000),
            ("2026-11-01t10:00:00z", 1_793_527_200_000),
            ("2026-11-01T11:30:00+01:30", 1_793_527_200_000),
            ("2026-11-01T05:00:00-05:00", 1_793_527_200_000),
            ("2024-02-29T00:00:00Z", 1_709_164_800_000),
            ("2000-02-29T00:00:00Z", 951_782_400_000),
            ("0000-01-01T00:00:00Z", -62_167_219_200_000),
            ("9999-12-31T23:59:59.999Z", 253_402_300_799_999),
            ("2026-06-30T23:59:60Z", 1_782_864_000_000),  // a leap second reads as the next second
        ]
        for (text, ms) in rows {
            #expect(RFC3339.parse(text) == ms, "\(text)")
        }
    }

    @Test func refusesOthers() {
        for text in [
            "2026-11-01", "2026-11-01T10:00:00", "2026-11-01 10:00:00Z", "2026-11-01T10:00Z", "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-11-01T24:00:00Z",
            "2026-11-01T10:60:00Z", "2026-11-01T10:00:61Z", "2026-11-01T10:00:00.Z", "2026-11-01T10:00:00+01",
            "2026-11-01T10:00:00+24:00", "2026-11-01T10:00:00Zx", "+2026-11-01T10:00:00Z", "26-11-01T10:00:00Z",
            "2026-11-01T10:00:00 Z", "", "2026-1-01T10:00:00Z", "２０２６-11-01T10:00:00Z",
        ] {
            #expect(RFC3339.parse(text) == nil, "\(text)")
        }
    }

    @Test func formats() {
        #expect(RFC3339.format(0) == "1970-01-01T00:00:00Z")
        #expect(RFC3339.format(-1) == "1969-12-31T23:59:59.999Z")
        #expect(RFC3339.format(1_793_527_200_250) == "2026-11-01T10:00:00.250Z")
        #expect(RFC3339.format(-62_167_219_200_000) == "0000-01-01T00:00:00Z")
        #expect(RFC3339.format(-62_167_219_200_001) == "-0001-12-31T23:59:59.999Z")
        #expect(RFC3339.format(253_402_300_800_000) == "+10000-01-01T00:00:00Z")
        _ = RFC3339.format(.min)
        _ = RFC3339.format(.max)
    }

    @Test func roundTripsEveryDayAndRandomInstants() {
        // Every day from 1600 to 2400 at a random time of day, and random instants across the whole range.
        var random = SeededRandom(seed: 3339)
        var day = RFC3339.daysFromCivil(year: 1600, month: 1, day: 1)
        let last = RFC3339.daysFromCivil(year: 2400, month: 12, day: 31)
        var previous: (Int64, Int64, Int64)?
        while day <= last {
            let ms = day * 86_400_000 + Int64.random(in: 0..<86_400_000, using: &random)
            let text = RFC3339.format(ms)
            #expect(RFC3339.parse(text) == ms)
            let civil = RFC3339.civilFromDays(day)
            if let previous { #expect(civil != previous) }
            previous = civil
            day += 1
        }
        for _ in 0..<20_000 {
            let ms = Int64.random(in: -62_167_219_200_000...253_402_300_799_999, using: &random)
            #expect(RFC3339.parse(RFC3339.format(ms)) == ms)
        }
    }
}
