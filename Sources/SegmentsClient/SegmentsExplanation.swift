import SegmentsWire

/// Why a user is in or out of a segment: the expression's tree with each node's value for the user at one
/// instant.
public struct SegmentsExplanation: Sendable, Hashable {
    /// One node of the explanation: a sub-expression, what it evaluated to, and its parts.
    public struct Node: Sendable, Hashable {
        /// The sub-expression in canonical form, e.g. `count(purchase within 30d) >= 1`.
        public var text: String
        /// What it produced, for people: `true`, `false`, `2`, `missing`, `2026-11-01T10:00:00Z`, …
        public var value: String
        /// For boolean nodes: the truth value.
        public var result: Bool
        public var children: [Node]

        public init(text: String, value: String, result: Bool, children: [Node]) {
            self.text = text
            self.value = value
            self.result = result
            self.children = children
        }

        init(_ wire: Segments_V1_ExplainNode) {
            self.init(text: wire.text, value: wire.value, result: wire.result, children: wire.children.map(Node.init))
        }
    }

    /// Whether the user is a member.
    public var member: Bool
    /// The whole expression.
    public var root: Node
    /// The instant the expression was evaluated at (ms since the Unix epoch).
    public var nowMs: Int64

    public init(member: Bool, root: Node, nowMs: Int64) {
        self.member = member
        self.root = root
        self.nowMs = nowMs
    }

    init(_ wire: Segments_V1_ExplainResponse) {
        self.init(member: wire.member, root: Node(wire.root), nowMs: wire.nowMs)
    }
}
