import SegmentsClient
import SegmentsJSON
import SegmentsNDJSON
import Testing

@Suite struct NDJSONRecordsTests {
    @Test func profileLineFromTheDesign() throws {
        let line =
            #"{"id":"u1","attributes":{"plan":"pro","age":34,"signup_at":"2026-01-05T09:00:00Z","tags":["a"],"old":null}}"#
        let profile = try NDJSONRecords.profile(Array(line.utf8))
        #expect(profile.userID == "u1")
        #expect(profile.attributes["plan"] == .some(.string("pro")))
        #expect(profile.attributes["age"] == .some(.number(34)))
        #expect(profile.attributes["signup_at"] == .some(.string("2026-01-05T09:00:00Z")))
        #expect(profile.attributes["tags"] == .some(.stringList(["a"])))
        #expect(profile.attributes["old"] == .some(nil))
    }

    @Test func eventLineFromTheDesign() throws {
        let line =
            #"{"user":"u1","event":"purchase","at":"2026-11-01T10:00:00Z","properties":{"amount":42.5},"id":"e-17"}"#
        let event = try NDJSONRecords.event(Array(line.utf8))
        #expect(
            event
                == SegmentsEvent(
                    userID: "u1",
                    name: "purchase",
                    atMs: 1_793_527_200_000,
                    properties: ["amount": .number(42.5)],
                    id: "e-17"
                )
        )
        let undated = try NDJSONRecords.event(Array(#"{"user":"u2","event":"view"}"#.utf8))
        #expect(undated.atMs == nil)
        #expect(undated.id == nil)
    }

    @Test(arguments: [
        (#"[1]"#, "a profile line must be a JSON object, not an array"),
        (#"{"attributes":{}}"#, "missing \"id\""),
        (#"{"id":5}"#, "\"id\" must be a string, not a number"),
        (#"{"id":"u","attributes":{"a":{"b":1}}}"#, "attribute \"a\": nested objects are not supported"),
        (#"{"id":"u","attributes":{"a":[1]}}"#, "lists may hold only strings"),
        (#"{"id":"u","extra":1}"#, "unknown field \"extra\""),
        (#"{"id":"u","id":"v"}"#, "field \"id\" appears twice"),
        (#"{"id":"u","attributes":{"a":1,"b":2,"a":3}}"#, "field \"a\" appears twice"),
        (#"{"id":"u""#, "invalid JSON at column 10"),
    ])
    func badProfileLines(line: String, reason: String) {
        do {
            _ = try NDJSONRecords.profile(Array(line.utf8))
            Issue.record("accepted \(line)")
        } catch {
            #expect(error.reason.contains(reason), "\(line): \(error.reason)")
        }
    }

    @Test(arguments: [
        (#"{"event":"x"}"#, "missing \"user\""),
        (#"{"user":"u"}"#, "missing \"event\""),
        (#"{"user":"u","event":"x","at":"2026-11-01"}"#, "\"at\" is not an RFC 3339 date-time"),
        (#"{"user":"u","event":"x","at":1700000000}"#, "\"at\" must be a string, not a number"),
        (#"{"user":"u","event":"x","properties":{"p":null}}"#, "property \"p\" is null"),
        (#"{"user":"u","event":"x","props":{}}"#, "unknown field \"props\""),
    ])
    func badEventLines(line: String, reason: String) {
        do {
            _ = try NDJSONRecords.event(Array(line.utf8))
            Issue.record("accepted \(line)")
        } catch {
            #expect(error.reason.contains(reason), "\(line): \(error.reason)")
        }
    }

    @Test func valuesToJSON() {
        #expect(NDJSONRecords.json(.timestamp(0)) == .string("1970-01-01T00:00:00Z"))
        #expect(NDJSONRecords.json(.stringList(["a", "b"])).serialized == #"["a","b"]"#)
        #expect(NDJSONRecords.json(.number(34)).serialized == "34")
    }

    /// Found by ndjson-fuzz: a refusal quoted the line's text as it was, so a `\n` (or an escape sequence) in it
    /// split the importer's one-line `line N: reason` report.
    @Test(arguments: [
        (
            #"{"user":"u1","event":"e","at":"2026-11-01T10:0\n0Z"}"#,
            #""at" is not an RFC 3339 date-time (e.g. 2026-11-01T10:00:00Z): "2026-11-01T10:0\n0Z""#
        ),
        (#"{"id":"u1","a\u001b[2Jb":1}"#, #"unknown field "a\u001b[2Jb" (a profile line has "id" and "attributes")"#),
        (#"{"id":"u1","attributes":{"x\u009b\"":{}}}"#, #"attribute "x\u009b\"": nested objects are not supported"#),
    ])
    func reasonsEscapeTheLinesControlCharacters(line: String, reason: String) {
        var reasons: [String] = []
        do {
            _ = try NDJSONRecords.profile(Array(line.utf8))
        } catch {
            reasons.append(error.reason)
        }
        do {
            _ = try NDJSONRecords.event(Array(line.utf8))
        } catch {
            reasons.append(error.reason)
        }
        #expect(reasons.contains(reason))
        #expect(reasons.allSatisfy { !$0.unicodeScalars.contains { $0.properties.generalCategory == .control } })
    }
}
