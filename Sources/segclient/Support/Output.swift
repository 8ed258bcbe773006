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
    /// something that does not exist, 4 when a daemon cannot be reached, else 1.
    static func exitCode(for error: SegmentsClientError) -> Int32 {
        switch error.code {
        case .invalidArgument, .alreadyExists, .failedPrecondition, .outOfRange: 2
        case .notFound: 3
        case .unavailable: 4
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
}
