import CoreMetrics
import DaemonSupport

/// The standard process metrics of the Prometheus client libraries: resident memory and start time.
public struct ProcessMetrics: Sendable {
    private let resident = Gauge(label: "process_resident_memory_bytes")
    private let startTime = Gauge(label: "process_start_time_seconds")

    public init() {}

    /// Reads the process's resident set and records both gauges.
    public func update() {
        self.resident.record(Double(ProcessVitals.residentBytes()))
        self.startTime.record(Double(ProcessVitals.startedAtMs) / 1000)
    }
}
