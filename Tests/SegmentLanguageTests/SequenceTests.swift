import Testing

@testable import SegmentLanguage

/// Sequences (`a then b within D`, `a not followed by b within D`): syntax, meaning at the edges, and what the
/// evaluator may forget.
@Suite struct SequenceTests {
    let now = Fixtures.now
    let hour = Fixtures.hour
    let day = Fixtures.day

    func event(_ name: String, _ at: Int64, _ properties: [String: AttributeValue] = [:]) -> EventRecord {
        Fixtures.event(name, at, properties)
    }

    @Test func canonicalText() throws {
        let cases: [(String, String)] = [
            // Durations stay as written, as in aggregates (the evaluator's keys compare their lengths).
            ("add_to_cart then purchase within 60m", "add_to_cart then purchase within 60m"),
            (
                "add_to_cart  not followed by purchase within 2h in last 7d",
                "add_to_cart not followed by purchase within 2h in last 7d"
            ),
            (
                #"a where sku = "x" or qty > 2 then b then "c d" where ok = true within 1d and plan = "pro""#,
                #"a where sku = "x" or qty > 2 then b then "c d" where ok = true within 1d and plan = "pro""#
            ),
            ("not a then b within 1h", "not a then b within 1h"),
            ("not (a then b within 1h)", "not a then b within 1h"),
            ("then then followed within 1h", "then then followed within 1h"),
        ]
        for (text, canonical) in cases {
            let e = try Fixtures.parse(text)
            #expect(e.canonicalText == canonical)
            #expect(try Fixtures.parse(e.canonicalText) == e)
        }
        // `then`, `followed` and `by` stay ordinary names elsewhere.
        #expect(try Fixtures.eval("then = 1 and by = 2", ["then": .number(1), "by": .number(2)]))
    }

    @Test func errorsSayWhatIsMissing() {
        let cases: [(String, String, Int)] = [
            ("add_to_cart then purchase", "a sequence needs a window", 26),
            ("add_to_cart then purchase and plan = \"pro\"", "a sequence needs a window", 27),
            ("a where x = 1", "or on a step of a sequence", 3),
            // A forgotten `count(`: one step with a window is not a sequence.
            ("purchase where amount > 5 within 7d", "or on a step of a sequence", 10),
            ("purchase within 7d", "'within' applies only to the event inside count", 10),
            ("a then", "an event name for the next step", 7),
            ("a not followed by b then c within 1h", "'then' cannot come after it", 21),
            ("a then b not followed by c within 1h", "exactly one step on each side", 10),
            ("a not followed b within 1h", "expected 'by' after 'not followed'", 16),
            ("a then b within 2", "expected a duration after 'within'", 17),
            ("a not followed by b within 2h in last 2h", "never holds", 39),
            ("count(x where a then b within 1h) > 0", "not allowed inside 'where'", 15),
            ("a then b then c then d then e then f then g then h then i within 1h", "at most 8 steps", 52),
            ("a then within 1h", "an event name for the next step", 8),
        ]
        for (text, reason, column) in cases {
            let error = Fixtures.error(text)
            #expect(error?.reason.contains(reason) == true, "\(text): \(String(describing: error))")
            #expect(error?.column == column, "\(text): \(String(describing: error))")
        }
    }

    @Test func thenAtTheEdges() throws {
        let e = "add_to_cart then purchase within 1h"
        let cart = event("add_to_cart", now - 2 * hour)
        // Exactly the window after: holds; one millisecond later: does not; equal instants are not "then".
        #expect(try Fixtures.eval(e, events: [cart, event("purchase", now - hour)]))
        #expect(try !Fixtures.eval(e, events: [cart, event("purchase", now - hour + 1)]))
        #expect(try !Fixtures.eval(e, events: [cart, event("purchase", now - 2 * hour)]))
        // The purchase before the cart does not count; a future-dated purchase counts from its instant.
        #expect(try !Fixtures.eval(e, events: [cart, event("purchase", now - 3 * hour)]))
        let future = [event("add_to_cart", now + hour), event("purchase", now + 2 * hour)]
        #expect(try !Fixtures.eval(e, events: future, now: now + 2 * hour - 1))
        #expect(try Fixtures.eval(e, events: future, now: now + 2 * hour))
        // A 3-step funnel, steps with filters, and the outer window on the first step.
        let funnel = #"view where page = "/pricing" then add_to_cart then purchase where amount > 10 within 1d"#
        let steps = [
            event("view", now - 20 * hour, ["page": .string("/pricing")]),
            event("add_to_cart", now - 10 * hour),
            event("purchase", now - 5 * hour, ["amount": .number(5)]),
        ]
        #expect(try !Fixtures.eval(funnel, events: steps))
        #expect(try Fixtures.eval(funnel, events: steps + [event("purchase", now - hour, ["amount": .number(50)])]))
        let outer = e + " in last 3h"
        #expect(try Fixtures.eval(outer, events: [cart, event("purchase", now - hour)]))
        #expect(try !Fixtures.eval(outer, events: [cart, event("purchase", now - hour)], now: now + hour))
    }

