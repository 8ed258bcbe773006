import Logging
import Synchronization

/// The access policy a server applies to each new connection, replaceable while it runs (an access file reloaded
/// on SIGHUP). Connections keep the role they were given when they connected.
public final class RPCAccessControl: Sendable {
    private let current: Mutex<RPCAccessPolicy>

    /// Starts with `policy`.
    /// - Parameter policy: the rules; default: the daemon's own user is admin, everyone else reader.
    public init(_ policy: RPCAccessPolicy = RPCAccessPolicy()) {
        self.current = Mutex(policy)
    }

    /// The rules in effect.
    public var policy: RPCAccessPolicy {
        self.current.withLock { $0 }
    }

    /// The rules of the access file at `path`, or the default when there is none.
    /// - Parameter path: the access file (`--access`), if any.
    /// - Throws: ``RPCAccessError`` naming the file, line and reason.
    public convenience init(file path: String?) throws(RPCAccessError) {
        self.init(
            try path.map { path throws(RPCAccessError) in try RPCAccessPolicy(contentsOf: path) } ?? RPCAccessPolicy()
        )
    }

    /// What a daemon does on SIGHUP (`systemctl reload`): re-reads the access file at `path`, or, without one,
    /// logs that there is nothing to reload (rather than stopping, as SIGHUP's default would).
    /// - Parameters:
    ///   - path: the access file, if any.
    ///   - logger: where the outcome goes.
    public func hangUpHandler(file path: String?, logger: Logger) -> @Sendable () -> Void {
        { [self] in
            guard let path else {
                logger.notice("SIGHUP: nothing to reload (no access file)")
                return
            }
            self.reload(from: path, logger: logger)
        }
    }

    /// Applies `policy` to connections made from now on.
    /// - Parameter policy: the new rules.
    public func replace(with policy: RPCAccessPolicy) {
        self.current.withLock { $0 = policy }
    }

    /// Reads the access file at `path` again and applies it to new connections; a file that cannot be read or has a
    /// wrong line changes nothing (the rules in effect stay). Logs either outcome.
    /// - Parameters:
    ///   - path: the access file.
    ///   - logger: where the outcome goes.
    public func reload(from path: String, logger: Logger) {
        do {
            let policy = try RPCAccessPolicy(contentsOf: path)
            self.replace(with: policy)
            logger.notice("access file reloaded; new connections get these roles", metadata: ["access": "\(policy)"])
        } catch {
            logger.error(
                "access file not reloaded; the roles in effect stay",
                metadata: ["error": "\(error.message)", "access": "\(self.policy)"]
            )
        }
    }
}
