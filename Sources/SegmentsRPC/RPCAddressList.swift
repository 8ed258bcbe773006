import Foundation
import SegmentsWire
import Synchronization

/// The addresses of one service that several daemons can provide, one at a time — profile stores
/// on one PostgreSQL database, of which one is the writer — and the one to use now.
///
/// Given as a comma-separated list (`/run/segments/store.sock,tls://store-2:7443`). A connection
/// that cannot be made moves on to the next address; a standby's refusal moves to the writer it
/// names (``follow(_:)``).
public final class RPCAddressList: Sendable, CustomStringConvertible {
    /// Every address given, in order.
    public let addresses: [String]
    private let chosen: Mutex<String>

    /// Reads a comma-separated list; blanks around the commas are ignored. An empty list keeps `""`
    /// as its one address, which connecting refuses with a clear error.
    public init(_ list: String) {
        let addresses = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter {
            !$0.isEmpty
        }
        self.addresses = addresses.isEmpty ? [list] : addresses
        self.chosen = Mutex(self.addresses[0])
    }

    /// The address to use now.
    public var current: String {
        self.chosen.withLock { $0 }
    }

    /// Whether there is more than one address to try.
    public var hasAlternatives: Bool {
        self.addresses.count > 1
    }

    /// After `failed` could not be used: the next address of the list (when `failed` is still the one
    /// chosen; another caller may have moved on already).
    public func advance(from failed: String) {
        self.chosen.withLock { chosen in
            guard chosen == failed else { return }
            let index = self.addresses.firstIndex(of: failed) ?? -1
            chosen = self.addresses[(index + 1) % self.addresses.count]
        }
    }

    /// After a standby's refusal: its writer, when it named one (even one not in the list: the writer
    /// advertises how it is reached); else the next address.
    public func follow(_ refusal: RPCError, from address: String) {
        if let writer = refusal.writerAddress, !writer.isEmpty {
            self.chosen.withLock { $0 = writer }
        } else {
            self.advance(from: address)
        }
    }

    public var description: String {
        self.addresses.joined(separator: ",")
    }
}