    @Test func notFollowedByAtTheEdges() throws {
        let e = "add_to_cart not followed by purchase within 2h"
        let cart = now - 2 * hour
        // Enters exactly at cart + 2h, leaves on a purchase after the cart, a newer cart restarts the wait.
        #expect(try !Fixtures.eval(e, events: [event("add_to_cart", cart)], now: now - 1))
        #expect(try Fixtures.eval(e, events: [event("add_to_cart", cart)]))
        #expect(try !Fixtures.eval(e, events: [event("add_to_cart", cart), event("purchase", now - 1)]))
        #expect(try Fixtures.eval(e, events: [event("add_to_cart", cart), event("purchase", cart)]))
        #expect(try !Fixtures.eval(e, events: [event("add_to_cart", cart), event("add_to_cart", now - hour)]))
        // A purchase after `now` (future-dated) has not happened yet.
        #expect(try Fixtures.eval(e, events: [event("add_to_cart", cart), event("purchase", now + 1)]))
        // `in last W`: the cart must be younger than W.
        let outer = e + " in last 1d"
        #expect(try Fixtures.eval(outer, events: [event("add_to_cart", cart)]))
        #expect(try !Fixtures.eval(outer, events: [event("add_to_cart", cart)], now: cart + day))
        #expect(try !Fixtures.eval("add_to_cart not followed by purchase within 2h", events: []))
    }

    /// The evaluator keeps ``SequenceKey/retained(_:nowMs:)`` of a user's events and answers with
    /// ``SequenceKey/holds(_:nowMs:)``; for random streams (late, future-dated and in-order events, the clock
    /// moving), that answer is the reference interpreter's over every event, now and at later instants.
    @Test(arguments: 0..<6)
    func forgettingNeverChangesTheAnswer(_ batch: Int) throws {
        var r = SeededRandom(seed: 0x5E0 + UInt64(batch))
        let texts = [
            "a then b within 1h", "a then b within 1h in last 3h", "a then b then c within 2h",
            "a where x > 1 then b within 1h", "a not followed by b within 1h",
            "a not followed by b within 1h in last 2h",
            "a where x > 1 not followed by b where x < 3 within 30m", "a not followed by a within 1h",
            "a then a then b within 2h in last 1d", "a where t > 1h ago then b within 1h",
            "a not followed by b where t < 30m ago within 1h",
        ]
        for text in texts {
            let e = try Fixtures.parse(text)
            guard case .sequence(let tree) = e.root else {
                Issue.record("not a sequence: \(text)")
                continue
            }
            let key = SequenceKey(tree)
            for _ in 0..<40 {
                var t = now
                var all: [EventRecord] = []
                var kept: [EventRecord] = []
                for _ in 0..<r.int(1...14) {
                    t += Int64(r.int(0...90)) * Fixtures.minute
                    let at = t + Int64(r.int(-180...60)) * Fixtures.minute
                    var properties: [String: AttributeValue] = ["x": .number(Double(r.int(0...4)))]
                    properties["t"] = .timestamp(t + Int64(r.int(-120...30)) * Fixtures.minute)
                    let new = event(r.pick(["a", "b", "c", "d"]), at, properties)
                    all.append(new)
                    // As the evaluator does: an event matching no step (no filter reading the clock) is not kept.
                    let useful = key.filtersReadTime || key.steps.contains { $0.matches(new, nowMs: t) }
                    let candidate = useful ? kept + [new] : kept
                    kept = key.retained(candidate, nowMs: t) ?? candidate
                    for probe in [t, t + 1, t + 30 * Fixtures.minute, t + 2 * hour, t + 2 * day] {
                        let expected = Evaluation.scan(tree, events: all, nowMs: probe)
                        #expect(key.holds(kept, nowMs: probe) == expected, "\(text) at \(probe - now): \(all)")
                    }
                    // The evaluator's next change from its kept events in time order is never late.
                    if !key.filtersReadTime {
                        let sorted = kept.sorted { $0.atMs < $1.atMs }
                        let value = Evaluation.scan(tree, events: all, nowMs: t)
                        let next = key.nextChange(ofSorted: sorted, after: t) ?? (t + 10 * day)
                        #expect(next > t)
                        for probe in [t + 1, (t + next) / 2, next - 1] where probe > t && probe < next {
                            #expect(Evaluation.scan(tree, events: all, nowMs: probe) == value, "\(text): late \(next)")
                        }
                    }
                }
            }
        }
    }
}

