import SegmentLanguage
import SegmentsClient
import SegmentsJSON
import SegmentsNDJSON

/// Checks of the NDJSON import records on arbitrary text, split into lines as `segclient import`
/// splits them (`\n`, with `\r\n` too); every line is read both as a profile line and as an
/// event line.
///
/// Properties:
/// - a refused line has a reason that is non-empty and fits on one line without control
///   characters: the importer reports it as `line N: reason`, one line per refused line;
/// - an accepted line, written back as JSON (values as `NDJSONRecords.json` writes them, the
///   event's instant as RFC 3339), reads back to the same record.
public enum NDJSONChecks {
    /// Runs every check on one input.
    /// - Parameter input: the fuzz input.
    /// - Throws: ``FuzzFinding`` when a property does not hold.
    public static func check(_ input: [UInt8]) throws(FuzzFinding) {
        for var line in input.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            try Self.checkProfile(line)
            try Self.checkEvent(line)
        }
    }

    private static func checkProfile(_ line: ArraySlice<UInt8>) throws(FuzzFinding) {
        let profile: (userID: String, attributes: [String: SegmentsValue?])
        do {
            profile = try NDJSONRecords.profile(line)
        } catch {
            try Self.checkReason(error, line)
            return
        }
        let attributes = JSONValue.object(
            profile.attributes.sorted { $0.key < $1.key }.map { ($0.key, $0.value.map(NDJSONRecords.json) ?? .null) }
        )
        let written = JSONValue.object([("id", .string(profile.userID)), ("attributes", attributes)]).serialized
        let again: (userID: String, attributes: [String: SegmentsValue?])
        do {
            again = try NDJSONRecords.profile(Array(written.utf8))
        } catch {
            throw FuzzFinding("profile line \(Self.text(line)) written back as \(written) is refused: \(error)")
        }
        guard again.userID == profile.userID, again.attributes == profile.attributes else {
            throw FuzzFinding("profile line \(Self.text(line)) written back as \(written) reads as \(again)")
        }
    }

    private static func checkEvent(_ line: ArraySlice<UInt8>) throws(FuzzFinding) {
        let event: SegmentsEvent
        do {
            event = try NDJSONRecords.event(line)
        } catch {
            try Self.checkReason(error, line)
            return
        }
        var members: [(key: String, value: JSONValue)] = [
            ("user", .string(event.userID)), ("event", .string(event.name)),
        ]
        if let atMs = event.atMs { members.append(("at", .string(RFC3339.format(atMs)))) }
        members.append(
            (
                "properties",
                .object(event.properties.sorted { $0.key < $1.key }.map { ($0.key, NDJSONRecords.json($0.value)) })
            )
        )
        if let id = event.id { members.append(("id", .string(id))) }
        let written = JSONValue.object(members).serialized
        let again: SegmentsEvent
        do {
            again = try NDJSONRecords.event(Array(written.utf8))
        } catch {
            throw FuzzFinding("event line \(Self.text(line)) written back as \(written) is refused: \(error)")
        }
        guard again == event else {
            throw FuzzFinding(
                "event line \(Self.text(line)) written back as \(written) reads as \(again), not \(event)"
            )
        }
    }

    private static func text(_ line: ArraySlice<UInt8>) -> String {
        String(decoding: line, as: UTF8.self).debugDescription
    }

    private static func checkReason(_ error: NDJSONRecordError, _ line: ArraySlice<UInt8>) throws(FuzzFinding) {
        guard !error.reason.isEmpty else {
            throw FuzzFinding("line \(Array(line)) is refused with an empty reason")
        }
        if let control = error.reason.unicodeScalars.first(where: { $0.properties.generalCategory == .control }) {
            throw FuzzFinding(
                "line \(Array(line)) is refused with a reason holding control character U+\(String(control.value, radix: 16)): \(error.reason.debugDescription)"
            )
        }
    }
}

extension NDJSONChecks {
    /// Inputs to start fuzzing from: profile and event lines as the docs show them, and lines
    /// that are refused.
    public static var seeds: [[UInt8]] {
        let lines = [
            #"{"id":"u1","attributes":{"plan":"pro","age":34,"signup_at":"2026-01-05T09:00:00Z"}}"#,
            #"{"id":"u2","attributes":{"tags":["a","b"],"vip":true,"old":null}}"#,
            #"{"user":"u1","event":"purchase","at":"2026-11-01T10:00:00Z","properties":{"amount":42.5},"id":"e-17"}"#,
            #"{"user":"u1","event":"page_view","at":"2026-11-01T11:00:00.5+01:00","properties":{"url":"/pricing"}}"#,
            #"{"user":"u\u00e9","event":"x\ud83d\ude00","properties":{"n":-1.5e3,"l":[]}}"#,
            #"{"user":"u1","event":"e","at":"0001-01-01T00:00:00Z"}"#,
            #"{"user":"u1","event":"e","at":"9999-12-31T23:59:59.999Z"}"#,
            #"{"user":"u1","event":"e","properties":{"p":null}}"#,
            #"{"id":"u1","id":"u2"}"#,
            #"{"id":1}"#,
            #"{"user":"u1","event":"e","at":"yesterday"}"#,
            #"{"id":"u1","attributes":{"nested":{"a":1}}}"#,
            #"[1,2,3]"#,
            #"{"user":"u1"  "event":"e"}"#,
            "{\"id\":\"u1\"}\r",
        ]
        return lines.map { Array($0.utf8) } + [Array(lines.prefix(4).joined(separator: "\n").utf8)]
    }
}
