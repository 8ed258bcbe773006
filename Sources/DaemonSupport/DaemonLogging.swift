import Logging

/// Logging set-up shared by the daemons: human-readable lines on stderr, which journald
/// captures under systemd.
public enum DaemonLogging {
    /// Installs the stderr log handler once per process.
    /// - Parameters:
    ///   - label: the logger label (the daemon's name).
    ///   - level: the minimum level logged.
    /// - Returns: the daemon's root logger.
    public static func bootstrap(label: String, level: Logger.Level) -> Logger {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: label)
        logger.logLevel = level
        return logger
    }
}
