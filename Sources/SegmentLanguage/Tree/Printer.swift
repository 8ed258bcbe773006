/// Prints trees as canonical text: single spaces around operators, `=` for `==`, parentheses only where the tree
/// needs them, names in backticks only when they are keywords or not identifiers, event names as bare names or
/// strings, numbers in their shortest round-tripping form (`18`, `0.5`, `1e+20`), timestamps in UTC.
enum Printer {
    static func print(_ node: Node) -> String {
        var out = ""
        write(node, into: &out)
        return out
    }

    static func print(_ operand: Operand) -> String {
        var out = ""
        write(operand, into: &out)
        return out
    }

    static func print(_ literal: Literal) -> String {
        var out = ""
        write(literal, into: &out)
        return out
    }

    static func write(_ node: Node, into out: inout String) {
        switch node {
        case .or(let items):
            for (k, item) in items.enumerated() {
                if k > 0 { out += " or " }
                writeGrouped(item, into: &out, when: { if case .or = $0 { return true } else { return false } })
            }
        case .and(let items):
            for (k, item) in items.enumerated() {
                if k > 0 { out += " and " }
                writeGrouped(item, into: &out, when: isJunction)
            }
        case .not(let inner):
            out += "not "
            writeGrouped(inner, into: &out, when: isJunction)
        case .compare(let left, let op, let right):
            write(left, into: &out)
            out += " " + op.rawValue + " "
            write(right, into: &out)
        case .exists(let name):
            out += "exists("
            writeName(name, into: &out)
            out += ")"
        case .inSegment(let name):
            out += "in_segment("
            writeString(name, into: &out)
            out += ")"
        case .sequence(let sequence):
            write(sequence, into: &out)
        }
    }

    /// `a where x = 1 then b within 1h in last 30d`. A step's filter is printed bare: it ends at the next `then`,
    /// `not followed by` or `within`, which no condition contains.
    static func write(_ sequence: EventSequence, into out: inout String) {
        for (k, step) in sequence.steps.enumerated() {
            if k > 0 { out += sequence.kind == .then ? " then " : " not followed by " }
            writeEvent(step.event, into: &out)
            if let filter = step.filter {
                out += " where "
                write(filter, into: &out)
            }
        }
        out += " within \(sequence.window.count)\(sequence.window.unit.rawValue)"
        if let outer = sequence.outer { out += " in last \(outer.count)\(outer.unit.rawValue)" }
    }

    private static func isJunction(_ node: Node) -> Bool {
        switch node {
        case .or, .and: return true
        default: return false
        }
    }

    private static func writeGrouped(_ node: Node, into out: inout String, when needsParentheses: (Node) -> Bool) {
        if needsParentheses(node) {
            out += "("
            write(node, into: &out)
            out += ")"
        } else {
            write(node, into: &out)
        }
    }

    static func write(_ operand: Operand, into out: inout String) {
        switch operand {
        case .name(let name): writeName(name, into: &out)
        case .literal(let literal): write(literal, into: &out)
        case .now: out += "now"
        case .ago(let d): out += "\(d.count)\(d.unit.rawValue) ago"
        case .timestamp(let ms): out += RFC3339.format(ms)
        case .aggregate(let a): write(a, into: &out)
        case .arithmetic(let l, let op, let r):
            // Parentheses where the tree needs them: a lower-precedence side, or a right side of equal precedence
            // (`a - (b - c)`).
            writeArithmeticSide(l, into: &out, parenthesized: precedence(l) < op.precedence)
            out += " \(op.rawValue) "
            writeArithmeticSide(r, into: &out, parenthesized: precedence(r) <= op.precedence)
        case .trait(let name):
            out += "trait("
            writeString(name, into: &out)
            out += ")"
        case .negate(let x):
            out += "-"
            // `-(1)`, not `-1`, which reads back as the literal -1; `-(a + b)`; but `--a`, not `-(-a)`, so that the
            // canonical text nests no deeper than the tree (each parenthesis is a level of the parser's limit).
            let bare: Bool
            switch x {
            case .name, .aggregate, .trait, .negate: bare = true
            default: bare = false
            }
            writeArithmeticSide(x, into: &out, parenthesized: !bare)
        }
    }

    /// 1 for `+`/`-`, 2 for `*`/`/`, 3 for anything that is not a binary operation.
    private static func precedence(_ operand: Operand) -> Int {
        if case .arithmetic(_, let op, _) = operand { return op.precedence }
        return 3
    }

    private static func writeArithmeticSide(_ operand: Operand, into out: inout String, parenthesized: Bool) {
        if parenthesized { out += "(" }
        write(operand, into: &out)
        if parenthesized { out += ")" }
    }

    static func write(_ a: Aggregate, into out: inout String) {
        out += a.kind.rawValue + "("
        writeEvent(a.event, into: &out)
        if let property = a.property {
            out += "."
            writeName(property, into: &out)
        }
        if let filter = a.filter {
            out += " where "
            write(filter, into: &out)
        }
        if let window = a.window { out += " within \(window.count)\(window.unit.rawValue)" }
        out += ")"
    }

    static func write(_ literal: Literal, into out: inout String) {
        switch literal {
        case .string(let s): writeString(s, into: &out)
        case .number(let n): out += formatNumber(n)
        case .bool(let b): out += b ? "true" : "false"
        case .list(let items):
            out += "["
            for (k, item) in items.enumerated() {
                if k > 0 { out += ", " }
                write(item, into: &out)
            }
            out += "]"
        }
    }

    /// `18` rather than `18.0` for whole numbers below 10^15; otherwise Swift's shortest round-tripping form.
    static func formatNumber(_ n: Double) -> String {
        // No `rounded()`: it needs libm, and this module links nothing.
        if abs(n) < 1e15, n == Double(Int64(n)) { return String(Int64(n)) }
        return n.description
    }

    static func isIdentifier(_ name: String) -> Bool {
        var first = true
        for c in name.utf8 {
            let letter = (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F
            let digit = c >= 0x30 && c <= 0x39
            if !(letter || (digit && !first)) { return false }
            first = false
        }
        return !first && Keyword(rawValue: name) == nil
    }

    static func writeName(_ name: String, into out: inout String) {
        if isIdentifier(name) {
            out += name
        } else {
            out += "`" + name + "`"
        }
    }

    static func writeEvent(_ name: String, into out: inout String) {
        if isIdentifier(name) {
            out += name
        } else {
            writeString(name, into: &out)
        }
    }

    static func writeString(_ s: String, into out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16, uppercase: true)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}
