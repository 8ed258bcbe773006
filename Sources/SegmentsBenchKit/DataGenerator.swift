import Foundation
import SegmentsClient

/// One generated event, with the few properties the benchmark's segments read.
public struct GeneratedEvent: Sendable, Hashable {
    /// `page_view`, `add_to_cart`, `purchase` or `email_open`.
    public var name: String
    /// When it happened, ms since the Unix epoch.
    public var atMs: Int64
    /// Page path of a `page_view`.
    public var url: String?
    /// Amount of a `purchase`, price of an `add_to_cart`.
    public var amount: Double?
    /// Product of an `add_to_cart` or `purchase`.
    public var sku: String?
    /// Campaign of an `email_open`.
    public var campaign: String?
    /// De-duplication id, unique per user.
    public var id: String

    /// The event as the client library sends it.
    public func clientEvent(userID: String) -> SegmentsEvent {
        var properties: [String: SegmentsValue] = [:]
        if let url { properties["url"] = .string(url) }
        if let amount { properties["amount"] = .number(amount) }
        if let sku { properties["sku"] = .string(sku) }
        if let campaign { properties["campaign"] = .string(campaign) }
        return SegmentsEvent(userID: userID, name: self.name, atMs: self.atMs, properties: properties, id: self.id)
    }
}

/// One generated user: profile attributes and events, oldest first.
public struct GeneratedUser: Sendable, Hashable {
    /// User id, `u` followed by the index.
    public var id: String
    /// `plan`, `country`, `age`, `signup_at`, `tags`, `email_verified`, `lifetime_value` (some may be absent).
    public var attributes: [String: SegmentsValue]
    /// The user's events, oldest first.
    public var events: [GeneratedEvent]
}

/// Deterministic data: the same seed, scale and anchor give the same users and events.
///
/// Each user is generated from a random stream of its own, so users can be produced in any
/// order and in chunks without holding the whole data set in memory. Events per user follow a
/// Pareto distribution (most users have a few, a few have hundreds), and fall in the 180 days
/// before the anchor, within an activity period that ends recently for some users and months
/// ago for others (lapsed users).
public struct DataGenerator: Sendable {
    /// The scale generated.
    public let scale: BenchScale
    /// The seed.
    public let seed: UInt64
    /// "Now" of the data, ms since the Unix epoch: every event is at or before it.
    public let anchorMs: Int64
    /// Number of events of each user.
    public let eventCounts: [Int32]

    static let dayMs: Int64 = 86_400_000
    /// Plans and how common they are.
    public static let plans = ["free", "pro", "team", "enterprise"]
    static let planWeights = [0.70, 0.20, 0.08, 0.02]
    /// Countries, most common first (Zipf-like skew).
    public static let countries = [
        "US", "IN", "DE", "GB", "BR", "FR", "CA", "JP", "ES", "IT", "NL", "MX", "AU", "PL", "SE",
    ]
    static let countryWeights: [Double] = (0..<15).map { 1.0 / Double($0 + 1) }
    /// Tags and the chance of each.
    public static let tags = ["beta", "newsletter", "vip", "mobile", "churn_risk"]
    static let tagChances = [0.10, 0.40, 0.03, 0.50, 0.08]
    /// Page paths of `page_view` events.
    public static let urls = [
        "/", "/pricing", "/pricing/enterprise", "/docs/start", "/docs/api", "/blog/launch", "/blog/tips",
        "/product/a", "/product/b", "/product/c", "/account",
    ]
    static let urlWeights = [20.0, 6, 2, 6, 4, 5, 4, 10, 8, 6, 8]
    /// Event names and their shares.
    public static let eventNames = ["page_view", "email_open", "add_to_cart", "purchase"]
    static let eventWeights = [0.68, 0.15, 0.11, 0.06]

