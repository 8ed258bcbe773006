import SegmentLanguage

/// One benchmark segment: name, kind and condition.
public struct BenchSegment: Sendable, Hashable {
    /// The segment's name.
    public var name: String
    /// Which family it belongs to (attribute, window-count, window-sum, lapsed, cart, timestamp, chain).
    public var kind: String
    /// What it means.
    public var condition: BenchCondition
    /// The expression text saved in the store.
    public var expression: String { self.condition.expression }
}

/// The fixed mix of segment definitions every run uses, in an order where each `in_segment`
/// reference points at an earlier segment.
public enum SegmentMix {
    /// The benchmark's segments (64 of them).
    public static let segments: [BenchSegment] = {
        var list: [BenchSegment] = []
        func add(_ name: String, _ kind: String, _ condition: BenchCondition) {
            list.append(BenchSegment(name: name, kind: kind, condition: condition))
        }
        // Attribute-only (16).
        for plan in DataGenerator.plans { add("plan_\(plan)", "attribute", .equals("plan", plan)) }
        add("eu", "attribute", .isIn("country", ["DE", "FR", "ES", "IT", "NL", "PL", "SE"]))
        add("north_america", "attribute", .isIn("country", ["US", "CA", "MX"]))
        add("country_jp", "attribute", .equals("country", "JP"))
        add("adults_18_25", "attribute", .and([.number("age", ">=", 18), .number("age", "<=", 25)]))
        add("over_50", "attribute", .number("age", ">", 50))
        add("age_unknown", "attribute", .not(.exists("age")))
        add("vip", "attribute", .hasTag("vip"))
        add("beta_mobile", "attribute", .and([.hasTag("beta"), .hasTag("mobile")]))
        add("unverified", "attribute", .flag("email_verified", false))
        add("high_ltv", "attribute", .number("lifetime_value", ">", 200))
        add(
            "pro_de_fr",
            "attribute",
            .and([.equals("plan", "pro"), .isIn("country", ["DE", "FR"]), .number("age", ">=", 18)])
        )
        add("not_free_not_us", "attribute", .and([.not(.equals("plan", "free")), .not(.equals("country", "US"))]))
        // Windowed counts (14).
        for days in [1, 7, 30] {
            add(
                "active_\(days)d",
                "window-count",
                .count("page_view", urlPrefix: nil, window: "\(days)d", op: ">=", value: 1)
            )
        }
        add("engaged_7d", "window-count", .count("page_view", urlPrefix: nil, window: "7d", op: ">=", value: 10))
        add("power_30d", "window-count", .count("page_view", urlPrefix: nil, window: "30d", op: ">=", value: 50))
        add("pricing_7d", "window-count", .count("page_view", urlPrefix: "/pricing", window: "7d", op: ">=", value: 3))
        add(
            "pricing_30d",
            "window-count",
            .count("page_view", urlPrefix: "/pricing", window: "30d", op: ">=", value: 1)
        )
        add(
            "docs_readers_14d",
            "window-count",
            .count("page_view", urlPrefix: "/docs", window: "14d", op: ">=", value: 2)
        )
        add(
            "email_openers_30d",
            "window-count",
            .count("email_open", urlPrefix: nil, window: "30d", op: ">=", value: 3)
        )
        add(
            "email_silent_90d",
            "window-count",
            .and([
                .count("email_open", urlPrefix: nil, window: nil, op: ">=", value: 1),
                .count("email_open", urlPrefix: nil, window: "90d", op: "=", value: 0),
            ])
        )
        add("repeat_buyers_90d", "window-count", .count("purchase", urlPrefix: nil, window: "90d", op: ">=", value: 2))
        add("buyers_ever", "window-count", .count("purchase", urlPrefix: nil, window: nil, op: ">=", value: 1))
        add("heavy_carters_7d", "window-count", .count("add_to_cart", urlPrefix: nil, window: "7d", op: ">=", value: 3))
        add("one_view_ever", "window-count", .count("page_view", urlPrefix: nil, window: nil, op: "=", value: 1))
        // Sums over windows (8).
        add("spend_30d_over_100", "window-sum", .sum("purchase", "amount", window: "30d", op: ">", value: 100))
        add("spend_90d_over_500", "window-sum", .sum("purchase", "amount", window: "90d", op: ">", value: 500))
        add("spend_180d_over_1000", "window-sum", .sum("purchase", "amount", window: "180d", op: ">", value: 1000))
        add("spend_7d_over_50", "window-sum", .sum("purchase", "amount", window: "7d", op: ">", value: 50))
        add("lifetime_spend_over_300", "window-sum", .sum("purchase", "amount", window: nil, op: ">", value: 300))
        add("cart_value_7d_over_200", "window-sum", .sum("add_to_cart", "amount", window: "7d", op: ">", value: 200))
        add(
            "small_spenders_90d",
            "window-sum",
            .and([
                .sum("purchase", "amount", window: "90d", op: ">", value: 0),
                .sum("purchase", "amount", window: "90d", op: "<", value: 40),
            ])
        )
        add("whales_30d", "window-sum", .sum("purchase", "amount", window: "30d", op: ">=", value: 2000))
        // Lapsed buyers (6).
        for days in [7, 14, 30, 60, 90, 120] {
            add("lapsed_\(days)d", "lapsed", .lastBefore("purchase", ago: "\(days)d"))
        }
        // Cart abandoners (5).
        for days in [1, 2, 7] {
            add(
                "cart_abandon_\(days)d",
                "cart",
                .and([
                    .count("add_to_cart", urlPrefix: nil, window: "\(days)d", op: ">=", value: 1),
                    .count("purchase", urlPrefix: nil, window: "\(days)d", op: "=", value: 0),
                ])
            )
        }
        add(
            "cart_abandon_pro_2d",
            "cart",
            .and([
                .equals("plan", "pro"), .count("add_to_cart", urlPrefix: nil, window: "2d", op: ">=", value: 1),
                .count("purchase", urlPrefix: nil, window: "2d", op: "=", value: 0),
            ])
        )
        add(
            "browse_no_cart_7d",
            "cart",
            .and([
                .count("page_view", urlPrefix: "/product", window: "7d", op: ">=", value: 3),
                .count("add_to_cart", urlPrefix: nil, window: "7d", op: "=", value: 0),
            ])
        )
        // Timestamp attributes (5).
        add("new_signups_14d", "timestamp", .timestamp("signup_at", after: true, days: 14))
        add("new_signups_30d", "timestamp", .timestamp("signup_at", after: true, days: 30))
        add("old_accounts_1y", "timestamp", .timestamp("signup_at", after: false, days: 365))
        add(
            "trial_ending",
            "timestamp",
            .and([
                .equals("plan", "free"), .timestamp("signup_at", after: false, days: 12),
                .timestamp("signup_at", after: true, days: 14),
            ])
        )
        add(
            "anniversary_soon",
            "timestamp",
            .and([.timestamp("signup_at", after: false, days: 350), .timestamp("signup_at", after: true, days: 365)])
        )
        // in_segment chains (10).
        add("active_pro", "chain", .and([.inSegment("plan_pro"), .inSegment("active_7d")]))
        add("active_pro_eu", "chain", .and([.inSegment("active_pro"), .inSegment("eu")]))
        add("lapsed_vip", "chain", .and([.inSegment("lapsed_30d"), .inSegment("vip")]))
        add("winback", "chain", .and([.inSegment("lapsed_60d"), .not(.inSegment("email_silent_90d"))]))
        add(
            "upsell",
            "chain",
            .and([.inSegment("plan_free"), .or([.inSegment("pricing_7d"), .inSegment("spend_90d_over_500")])])
        )
        add("upsell_eu", "chain", .and([.inSegment("upsell"), .inSegment("eu")]))
        add(
            "at_risk",
            "chain",
            .and([.not(.inSegment("active_30d")), .inSegment("buyers_ever"), .not(.inSegment("plan_free"))])
        )
        add("new_and_engaged", "chain", .and([.inSegment("new_signups_30d"), .inSegment("engaged_7d")]))
        add("cart_abandon_high_ltv", "chain", .and([.inSegment("cart_abandon_2d"), .inSegment("high_ltv")]))
        add("vip_or_whale", "chain", .or([.inSegment("vip"), .inSegment("whales_30d"), .inSegment("plan_enterprise")]))
        return list
    }()

    /// Conditions by segment name (for inlining `in_segment` in SQL).
    public static var conditionsByName: [String: BenchCondition] {
        Dictionary(uniqueKeysWithValues: Self.segments.map { ($0.name, $0.condition) })
    }

    /// Parses every expression with the segment language's parser.
    /// - Throws: ``SegbenchError`` naming the first segment that does not parse.
    public static func validate(_ segments: [BenchSegment] = Self.segments) throws(SegbenchError) {
        var seen = Set<String>()
        for segment in segments {
            do {
                let parsed = try SegmentExpression.parse(segment.expression)
                for reference in parsed.referencedSegments where !seen.contains(reference.name) {
                    throw SegbenchError(
                        .invalidArgument,
                        "segment \(segment.name) refers to \(reference.name) before it is defined"
                    )
                }
            } catch let error as SegbenchError {
                throw error
            } catch {
                throw SegbenchError(
                    .invalidArgument,
                    "segment \(segment.name) does not parse: \(error) — \(segment.expression)"
                )
            }
            seen.insert(segment.name)
        }
    }
}
