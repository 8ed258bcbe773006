import Logging
import ServiceLifecycle
import UnixSignals

/// Runs a daemon's main service the same way for every daemon: in a `ServiceGroup` that shuts
/// down gracefully on SIGTERM and SIGINT, telling systemd `STOPPING=1` as soon as shutdown begins.
public enum DaemonRunner {
    /// Runs `service` until it stops.
    /// - Parameters:
    ///   - service: the daemon's service; when it returns, the daemon stops.
    ///   - notifier: where to send `STOPPING=1`.
    ///   - logger: logs a failure to start or run.
    /// - Returns: `true` after a clean stop, `false` when the service failed (already logged).
    public static func run(_ service: some Service, notifier: SystemdNotifier, logger: Logger) async -> Bool {
        let group = ServiceGroup(
            configuration: .init(
                services: [
                    .init(service: service, successTerminationBehavior: .gracefullyShutdownGroup),
                    .init(service: SystemdStoppingNotice(notifier: notifier), successTerminationBehavior: .ignore),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        do {
            try await group.run()
            return true
        } catch {
            logger.critical("cannot run: \(error)")
            return false
        }
    }
}