    /// Creates a generator and draws the number of events of every user.
    /// - Parameters:
    ///   - scale: users and events.
    ///   - seed: the seed.
    ///   - anchorMs: the data's "now".
    public init(scale: BenchScale, seed: UInt64, anchorMs: Int64) {
        self.scale = scale
        self.seed = seed
        self.anchorMs = anchorMs
        // Pareto weights (alpha 1.3), normalised to the wanted total.
        var weights = [Double](repeating: 0, count: scale.users)
        var total = 0.0
        for index in 0..<scale.users {
            var rng = SplitMix64(seed: seed, stream: UInt64(index), purpose: 1)
            let u = max(rng.unit(), 1e-9)
            let weight = min(pow(u, -1.0 / 1.3), 400)
            weights[index] = weight
            total += weight
        }
        var counts = [Int32](repeating: 0, count: scale.users)
        var assigned = 0
        for index in 0..<scale.users {
            let count = Int((weights[index] / total * Double(scale.events)).rounded(.down))
            counts[index] = Int32(count)
            assigned += count
        }
        var index = 0
        while assigned < scale.events && scale.users > 0 {
            counts[index % scale.users] += 1
            assigned += 1
            index += 1
        }
        self.eventCounts = counts
    }

    /// The id of user `index`.
    public static func userID(_ index: Int) -> String { "u\(index)" }

    /// Generates user `index` (0..<users): profile and events.
    public func user(_ index: Int) -> GeneratedUser {
        GeneratedUser(id: Self.userID(index), attributes: self.attributes(index), events: self.events(index))
    }

    /// The profile attributes of user `index`.
    public func attributes(_ index: Int) -> [String: SegmentsValue] {
        var rng = SplitMix64(seed: self.seed, stream: UInt64(index), purpose: 2)
        var attributes: [String: SegmentsValue] = [:]
        attributes["plan"] = .string(Self.plans[rng.pick(Self.planWeights)])
        attributes["country"] = .string(Self.countries[rng.pick(Self.countryWeights)])
        if rng.unit() >= 0.08 {
            let age = 18 + (62 * (rng.unit() + rng.unit() + rng.unit()) / 3).rounded(.down)
            attributes["age"] = .number(age)
        }
        let signupDaysAgo = rng.unit() < 0.05 ? rng.unit() * 14 : rng.unit() * 730
        attributes["signup_at"] = .timestamp(self.anchorMs - Int64(signupDaysAgo * Double(Self.dayMs)))
        var tags: [String] = []
        for (tag, chance) in zip(Self.tags, Self.tagChances) where rng.unit() < chance {
            tags.append(tag)
        }
        if !tags.isEmpty { attributes["tags"] = .stringList(tags) }
        attributes["email_verified"] = .bool(rng.unit() < 0.85)
        attributes["lifetime_value"] = .number((exp(4 + 1.2 * rng.gaussian()) * 100).rounded() / 100)
        return attributes
    }

    /// The events of user `index`, oldest first.
    public func events(_ index: Int) -> [GeneratedEvent] {
        var rng = SplitMix64(seed: self.seed, stream: UInt64(index), purpose: 3)

        // Activity period: ends recently for 40 % of users, 1–2 months ago for 30 %, long ago for the rest.
        let endDaysAgo: Double
        switch rng.unit() {
        case ..<0.4: endDaysAgo = rng.unit() * 7
        case ..<0.7: endDaysAgo = 7 + rng.unit() * 53
        default: endDaysAgo = 60 + rng.unit() * 110
        }
        let startDaysAgo = endDaysAgo + rng.unit() * (180 - endDaysAgo)
        let startMs = self.anchorMs - Int64(startDaysAgo * Double(Self.dayMs))
        let spanMs = max(1, Int64((startDaysAgo - endDaysAgo) * Double(Self.dayMs)))
        let count = Int(self.eventCounts[index])
        var times = (0..<count).map { _ in startMs + Int64(rng.unit() * Double(spanMs)) }
        times.sort()
        var events: [GeneratedEvent] = []
        events.reserveCapacity(count)
        for (position, atMs) in times.enumerated() {
            let kind = rng.pick(Self.eventWeights)
            var event = GeneratedEvent(name: Self.eventNames[kind], atMs: min(atMs, self.anchorMs), id: "e\(position)")
            switch kind {
            case 0: event.url = Self.urls[rng.pick(Self.urlWeights)]
            case 1: event.campaign = "c\(rng.below(12))"
            case 2:
                event.sku = "sku-\(rng.below(50))"
                event.amount = (exp(3 + 0.8 * rng.gaussian()) * 100).rounded() / 100
            default:
                event.sku = "sku-\(rng.below(50))"
                event.amount = (exp(3.5 + 1.0 * rng.gaussian()) * 100).rounded() / 100
            }
            events.append(event)
        }
        return events
    }
}
