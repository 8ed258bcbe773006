/// The save-time checks that need the other saved segments: `in_segment` must name a saved segment or static list,
/// and must not make a cycle.
public enum SegmentCatalog {
    /// Checks a segment about to be saved (created or replaced) against the saved ones.
    ///
    /// - Parameters:
    ///   - name: The name the segment is saved under.
    ///   - expression: Its expression.
    ///   - existing: Every saved segment and static list, mapped to the names its expression references directly
    ///     with `in_segment` (lists reference nothing). If `name` is in it (a replacement), its entry is ignored in
    ///     favour of `expression`.
    /// - Throws: ``SegmentLanguageError`` with code `unknownSegment` at the first `in_segment` naming neither a
    ///   saved segment or list nor `name` itself; else code `cycle` at the `in_segment` call that starts the
    ///   shortest cycle, with the cycle in the reason (`a -> b -> a`; a self-reference is `a -> a`).
    public static func check(
        name: String,
        expression: SegmentExpression,
        existing: [String: Set<String>]
    ) throws(SegmentLanguageError) {
        for reference in expression.referencedSegments where reference.name != name && existing[reference.name] == nil {
            throw SegmentLanguageError(
                .unknownSegment,
                "in_segment(\(Printer.print(Literal.string(reference.name)))) names no saved segment or list",
                at: reference.position,
                in: expression.source
            )
        }
        if let best = shortestCycle(through: expression.referencedSegments, back: name, existing: existing) {
            let cycle = ([name] + best.path).joined(separator: " -> ")
            throw SegmentLanguageError(
                .cycle,
                "in_segment(\(Printer.print(Literal.string(best.reference.name)))) makes a cycle: \(cycle)",
                at: best.reference.position,
                in: expression.source
            )
        }
    }

    /// Checks the `trait("x")` calls of a segment about to be saved: each must name a saved trait.
    ///
    /// - Parameters:
    ///   - expression: The segment's expression.
    ///   - traits: The saved traits' names.
    /// - Throws: ``SegmentLanguageError`` `unknownTrait` at the first call naming no saved trait.
    public static func checkTraits(of expression: SegmentExpression, traits: Set<String>) throws(SegmentLanguageError) {
        for reference in expression.referencedTraits where !traits.contains(reference.name) {
            throw unknownTrait(reference, in: expression.source)
        }
    }

    /// Checks a trait about to be saved (created or replaced) against the saved traits: each `trait("x")` it reads
    /// must name a saved trait, and none may lead back to it.
    ///
    /// - Parameters:
    ///   - name: The name the trait is saved under.
    ///   - definition: Its expression.
    ///   - existing: Every saved trait, mapped to the traits its expression reads directly. If `name` is in it (a
    ///     replacement), its entry is ignored in favour of `definition`.
    /// - Throws: ``SegmentLanguageError`` `unknownTrait` at the first call naming neither a saved trait nor `name`;
    ///   else `cycle` at the call that starts the shortest cycle (`a -> b -> a`; a self-reference is `a -> a`).
    public static func checkTrait(
        name: String,
        definition: TraitDefinition,
        existing: [String: Set<String>]
    ) throws(SegmentLanguageError) {
        for reference in definition.referencedTraits where reference.name != name && existing[reference.name] == nil {
            throw unknownTrait(reference, in: definition.source)
        }
        if let best = shortestCycle(through: definition.referencedTraits, back: name, existing: existing) {
            throw SegmentLanguageError(
                .cycle,
                "trait(\(Printer.print(Literal.string(best.reference.name)))) makes a cycle: "
                    + ([name] + best.path).joined(separator: " -> "),
                at: best.reference.position,
                in: definition.source
            )
        }
    }

    private static func unknownTrait(_ reference: SegmentReference, in source: String) -> SegmentLanguageError {
        SegmentLanguageError(
            .unknownTrait,
            "trait(\(Printer.print(Literal.string(reference.name)))) names no saved trait",
            at: reference.position,
            in: source
        )
    }

    /// The reference that starts the shortest cycle back to `name`, with the cycle's path after `name`; `nil` when
    /// none does. Breadth-first search from each direct reference: the first path found is a shortest cycle.
    /// Iterative, so long chains of saved definitions cannot exhaust the stack.
    private static func shortestCycle(
        through references: [SegmentReference],
        back name: String,
        existing: [String: Set<String>]
    ) -> (reference: SegmentReference, path: [String])? {
        var best: (reference: SegmentReference, path: [String])?
        for reference in references {
            guard let path = shortestPath(from: reference.name, to: name, name: name, existing: existing) else {
                continue
            }
            if best == nil || path.count < best!.path.count { best = (reference, path) }
        }
        return best
    }

    /// The shortest path of references from `start` to `target`, both included; `nil` when there is none.
    private static func shortestPath(
        from start: String,
        to target: String,
        name: String,
        existing: [String: Set<String>]
    ) -> [String]? {
        if start == target { return [start] }
        var parent: [String: String] = [start: start]
        var queue = [start]
        var head = 0
        while head < queue.count {
            let current = queue[head]
            head += 1
            // The segment being saved is never traversed through (its new references are the starting points).
            guard current != name else { continue }
            for next in (existing[current] ?? []).sorted() where parent[next] == nil {
                parent[next] = current
                if next == target {
                    var path = [next]
                    var step = current
                    while step != start {
                        path.append(step)
                        step = parent[step] ?? start
                    }
                    path.append(start)
                    return path.reversed()
                }
                queue.append(next)
            }
        }
        return nil
    }
}
