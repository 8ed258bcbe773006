import ServiceLifecycle

/// A service that sends systemd `STOPPING=1` as soon as graceful shutdown begins.
///
/// Put it last in the `ServiceGroup` (shutdown runs in reverse order, so it is told first) with
/// `successTerminationBehavior: .ignore`.
public struct SystemdStoppingNotice: Service {
    private let notifier: SystemdNotifier

    /// - Parameter notifier: where to send the notice.
    public init(notifier: SystemdNotifier) {
        self.notifier = notifier
    }

    public func run() async throws {
        try? await gracefulShutdown()
        self.notifier.stopping()
    }
}
