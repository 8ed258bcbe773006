import SwiftProtobuf

extension Segments_V1_ChangeBatch {
    /// Decodes a `ChangeBatch` by hand: profile and event entries (nearly all of a change log)
    /// field by field, the rare other kinds of entry with SwiftProtobuf. About three times as fast
    /// as SwiftProtobuf's generic decoder, whose time goes to generic metadata lookups and maps.
    ///
    /// Handles what the store sends: known fields with their proper wire types, one change per
    /// entry, valid UTF-8, values of the plain shape (see `Segments_V1_Event(fastDecoding:)`).
    /// Anything else returns `nil`, and the caller must decode with SwiftProtobuf, which gives
    /// the exact result or error for every input. Where this decoder answers, it answers as
    /// SwiftProtobuf would.
    public init?(fastDecoding bytes: UnsafeRawBufferPointer) {
        self.init(fastDecoding: bytes, keeping: nil)
    }

    /// ``init(fastDecoding:)`` keeping only part of the log, for a reader that needs a fraction of
    /// it (a back-fill): the events of the names `filter` accepts (the others are skipped without
    /// decoding their properties), and profile changes only when it asks for them. Entries keep
    /// their numbers and kinds; what is left out is missing from their lists.
    public init?(fastDecoding bytes: UnsafeRawBufferPointer, keeping filter: ChangeFilter?) {
        var reader = WireReader(bytes: bytes, position: 0, end: bytes.count)
        var batch = Segments_V1_ChangeBatch()
        while !reader.atEnd {
            guard let tag = reader.tag() else { return nil }
            switch tag {
            case 0x0A:
                guard let entry = reader.lengthDelimited(),
                    let decoded = Segments_V1_ChangeEntry(fastReading: entry, keeping: filter)
                else { return nil }
                batch.entries.append(decoded)
            case 0x10:
                guard let value = reader.varint() else { return nil }
                batch.headSeq = value
            default:
                return nil
            }
        }
        self = batch
    }
}

/// What a reader of the change log keeps of it (see
/// ``Segments_V1_ChangeBatch/init(fastDecoding:keeping:)``).
public struct ChangeFilter: Sendable {
    /// Whether profile changes are kept.
    public var profiles: Bool
    /// The UTF-8 bytes of the event names kept.
    public var eventNames: [[UInt8]]

    /// - Parameters:
    ///   - profiles: Whether profile changes are kept.
    ///   - eventNames: The event names kept.
    public init(profiles: Bool, eventNames: some Sequence<String>) {
        self.profiles = profiles
        self.eventNames = eventNames.map { Array($0.utf8) }
    }

    func keepsEvent(named name: UnsafeRawBufferPointer) -> Bool {
        self.eventNames.contains { $0.count == name.count && $0.withUnsafeBytes { $0.elementsEqual(name) } }
    }
}

extension Segments_V1_ChangeEntry {
    init?(fastReading reader: WireReader, keeping filter: ChangeFilter? = nil) {
        var reader = reader
        var entry = Segments_V1_ChangeEntry()
        while !reader.atEnd {
            guard let tag = reader.tag() else { return nil }
            switch tag {
            case 0x08:
                guard let value = reader.varint() else { return nil }
                entry.seq = value
            case 0x10:
                guard let value = reader.varint() else { return nil }
                entry.committedAtMs = Int64(bitPattern: value)
            case 0x1A, 0x22, 0x2A, 0x32, 0x3A, 0x42, 0x4A, 0x52, 0x5A, 0x62, 0x6A, 0x72, 0x7A:
                // A second change in one entry would be merged or replaced by SwiftProtobuf.
                guard entry.change == nil, let payload = reader.lengthDelimited(),
                    let change = Self.change(field: tag >> 3, payload, keeping: filter)
                else { return nil }
                entry.change = change
            default:
                return nil
            }
        }
        self = entry
    }

