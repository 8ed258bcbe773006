// libFuzzer entry point for the segment language parser. libFuzzer supplies `main`, so this file must not be named
// main.swift. Build and run with dev/fuzz-parser.sh.
//
// Besides "never crash", it checks properties that must hold for every input:
// - an error has a position inside the text (1-based line and column);
// - an accepted expression's canonical text parses back to the same tree and prints the same text (and a trait's,
//   when the text is a value);
// - the interpreter, the explanation, the plan and the catalog check run on it without crashing, and the plan's
//   evaluation from maintained aggregates agrees with the interpreter.

import SegmentLanguage

private let nowMs: Int64 = 1_793_527_200_000
private let attributes: [String: AttributeValue] = [
    "plan": .string("pro"), "age": .number(34), "signup_at": .string("2026-01-05T09:00:00Z"),
    "tags": .stringList(["a", "b"]), "vip": .bool(true), "seen_at": .timestamp(nowMs - 86_400_000),
]
private let events: [EventRecord] = [
    EventRecord(name: "purchase", atMs: nowMs - 3_600_000, properties: ["amount": .number(42.5)]),
    EventRecord(name: "purchase", atMs: nowMs + 60_000, properties: ["amount": .number(7)]),
    EventRecord(name: "page_view", atMs: nowMs - 86_400_000, properties: ["url": .string("/pricing")]),
    EventRecord(name: "add_to_cart", atMs: nowMs - 7_200_000, properties: ["amount": .number(3)]),
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    // The same text as a trait's expression: a value round-trips, and evaluates without crashing.
    if let trait = try? TraitDefinition.parse(text) {
        guard let again = try? TraitDefinition.parse(trait.canonicalText), again == trait,
            again.canonicalText == trait.canonicalText
        else {
            fatalError("trait's canonical text does not round-trip: \(trait.canonicalText)")
        }
        _ = try? trait.value(attributes: attributes, events: events, nowMs: nowMs, traits: ["t": trait])
    }
    do {
        let expression = try SegmentExpression.parse(text)
        let canonical = expression.canonicalText
        guard let again = try? SegmentExpression.parse(canonical), again == expression,
            again.canonicalText == canonical
        else {
            fatalError("canonical text does not round-trip: \(canonical)")
        }
        let member = ReferenceInterpreter.evaluate(
            expression,
            attributes: attributes,
            events: events,
            nowMs: nowMs,
            isMember: { $0.count % 2 == 0 }
        )
        let explanation = ReferenceInterpreter.explain(
            expression,
            attributes: attributes,
            events: events,
            nowMs: nowMs,
            isMember: { $0.count % 2 == 0 }
        )
        guard explanation.result == .bool(member) else { fatalError("explain disagrees with evaluate: \(canonical)") }
        let plan = SegmentPlan(expression)
        let values = plan.aggregates.map { $0.value(of: events, nowMs: nowMs) }
        let planned = plan.evaluate(
            attributes: attributes,
            aggregateValues: values,
            nowMs: nowMs,
            isMember: { $0.count % 2 == 0 }
        )
        guard planned == member else { fatalError("plan disagrees with the interpreter: \(canonical)") }
        if let next = plan.nextChange(after: nowMs, attributes: attributes, events: events) {
            guard next > nowMs else { fatalError("next change not after now: \(canonical)") }
        }
        _ = explanation.description
        try? SegmentCatalog.check(name: "self", expression: expression, existing: ["x": ["self"], "y": []])
    } catch {
        guard error.line >= 1, error.column >= 1, !error.description.isEmpty else {
            fatalError("bad error position: \(error.message)")
        }
    }
    return 0
}
