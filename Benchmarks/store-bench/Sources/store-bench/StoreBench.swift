import Foundation
import SegmentsClient

/// Probes for docs/PERFORMANCE.md. Each subcommand prints one JSON object on standard output.
///
///     store-bench latency --store SOCK --op track|get [--count 5000] [--warmup 500] [--users 100000]
///     store-bench feed --store SOCK [--from 1] [--max-batch 0]
///     store-bench fake-store --socket PATH
///
/// `latency` times sequential calls one by one with `ContinuousClock`. `feed` subscribes from a
/// sequence number and counts entries and events until it has reached the head the store reported
/// when the probe started. `fake-store` answers every request at once with an OK `WriteResponse`
/// counting the request's events: `segclient import` against it shows how fast the client alone
/// can read, parse, encode and send.
@main
struct StoreBench {
    static func main() async throws {
        var arguments = Array(CommandLine.arguments.dropFirst())
        guard !arguments.isEmpty else { usage() }
        let command = arguments.removeFirst()
        let options = Options(arguments)
        switch command {
        case "latency": try await latency(options)
        case "feed": try await feed(options)
        case "fake-store": FakeStore(path: options.required("socket")).run()
        default: usage()
        }
    }

    static func usage() -> Never {
        FileHandle.standardError.write(
            Data(
                """
                usage: store-bench latency --store SOCK --op track|get [--count N] [--warmup N] [--users N]
                       store-bench feed --store SOCK [--from SEQ] [--max-batch N]
                       store-bench fake-store --socket PATH

                """.utf8
            )
        )
        exit(2)
    }

    // MARK: - latency

    static func latency(_ options: Options) async throws {
        let store = options.required("store")
        let op = options.string("op") ?? "track"
        let count = options.int("count") ?? 5000
        let warmup = options.int("warmup") ?? 500
        let users = options.int("users") ?? 100_000
        let client = SegmentsClient(configuration: .init(storeSocketPath: store))
        let clock = ContinuousClock()

        func once(_ i: Int) async throws {
            switch op {
            case "track":
                try await client.track([
                    SegmentsEvent(
                        userID: "lat\(i % 1000)",
                        name: "page_view",
                        properties: ["url": .string("/pricing")]
                    )
                ])
            case "get":
                // Users u0…u(users-1) exist after the 1M-event import; spread reads over them.
                _ = try await client.profile("u\((i &* 7919) % users)")
            default:
                usage()
            }
        }

        for i in 0..<warmup { try await once(i) }
        var samples: [Duration] = []
        samples.reserveCapacity(count)
        let started = clock.now
        for i in 0..<count {
            let t0 = clock.now
            try await once(warmup + i)
            samples.append(clock.now - t0)
        }
        let total = clock.now - started
        await client.close()

        let micros = samples.map { Double($0.components.attoseconds) / 1e12 + Double($0.components.seconds) * 1e6 }
            .sorted()
        func percentile(_ p: Double) -> Double {
            micros[min(micros.count - 1, Int((p * Double(micros.count)).rounded(.up)) - 1)]
        }
        let mean = micros.reduce(0, +) / Double(micros.count)
        let seconds = Double(total.components.seconds) + Double(total.components.attoseconds) / 1e18
        printJSON([
            ("probe", "\"latency\""), ("op", "\"\(op)\""), ("count", "\(count)"),
            ("p50_us", fmt(percentile(0.50))), ("p90_us", fmt(percentile(0.90))),
            ("p99_us", fmt(percentile(0.99))), ("p999_us", fmt(percentile(0.999))),
            ("max_us", fmt(micros.last ?? 0)), ("mean_us", fmt(mean)),
            ("calls_per_s", fmt(Double(count) / seconds)),
        ])
    }

    // MARK: - feed

    static func feed(_ options: Options) async throws {
        let store = options.required("store")
        let from = UInt64(options.int("from") ?? 1)
        let maxBatch = UInt32(options.int("max-batch") ?? 0)
        let client = SegmentsClient(configuration: .init(storeSocketPath: store))
        let head = try await client.storeInfo().headSeq
        let clock = ContinuousClock()
        let started = clock.now
        var firstBatch: Duration?
        var batches = 0
        var entries = 0
        var events = 0
        var lastSeq: UInt64 = 0
        if head >= from {
            for try await batch in try await client.changes(fromSeq: from, maxBatch: maxBatch) {
                if firstBatch == nil { firstBatch = clock.now - started }
                batches += 1
                for entry in batch.entries {
                    entries += 1
                    events += entry.eventsTracked.events.count
                    lastSeq = entry.seq
                }
                if lastSeq >= head { break }
            }
        }
        let elapsed = clock.now - started
        await client.close()
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let first =
            firstBatch.map { Double($0.components.seconds) * 1e3 + Double($0.components.attoseconds) / 1e15 } ?? 0
        printJSON([
            ("probe", "\"feed\""), ("from_seq", "\(from)"), ("head_seq", "\(head)"),
            ("batches", "\(batches)"), ("entries", "\(entries)"), ("events", "\(events)"),
            ("seconds", fmt(seconds)), ("first_batch_ms", fmt(first)),
            ("entries_per_s", fmt(Double(entries) / seconds)), ("events_per_s", fmt(Double(events) / seconds)),
        ])
    }

    // MARK: - output

    static func fmt(_ value: Double) -> String { String(format: "%.1f", value) }

    static func printJSON(_ fields: [(String, String)]) {
        print("{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")
    }
}

/// `--name value` pairs.
struct Options {
    private var values: [String: String] = [:]

    init(_ arguments: [String]) {
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument.hasPrefix("--"), index + 1 < arguments.count {
                self.values[String(argument.dropFirst(2))] = arguments[index + 1]
                index += 2
            } else {
                index += 1
            }
        }
    }

    func string(_ name: String) -> String? { self.values[name] }
    func required(_ name: String) -> String {
        guard let value = self.values[name] else { StoreBench.usage() }
        return value
    }
    func int(_ name: String) -> Int? { self.values[name].flatMap { Int($0) } }
}
