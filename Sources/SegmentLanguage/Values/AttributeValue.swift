/// The value of a profile attribute or of an event property.
///
/// Setting an attribute to null removes it, so there is no null case: an absent key is a missing value.
public enum AttributeValue: Sendable, Hashable {
    /// A UTF-8 string. Compared by Unicode scalar values, case-sensitively.
    case string(String)
    /// An IEEE double. `1` and `1.0` are the same number.
    case number(Double)
    /// A boolean; supports only `=` and `!=`.
    case bool(Bool)
    /// An instant in Unix milliseconds.
    case timestamp(Int64)
    /// A list of strings, for `tags contains "a"`.
    case stringList([String])
}

/// One event of a user, as the language sees it.
public struct EventRecord: Sendable, Hashable {
    /// The event name, for example `purchase`.
    public var name: String
    /// When the event happened, in Unix milliseconds. May be after `now` (a future-dated event counts from its own
    /// instant on).
    public var atMs: Int64
    /// The event's properties, read by `where` filters and by `sum`/`avg`/`min`/`max`.
    public var properties: [String: AttributeValue]

    /// Creates an event record.
    ///
    /// - Parameters:
    ///   - name: The event name.
    ///   - atMs: The event instant in Unix milliseconds.
    ///   - properties: The event properties.
    public init(name: String, atMs: Int64, properties: [String: AttributeValue] = [:]) {
        self.name = name
        self.atMs = atMs
        self.properties = properties
    }
}

extension Dictionary where Key == String, Value == AttributeValue {
    /// The property named `name`, like `self[name]`: with a handful of properties, what an event carries, each key is
    /// compared with `name` instead (equal small strings compare as one word), which costs less than hashing `name`.
    @inlinable
    public func property(_ name: String) -> AttributeValue? {
        guard count <= 4 else { return self[name] }
        for (key, value) in self where key == name { return value }
        return nil
    }
}
