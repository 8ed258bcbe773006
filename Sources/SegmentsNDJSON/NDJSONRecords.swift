import SegmentLanguage
import SegmentsClient
import SegmentsJSON

/// Why one NDJSON line (or a JSON argument) cannot be imported.
public struct NDJSONRecordError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong with the line, e.g. `"at" is not an RFC 3339 date-time`.
    public var reason: String

    /// Creates an error.
    public init(_ reason: String) {
        self.reason = reason
    }

    public var description: String { self.reason }
}

/// Converts NDJSON import lines and JSON arguments into client values (DESIGN.md):
///
/// ```
/// {"id":"u1","attributes":{"plan":"pro","age":34,"signup_at":"2026-01-05T09:00:00Z"}}
/// {"user":"u1","event":"purchase","at":"2026-11-01T10:00:00Z","properties":{"amount":42.5},"id":"e-17"}
/// ```
///
/// Values: string, number, boolean, array of strings; `null` removes an attribute (and is
/// refused as an event property). Strings stay strings — an RFC 3339 string attribute is read as
/// a timestamp by the segment language when compared with a time.
public enum NDJSONRecords {
    /// Parses a profile line: `{"id": …, "attributes": {…}}`.
    public static func profile(
        _ line: some Collection<UInt8>
    ) throws(NDJSONRecordError) -> (
        userID: String, attributes: [String: SegmentsValue?]
    ) {
        let members = try Self.object(try Self.parse(line), what: "a profile line")
        var userID: String?
        var attributes: [String: SegmentsValue?] = [:]
        for (key, value) in members {
            switch key {
            case "id":
                guard case .string(let id) = value else {
                    throw NDJSONRecordError("\"id\" must be a string, not \(value.typeName)")
                }
                userID = id
            case "attributes":
                attributes = try Self.attributes(value)
            default:
                throw NDJSONRecordError(
                    "unknown field \(Self.quoted(key)) (a profile line has \"id\" and \"attributes\")"
                )
            }
        }
        guard let userID else { throw NDJSONRecordError("missing \"id\"") }
        return (userID, attributes)
    }

    /// Parses an event line: `{"user": …, "event": …, "at"?: …, "properties"?: {…}, "id"?: …}`.
    public static func event(_ line: some Collection<UInt8>) throws(NDJSONRecordError) -> SegmentsEvent {
        let members = try Self.object(try Self.parse(line), what: "an event line")
        var user: String?
        var name: String?
        var event = SegmentsEvent(userID: "", name: "")
        for (key, value) in members {
            switch key {
            case "user":
                user = try Self.string(value, field: "user")
            case "event":
                name = try Self.string(value, field: "event")
            case "at":
                event.atMs = try Self.instant(value, field: "at")
            case "properties":
                event.properties = try Self.properties(value)
            case "id":
                event.id = try Self.string(value, field: "id")
            default:
                throw NDJSONRecordError(
                    "unknown field \(Self.quoted(key)) (an event line has \"user\", \"event\", \"at\", \"properties\" and \"id\")"
                )
            }
        }
        guard let user else { throw NDJSONRecordError("missing \"user\"") }
        guard let name else { throw NDJSONRecordError("missing \"event\"") }
        event.userID = user
        event.name = name
        return event
    }

    /// Parses a JSON object of attributes, as given to `segclient profile set`.
    public static func attributes(json: String) throws(NDJSONRecordError) -> [String: SegmentsValue?] {
        try Self.attributes(try Self.parse(json.utf8))
    }

    /// Parses a JSON object of event properties, as given to `segclient track --props`.
    public static func properties(json: String) throws(NDJSONRecordError) -> [String: SegmentsValue] {
        try Self.properties(try Self.parse(json.utf8))
    }

