import DaemonSupport
import SegmentsRPC
import SegmentsWire
import Synchronization

/// The store's committed change-log head, for reads that do not name a `min_seq`: such a read
/// waits until the evaluator has applied everything the store had acknowledged when the read
/// arrived, so it reflects every earlier write of any client.
///
/// The head is one memory load from the file the store publishes beside its socket
/// (``SharedSequence``, ``DefaultSocketPaths/headFile(ofStoreSocket:)``), opened on first use.
/// Without that file (a store on another machine, an old store) it is asked of the store with
/// `GetInfo`, a round trip per read. So is it with several stores (PostgreSQL, one of them the
/// writer): the file beside a store that is no longer the writer would stand still.
final class PublishedStoreHead: Sendable {
    private let stores: RPCAddressList
    private let storeTLS: RPCTLSFiles?
    private let shared = Mutex<SharedSequence?>(nil)

    init(stores: RPCAddressList, tls: RPCTLSFiles? = nil) {
        self.stores = stores
        self.storeTLS = tls
    }

    /// The store's head now.
    /// - Throws: `RPCError` when the file is unavailable and the store cannot be asked.
    func current() async throws -> UInt64 {
        if let head = self.published() {
            return head
        }
        let store = self.stores.current
        let connection = try await RPCConnection.connect(to: store, tls: self.storeTLS)
        defer { Task { await connection.close() } }
        do {
            return try await connection.call(ProfileStoreAPI.getInfo, .init()).headSeq
        } catch  where error.isStandbyRefusal {
            self.stores.follow(error, from: store)
            throw error
        }
    }

    /// The published head, or `nil` when the store's head file cannot be opened.
    func published() -> UInt64? {
        if let shared = self.shared.withLock({ $0 }) {
            return shared.load()
        }
        // A store reached over TLS is on another machine: there is no file to read.
        let store = self.stores.current
        guard !self.stores.hasAlternatives, !store.hasPrefix(RPCAddress.tlsScheme) else { return nil }
        let path = DefaultSocketPaths.headFile(ofStoreSocket: store)
        guard let opened = try? SharedSequence.reader(path: path) else { return nil }
        self.shared.withLock { $0 = opened }
        return opened.load()
    }
}
