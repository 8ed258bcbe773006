import Foundation
import SegmentLanguage
import SegmentsClient
import SegmentsJSON
import SegmentsNDJSON

/// Printing for people and for scripts.
enum Output {
    /// Writes a line to standard output.
    static func line(_ text: String) {
        print(text)
    }

    /// Writes JSON (compact, one line) to standard output.
    static func json(_ value: JSONValue) {
        print(value.serialized)
    }

    /// Writes `segclient: message` to standard error.
    static func error(_ message: String) {
        FileHandle.standardError.write(Data("segclient: \(message)\n".utf8))
    }

    /// Writes a line to standard error.
    static func diagnostic(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }

    /// Exit status for a failed call: 2 for a request the daemon refused as invalid, 3 for
    /// something that does not exist, 4 when a daemon cannot be reached, 5 when the caller's role
    /// does not allow it, else 1.
    static func exitCode(for error: SegmentsClientError) -> Int32 {
        switch error.code {
        case .invalidArgument, .alreadyExists, .failedPrecondition, .outOfRange: 2
        case .notFound: 3
        case .unavailable: 4
        case .permissionDenied: 5
        default: 1
        }
    }

    /// A value as people read it: strings quoted, timestamps in RFC 3339.
    static func text(_ value: SegmentsValue) -> String {
        switch value {
        case .timestamp(let ms): RFC3339.format(ms)
        default: NDJSONRecords.json(value).serialized
        }
    }

    /// An instant in RFC 3339.
    static func time(_ ms: Int64) -> String {
        RFC3339.format(ms)
    }

    /// A length of time as people read it: `850ms`, `12.3s`, `4m5s`, `2h3m`, `3d4h`.
    static func duration(_ ms: Int64) -> String {
        if ms < 1000 { return "\(ms)ms" }
        if ms < 60_000 { return "\(ms / 1000).\(ms % 1000 / 100)s" }
        let seconds = ms / 1000
        if seconds < 3600 { return "\(seconds / 60)m\(seconds % 60)s" }
        if seconds < 86_400 { return "\(seconds / 3600)h\(seconds % 3600 / 60)m" }
        return "\(seconds / 86_400)d\(seconds % 86_400 / 3600)h"
    }

    /// A size in bytes as people read it, in binary units: `512 B`, `3.4 MiB`.
    static func bytes(_ count: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(count) B" : "\((value * 10).rounded() / 10) \(units[unit])"
    }
}
