import SegmentLanguage
import Testing

@testable import SegmentEngine

/// The user id → slot table against a dictionary, through inserts and removals that wrap around a small table.
@Suite struct UserSlotIndexTests {
    /// Random inserts and removals (ids reused after removal, tables of 16 to a few thousand cells): after every
    /// operation the table answers exactly what a dictionary holding the same ids answers, for present and absent
    /// ids alike.
    @Test(arguments: [1, 2, 3] as [UInt64])
    func answersLikeADictionaryThroughInsertsAndRemovals(seed: UInt64) {
        var random = EngineRandom(seed: seed)
        var index = UserSlotIndex()
        var users: [UserRecord] = []
        var model: [String: Int32] = [:]
        var free: [Int32] = []
        for step in 0..<20_000 {
            let id = "user-\(random.int(0...1_499))"
            if let slot = model[id], random.chance(1.0 / 3) {
                let removed = index.remove(id, in: users)
                #expect(removed)
                model[id] = nil
                users[Int(slot)] = UserRecord(id: "")
                free.append(slot)
            } else if model[id] == nil {
                let slot: Int32
                if let reused = free.popLast() {
                    slot = reused
                    users[Int(slot)] = UserRecord(id: id)
                } else {
                    slot = Int32(users.count)
                    users.append(UserRecord(id: id))
                }
                index.insert(id, slot: slot)
                model[id] = slot
            }
            #expect(index.count == model.count)
            if step % 251 == 0 {
                for probe in 0..<1_500 {
                    let probeID = "user-\(probe)"
                    #expect(index.slot(of: probeID, in: users) == model[probeID])
                }
            }
        }
        let removedAbsent = index.remove("user-none", in: users)
        #expect(!removedAbsent)
        for (id, slot) in model { #expect(index.slot(of: id, in: users) == slot) }
    }

    /// Ids are told apart by their UTF-8 bytes: canonically equivalent spellings are different users, and long,
    /// empty and non-ASCII ids are found.
    @Test func idsAreComparedByTheirBytes() {
        let ids = ["é", "e\u{301}", "", String(repeating: "long-id-", count: 20), "ü-ß-✓"]
        var index = UserSlotIndex()
        let users = ids.map { UserRecord(id: $0) }
        for (slot, id) in ids.enumerated() { index.insert(id, slot: Int32(slot)) }
        for (slot, id) in ids.enumerated() { #expect(index.slot(of: id, in: users) == Int32(slot)) }
        #expect(index.slot(of: "e", in: users) == nil)
        #expect(index.count == ids.count)
        #expect(index.heapBytes > 0)
    }
}
