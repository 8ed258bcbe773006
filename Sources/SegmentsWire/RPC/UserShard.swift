/// Which evaluator shard owns a user: `fnv1a64(UTF-8 bytes of the id) % shardCount`.
///
/// This is part of the wire contract (see `evaluator.proto`): the store filters snapshots with
/// it and the client library routes user-scoped calls with it.
public enum UserShard {
    /// The 64-bit FNV-1a hash of the id's UTF-8 bytes.
    /// - Parameter userID: the user id.
    public static func hash(_ userID: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in userID.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return hash
    }

    /// The shard index of `userID` among `shardCount` shards (0 when `shardCount` ≤ 1).
    /// - Parameters:
    ///   - userID: the user id.
    ///   - shardCount: the number of shards.
    public static func index(of userID: String, shardCount: UInt32) -> UInt32 {
        guard shardCount > 1 else { return 0 }
        return UInt32(Self.hash(userID) % UInt64(shardCount))
    }
}