/// Arithmetic (`+ - * /`): precedence, missing operands, division by zero, and the ambiguity of a parenthesis at
/// the start of a condition.
@Suite struct ArithmeticTests {
    @Test func canonicalTextAndPrecedence() throws {
        let cases: [(String, String)] = [
            ("count(a)*2+1 >= 3", "count(a) * 2 + 1 >= 3"),
            ("(count(a) + 1) * 2 > 3", "(count(a) + 1) * 2 > 3"),
            ("x - (y - z) = 1", "x - (y - z) = 1"),
            ("x - y - z = 1", "x - y - z = 1"),
            ("x -1 > 0", "x - 1 > 0"),
            ("count(a)-1 > 0", "count(a) - 1 > 0"),
            ("- 1 < x", "-1 < x"),
            ("-(1) < x", "-(1) < x"),
            ("-x * -y > --z", "-x * -y > --z"),
            ("2000-1000 = 1000", "2000 - 1000 = 1000"),
            ("((count(a) + 1) > 2)", "count(a) + 1 > 2"),
            ("(x) = (y)", "x = y"),
            ("count(purchase where amount * qty > 100) >= 1", "count(purchase where amount * qty > 100) >= 1"),
        ]
        for (text, canonical) in cases {
            let e = try Fixtures.parse(text)
            #expect(e.canonicalText == canonical, "\(text)")
            #expect(try Fixtures.parse(e.canonicalText) == e)
        }
        // The canonical text nests no deeper than the input: it always parses back, even at the nesting limit.
        for text in [
            String(repeating: "-", count: 63) + "x > 0", String(repeating: "not ", count: 63) + "a then b within 1h",
        ] {
            let e = try Fixtures.parse(text)
            #expect(try Fixtures.parse(e.canonicalText) == e)
        }
        let plan = SegmentPlan(try Fixtures.parse("count(purchase where amount * qty > 100) >= 1"))
        #expect(plan.aggregates.first?.filter?.propertyNames == ["amount", "qty"])
    }

    @Test func values() throws {
        let attributes: [String: AttributeValue] = ["a": .number(6), "b": .number(4), "s": .string("x")]
        #expect(try Fixtures.eval("a + b * 2 = 14", attributes))
        #expect(try Fixtures.eval("(a + b) * 2 = 20", attributes))
        #expect(try Fixtures.eval("a - b - 1 = 1", attributes))
        #expect(try Fixtures.eval("a / b = 1.5", attributes))
        #expect(try Fixtures.eval("-a < 0", attributes))
        // Missing and division by zero make the result missing: every comparison with it is false.
        #expect(try !Fixtures.eval("a / 0 = 0", attributes))
        #expect(try !Fixtures.eval("a / 0 != 0", attributes))
        #expect(try !Fixtures.eval("a + s > 0", attributes))
        #expect(try !Fixtures.eval("a + missing >= 0", attributes))
        let events = [Fixtures.event("p", Fixtures.now, ["amount": .number(30)]), Fixtures.event("p", Fixtures.now)]
        #expect(try Fixtures.eval("sum(p.amount) / count(p) = 15", events: events))
        #expect(try !Fixtures.eval("sum(p.amount) / count(q) >= 0", events: events))
    }

