/// Where the daemons listen when not told otherwise, and where clients look for them.
///
/// Under systemd (the units in `Services/`) the sockets are in `/run/segments/`. Otherwise they
/// are in `$XDG_RUNTIME_DIR/segments/`, or `/tmp/segments/` when that variable is not set, so
/// that a store started by hand and `segclient` find each other with no flags.
public enum DefaultSocketPaths {
    /// The directory used outside systemd.
    /// - Parameter environment: the process environment.
    public static func localDirectory(environment: [String: String]) -> String {
        let runtime = environment["XDG_RUNTIME_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        return runtime + "/segments"
    }

    /// The directory the systemd units use.
    public static let systemDirectory = "/run/segments"

    /// File name of the profile store's socket.
    public static let storeSocketName = "store.sock"

    /// The file through which a store publishes its committed change-log head to the evaluators
    /// on the same machine (read-your-writes for reads without `min_seq`): beside its socket.
    /// - Parameter socketPath: the store's socket.
    public static func headFile(ofStoreSocket socketPath: String) -> String {
        socketPath + ".head"
    }

    /// File name of evaluator shard `index`'s socket.
    /// - Parameter index: the shard index.
    public static func evaluatorSocketName(shard index: Int) -> String {
        "evaluator-\(index).sock"
    }
}