    /// The JSON form of a value: timestamps as RFC 3339 strings, lists as arrays.
    public static func json(_ value: SegmentsValue) -> JSONValue {
        switch value {
        case .string(let string): .string(string)
        case .number(let number): .number(number)
        case .bool(let bool): .bool(bool)
        case .timestamp(let ms): .string(RFC3339.format(ms))
        case .stringList(let list): .array(list.map(JSONValue.string))
        }
    }

    // MARK: - Helpers

    /// `text` as a JSON string literal for a reason, every control character escaped (`\n`, `\u001b`, `\u009b`,
    /// …): the importer reports a refused line as `line N: reason`, one line each, on a terminal.
    private static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.properties.generalCategory == .control:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    private static func parse(_ bytes: some Collection<UInt8>) throws(NDJSONRecordError) -> JSONValue {
        do {
            return try JSONParser.parse(bytes)
        } catch {
            throw NDJSONRecordError(error.description)
        }
    }

    private static func object(
        _ value: JSONValue,
        what: String
    ) throws(NDJSONRecordError) -> [(
        key: String, value: JSONValue
    )] {
        guard case .object(let members) = value else {
            throw NDJSONRecordError("\(what) must be a JSON object, not \(value.typeName)")
        }
        // Objects here have a handful of members: comparing pairs is cheaper than a Set (which
        // allocates and hashes every key); large objects still use one.
        if members.count <= 16 {
            for later in members.indices {
                for earlier in members.startIndex..<later where members[earlier].key == members[later].key {
                    throw NDJSONRecordError("field \(Self.quoted(members[later].key)) appears twice")
                }
            }
        } else {
            var seen: Set<String> = []
            for member in members where !seen.insert(member.key).inserted {
                throw NDJSONRecordError("field \(Self.quoted(member.key)) appears twice")
            }
        }
        return members
    }

    private static func string(_ value: JSONValue, field: String) throws(NDJSONRecordError) -> String {
        guard case .string(let string) = value else {
            throw NDJSONRecordError("\"\(field)\" must be a string, not \(value.typeName)")
        }
        return string
    }

    private static func instant(_ value: JSONValue, field: String) throws(NDJSONRecordError) -> Int64 {
        let text = try Self.string(value, field: field)
        guard let ms = RFC3339.parse(text) else {
            throw NDJSONRecordError(
                "\"\(field)\" is not an RFC 3339 date-time (e.g. 2026-11-01T10:00:00Z): \(Self.quoted(text))"
            )
        }
        return ms
    }

    private static func attributes(_ value: JSONValue) throws(NDJSONRecordError) -> [String: SegmentsValue?] {
        var attributes: [String: SegmentsValue?] = [:]
        for (name, member) in try Self.object(value, what: "\"attributes\"") {
            if case .null = member {
                attributes[name] = .some(nil)
            } else {
                attributes[name] = try Self.value(member, what: "attribute \(Self.quoted(name))")
            }
        }
        return attributes
    }

    private static func properties(_ value: JSONValue) throws(NDJSONRecordError) -> [String: SegmentsValue] {
        var properties: [String: SegmentsValue] = [:]
        for (name, member) in try Self.object(value, what: "\"properties\"") {
            if case .null = member {
                throw NDJSONRecordError("property \(Self.quoted(name)) is null; leave it out instead")
            }
            properties[name] = try Self.value(member, what: "property \(Self.quoted(name))")
        }
        return properties
    }

    private static func value(_ json: JSONValue, what: String) throws(NDJSONRecordError) -> SegmentsValue {
        switch json {
        case .string(let string): return .string(string)
        case .number(let number): return .number(number)
        case .bool(let bool): return .bool(bool)
        case .array(let elements):
            var strings: [String] = []
            for element in elements {
                guard case .string(let string) = element else {
                    throw NDJSONRecordError("\(what): lists may hold only strings, not \(element.typeName)")
                }
                strings.append(string)
            }
            return .stringList(strings)
        case .object:
            throw NDJSONRecordError("\(what): nested objects are not supported")
        case .null:
            throw NDJSONRecordError("\(what) is null")
        }
    }
}
