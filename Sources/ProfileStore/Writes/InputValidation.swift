import SegmentsWire

/// The rules for ids, names and values accepted by the store (see SEGMENT-LANGUAGE.md, "Data").
enum InputValidation {
    /// Longest user id, event name, attribute name or event id, in UTF-8 bytes.
    static let maximumIdentifierBytes = 256
    /// Earliest and latest instants accepted: years 0001 through 9999.
    static let earliestMs: Int64 = -62_135_596_800_000
    static let latestMs: Int64 = 253_402_300_799_999

    static func checkUserID(_ id: String) throws(ProfileStoreError) {
        let count = id.utf8.count
        guard count >= 1, count <= Self.maximumIdentifierBytes else {
            throw ProfileStoreError(
                .invalidArgument,
                count == 0
                    ? "user id is empty" : "user id is \(count) bytes; the limit is \(Self.maximumIdentifierBytes)"
            )
        }
    }

    static func checkName(_ name: String, what: String) throws(ProfileStoreError) {
        let count = name.utf8.count
        guard count >= 1, count <= Self.maximumIdentifierBytes else {
            throw ProfileStoreError(
                .invalidArgument,
                count == 0
                    ? "\(what) is empty" : "\(what) is \(count) bytes; the limit is \(Self.maximumIdentifierBytes)"
            )
        }
    }

    /// Checks a value that is being stored; `nil` kind (null) is the caller's business.
    static func checkValue(_ value: Segments_V1_Value, name: String) throws(ProfileStoreError) {
        switch value.kind {
        case .numberValue(let number) where !number.isFinite:
            throw ProfileStoreError(.invalidArgument, "value of '\(name)' is not a finite number")
        case .timestampMs(let ms):
            try Self.checkInstant(ms, what: "value of '\(name)'")
        default:
            break
        }
    }

    static func checkInstant(_ ms: Int64, what: String) throws(ProfileStoreError) {
        guard ms >= Self.earliestMs, ms <= Self.latestMs else {
            throw ProfileStoreError(.invalidArgument, "\(what) is outside years 0001–9999")
        }
    }

    /// Segment, trait and list names (one namespace): 1–128 characters of `[A-Za-z0-9_.-]`, starting with a
    /// letter or digit. `kind` names what is being named in the error.
    static func checkSegmentName(_ name: String, kind: String = "segment") throws(ProfileStoreError) {
        let bytes = Array(name.utf8)
        func allowed(_ byte: UInt8, first: Bool) -> Bool {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"):
                return true
            case UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-"):
                return !first
            default:
                return false
            }
        }
        guard !bytes.isEmpty, bytes.count <= 128,
            bytes.enumerated().allSatisfy({ allowed($0.element, first: $0.offset == 0) })
        else {
            throw ProfileStoreError(
                .invalidArgument,
                "invalid \(kind) name '\(name)': use 1–128 characters of letters, digits, '_', '.' and '-', starting with a letter or digit"
            )
        }
    }
}
