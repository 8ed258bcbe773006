import Logging
import ServiceLifecycle
import UnixSignals

/// Runs a daemon's main service the same way for every daemon: in a `ServiceGroup` that shuts
/// down gracefully on SIGTERM and SIGINT, telling systemd `STOPPING=1` as soon as shutdown begins,
/// and that calls the daemon's reload on SIGHUP (`systemctl reload`).
public enum DaemonRunner {
    /// Runs `service` until it stops.
    /// - Parameters:
    ///   - service: the daemon's service; when it returns, the daemon stops.
    ///   - notifier: where to send `STOPPING=1`.
    ///   - logger: logs a failure to start or run.
    ///   - reload: called on each SIGHUP; `nil`: SIGHUP is ignored.
    /// - Returns: `true` after a clean stop, `false` when the service failed (already logged).
    public static func run(
        _ service: some Service,
        notifier: SystemdNotifier,
        logger: Logger,
        reload: (@Sendable () -> Void)? = nil
    ) async -> Bool {
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: service, successTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: SystemdStoppingNotice(notifier: notifier), successTerminationBehavior: .ignore),
        ]
        if let reload {
            services.append(.init(service: HangupReload(reload: reload), successTerminationBehavior: .ignore))
        }
        let group = ServiceGroup(
            configuration: .init(
                services: services,
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

/// Calls `reload` on each SIGHUP until graceful shutdown.
private struct HangupReload: Service {
    let reload: @Sendable () -> Void

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            self.reload()
        }
    }
}