    private static func change(field: UInt64, _ payload: WireReader, keeping filter: ChangeFilter?) -> OneOf_Change? {
        switch field {
        case 3:
            if let filter, !filter.profiles { return .profilesUpserted(Segments_V1_ProfilesUpserted()) }
            return Segments_V1_ProfilesUpserted(fastReading: payload).map { .profilesUpserted($0) }
        case 5: return Segments_V1_EventsTracked(fastReading: payload, keeping: filter).map { .eventsTracked($0) }
        default:
            // Rare entries: SwiftProtobuf, over a copy of their bytes.
            let bytes = payload.bytesCopy
            do {
                switch field {
                case 4: return .userDeleted(try Segments_V1_UserDeleted(serializedBytes: bytes))
                case 6: return .segmentPut(try Segments_V1_SegmentPut(serializedBytes: bytes))
                case 7: return .segmentDeleted(try Segments_V1_SegmentDeleted(serializedBytes: bytes))
                case 8: return .clockMoved(try Segments_V1_ClockMoved(serializedBytes: bytes))
                case 9: return .listCreated(try Segments_V1_ListCreated(serializedBytes: bytes))
                case 10: return .listMembersChanged(try Segments_V1_ListMembersChanged(serializedBytes: bytes))
                case 11: return .listDeleted(try Segments_V1_ListDeleted(serializedBytes: bytes))
                case 12: return .webhookAdded(try Segments_V1_WebhookAdded(serializedBytes: bytes))
                case 13: return .webhookRemoved(try Segments_V1_WebhookRemoved(serializedBytes: bytes))
                case 14: return .traitPut(try Segments_V1_TraitPut(serializedBytes: bytes))
                case 15: return .traitDeleted(try Segments_V1_TraitDeleted(serializedBytes: bytes))
                default: return nil
                }
            } catch {
                return nil
            }
        }
    }
}

extension Segments_V1_ProfilesUpserted {
    init?(fastReading reader: WireReader) {
        var reader = reader
        var upserted = Segments_V1_ProfilesUpserted()
        while !reader.atEnd {
            guard reader.tag() == 0x0A, let change = reader.lengthDelimited(),
                let decoded = Segments_V1_ProfileChange(fastReading: change)
            else { return nil }
            upserted.changes.append(decoded)
        }
        self = upserted
    }
}

extension Segments_V1_ProfileChange {
    init?(fastReading reader: WireReader) {
        var reader = reader
        var change = Segments_V1_ProfileChange()
        while !reader.atEnd {
            guard let tag = reader.tag() else { return nil }
            switch tag {
            case 0x0A:
                guard let value = reader.string() else { return nil }
                change.userID = value
            case 0x12:
                guard let entry = reader.lengthDelimited()?.valueMapEntry() else { return nil }
                change.set[entry.key] = entry.value
            case 0x1A:
                guard let value = reader.string() else { return nil }
                change.removed.append(value)
            case 0x20:
                guard let value = reader.varint() else { return nil }
                change.created = value != 0
            default:
                return nil
            }
        }
        self = change
    }
}

extension Segments_V1_EventsTracked {
    init?(fastReading reader: WireReader, keeping filter: ChangeFilter?) {
        var reader = reader
        var tracked = Segments_V1_EventsTracked()
        while !reader.atEnd {
            guard let tag = reader.tag() else { return nil }
            switch tag {
            case 0x0A:
                guard let event = reader.lengthDelimited() else { return nil }
                if let filter {
                    guard let name = event.eventName() else { return nil }
                    if !filter.keepsEvent(named: name) { continue }
                }
                guard let decoded = Segments_V1_Event(fastReading: event) else { return nil }
                tracked.events.append(decoded)
            case 0x12:
                guard let value = reader.string() else { return nil }
                tracked.createdUsers.append(value)
            default:
                return nil
            }
        }
        self = tracked
    }
}

/// A message with a hand-written decoder for the shapes it usually has (`nil` otherwise, and the
/// generic decoder runs). The RPC layer decodes responses of such types with it first.
public protocol FastDecodableMessage: Message {
    /// Decodes the usual shapes by hand, or returns `nil`.
    init?(fastDecoding bytes: UnsafeRawBufferPointer)
}

extension Segments_V1_ChangeBatch: FastDecodableMessage {}
