/// The engine's user id → slot table: open addressing with linear probing over 8-byte cells, each a user slot and
/// 32 bits of the id's hash.
///
/// A `[ByteKey: Int32]` dictionary kept a `String` (16 bytes) and the slot in each bucket, about 53 bytes per user
/// at its load factor. Here the ids are not copied: they are the user records' own (``UserRecord/id``), and a
/// probe reads a record's id only when the stored hash bits match, so a lookup costs one hash of the id, usually
/// one cell and one comparison of bytes. 8 bytes per cell at a load of at most three quarters: 11–21 bytes per
/// user.
///
/// The hash is ``ByteKey``'s: Swift's `Hasher` over the id's UTF-8 bytes (seeded per process, so ids chosen by an outsider cannot
/// be made to collide on purpose). Ids are compared by their UTF-8 bytes, as the contract compares them.
/// Removal shifts the following cells back (no tombstones), so a table that sees many deletions does not fill up
/// with dead cells.
struct UserSlotIndex {
    /// One cell: a user slot (-1: empty) and the low 32 bits of its id's hash, which also give its home cell.
    private struct Cell {
        var slot: Int32 = -1
        var hash: UInt32 = 0
    }

    /// A power of two cells, or none.
    private var cells: [Cell] = []
    /// The number of users in the table.
    private(set) var count = 0

    private var mask: Int { cells.count - 1 }

    /// The heap bytes the table holds.
    var heapBytes: Int { arrayHeapBytes(cells) }

    /// The low 32 bits of the hash of `id`'s UTF-8 bytes (``ByteKey``'s hash).
    @inline(__always)
    private static func hash(_ id: String) -> UInt32 { UInt32(truncatingIfNeeded: ByteKey(id).hashValue) }

    /// The cell holding `id` (its users' records are `users`), or `nil`.
    @inline(__always)
    private func position(of id: String, hash h: UInt32, in users: [UserRecord]) -> Int? {
        guard count > 0 else { return nil }
        var i = Int(h) & mask
        while true {
            let cell = cells[i]
            if cell.slot < 0 { return nil }
            if cell.hash == h && utf8Equal(users[Int(cell.slot)].id, id) { return i }
            i = (i &+ 1) & mask
        }
    }

    /// The slot of user `id`, or `nil`.
    ///
    /// - Parameters:
    ///   - id: The user id.
    ///   - users: The engine's user records, which hold the ids of the slots in the table.
    func slot(of id: String, in users: [UserRecord]) -> Int32? {
        position(of: id, hash: Self.hash(id), in: users).map { cells[$0].slot }
    }

    /// Adds user `id` at `slot`. The id must not be in the table.
    mutating func insert(_ id: String, slot: Int32) {
        if (count + 1) * 4 > cells.count * 3 { grow() }
        place(Cell(slot: slot, hash: Self.hash(id)))
        count += 1
    }

    /// Removes user `id`.
    ///
    /// - Parameter users: The user records, with `id`'s record still in its slot.
    /// - Returns: Whether the id was in the table.
    @discardableResult
    mutating func remove(_ id: String, in users: [UserRecord]) -> Bool {
        guard var hole = position(of: id, hash: Self.hash(id), in: users) else { return false }
        // Backward shift: a later cell of the same run moves into the hole unless its home lies after the hole
        // (between the hole and the cell, cyclically), where a probe for it would stop at the hole.
        var j = (hole &+ 1) & mask
        while cells[j].slot >= 0 {
            let home = Int(cells[j].hash) & mask
            if (j &- home) & mask >= (j &- hole) & mask {
                cells[hole] = cells[j]
                hole = j
            }
            j = (j &+ 1) & mask
        }
        cells[hole] = Cell()
        count -= 1
        return true
    }

    /// Doubles the table (16 cells at first) and puts every cell in again.
    private mutating func grow() {
        let old = cells
        cells = Array(repeating: Cell(), count: Swift.max(16, cells.count * 2))
        for cell in old where cell.slot >= 0 { place(cell) }
    }

    /// Puts a cell in the first empty cell from its home on.
    @inline(__always)
    private mutating func place(_ cell: Cell) {
        var i = Int(cell.hash) & mask
        while cells[i].slot >= 0 { i = (i &+ 1) & mask }
        cells[i] = cell
    }
}