    @Test func errors() {
        let cases: [(String, String, Int)] = [
            (#""a" + 1 > 0"#, "'+' works on numbers, and a string is not a number", 5),
            (#""a" -1 > 0"#, "'-' works on numbers, and a string is not a number", 5),
            ("first(a) + 1d > now", "first(...) is a time", 10),
            ("now - 1 > x", "a time is not a number", 5),
            ("x * > 1", "expected a number after '*'", 5),
            ("(x + 1 > 2", "expected ')'", 11),
        ]
        for (text, reason, column) in cases {
            let error = Fixtures.error(text)
            #expect(error?.reason.contains(reason) == true, "\(text): \(String(describing: error))")
            #expect(error?.column == column, "\(text): \(String(describing: error))")
        }
    }
}

/// Trait expressions and `trait("x")`: parsing, expansion into segments, and the catalog's checks.
@Suite struct TraitTests {
    @Test func parsesValuesAndRefusesConditions() throws {
        let engagement = try TraitDefinition.parse("2*count(page_view within 7d) + 10 * count(purchase within 30d)")
        #expect(engagement.canonicalText == "2 * count(page_view within 7d) + 10 * count(purchase within 30d)")
        #expect(try TraitDefinition.parse(#"trait("a") / trait("b")"#).referencedTraitNames == ["a", "b"])
        #expect(Fixtures.error("x") != nil)  // a bare name is a trait, not a condition
        do {
            _ = try TraitDefinition.parse("count(a) > 1")
            Issue.record("a condition was accepted as a trait")
        } catch {
            #expect(error.reason.contains("a trait is a value, not a condition"))
            #expect(error.column == 10)
        }
        #expect(Fixtures.error(#"count(a where trait("x") > 1) > 0"#)?.reason.contains("not allowed inside") == true)
    }

    @Test func expandsIntoSegments() throws {
        let traits = [
            "ltv": try TraitDefinition.parse("sum(purchase.amount)"),
            "engagement": try TraitDefinition.parse(#"2 * count(page_view within 7d) + trait("ltv") / 100"#),
            "first_buy": try TraitDefinition.parse("first(purchase)"),
        ]
        let e = try Fixtures.parse(#"trait("engagement") * 2 >= 50 and trait("first_buy") < 30d ago"#)
        #expect(e.referencedTraitNames == ["engagement", "first_buy"])
        let expanded = try e.expandingTraits(traits)
        #expect(
            expanded.canonicalText
                == "(2 * count(page_view within 7d) + sum(purchase.amount) / 100) * 2 >= 50 "
                + "and first(purchase) < 30d ago"
        )
        #expect(expanded.referencedTraits.isEmpty)
        // Unexpanded, a trait is missing; a cycle in a corrupt catalog is an error, not a hang.
        #expect(try !Fixtures.eval(#"trait("ltv") >= 0"#))
        let loop = ["a": try TraitDefinition.parse(#"trait("b") + 1"#), "b": try TraitDefinition.parse(#"trait("a")"#)]
        #expect(throws: SegmentLanguageError.self) { try Fixtures.parse(#"trait("a") > 1"#).expandingTraits(loop) }
    }

    @Test func catalogChecks() throws {
        // Unknown traits, in segments and in traits.
        let segment = try Fixtures.parse(#"x = 1 or trait("ltv") > 5"#)
        do throws(SegmentLanguageError) {
            try SegmentCatalog.checkTraits(of: segment, traits: ["other"])
            Issue.record("an unknown trait was accepted")
        } catch {
            #expect(error.code == .unknownTrait)
            #expect(error.column == 10)
        }
        // A cycle: a uses b uses a.
        let existing: [String: Set<String>] = ["b": ["a"], "c": []]
        let definition = try TraitDefinition.parse(#"trait("c") + trait("b")"#)
        do throws(SegmentLanguageError) {
            try SegmentCatalog.checkTrait(name: "a", definition: definition, existing: existing)
            Issue.record("a cycle was accepted")
        } catch {
            #expect(error.code == .cycle)
            #expect(error.reason.contains("a -> b -> a"))
            #expect(error.column == 14)
        }
        try SegmentCatalog.checkTrait(
            name: "d",
            definition: try TraitDefinition.parse(#"trait("b") * trait("c")"#),
            existing: existing.merging(["a": []]) { $1 }
        )
    }
}
