import Foundation
import SegmentsSQLite

/// Measures SQLite ingest and lookups through our wrapper and through GRDB.
///
///     swift run -c release sqlite-choice [--events N] [--users N] [--lookups N] [--batch N]
///         [--library ours,grdb] [--sync normal,full] [--variant a,b,c,d,e,f] [--repeat N] [--dir PATH]
@main
struct SQLiteChoice {
    static func main() throws {
        var options: [String: String] = [:]
        var arguments = CommandLine.arguments.dropFirst()
        while let flag = arguments.popFirst() {
            guard flag.hasPrefix("--"), flag != "--help", let value = arguments.popFirst() else {
                print(
                    """
                    usage: sqlite-choice [--events N] [--users N] [--lookups N] [--batch N]
                        [--library ours,grdb] [--sync normal,full] [--variant a,b,c,d,e,f] [--repeat N] [--dir PATH]
                    """
                )
                return
            }
            options[String(flag.dropFirst(2))] = value
        }
        func list(_ key: String, _ fallback: String) -> [String] {
            (options[key] ?? fallback).split(separator: ",").map(String.init)
        }
        let eventCount = Int(options["events"] ?? "") ?? 1_000_000
        let userCount = Int(options["users"] ?? "") ?? 100_000
        let lookupCount = Int(options["lookups"] ?? "") ?? 200_000
        let batch = Int(options["batch"] ?? "") ?? 10_000
        let libraries = list("library", "ours,grdb")
        let synchronousModes = list("sync", "normal,full")
        let variants = list("variant", "a,b,c,d").compactMap(Variant.init(rawValue:))
        let directory = options["dir"] ?? NSTemporaryDirectory()
        let repeatCount = max(Int(options["repeat"] ?? "") ?? 1, 1)

        let generationStart = ContinuousClock.now
        let workload = Workload(users: userCount, events: eventCount, lookups: lookupCount)
        print(
            "# \(eventCount) events, \(userCount) users, \(lookupCount) lookups, batches of \(batch), best of \(repeatCount);"
                + " generated in \(ContinuousClock.now - generationStart)"
        )
        print(
            "| library | synchronous | variant | users rows/s | events rows/s | last 10% rows/s"
                + " | CPU µs/event | written B/event | lookups/s (one read txn) | lookups/s (one read each) | file MiB |"
        )
        print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for synchronous in synchronousModes {
            for variant in variants {
                // Each library runs `repeat` times, interleaved; every figure is the best of its runs, which
                // filters out interference from other work on the machine.
                var best: [String: Result] = [:]
                for round in 0..<repeatCount {
                    let order = round.isMultiple(of: 2) ? libraries : libraries.reversed()
                    for library in order {
                        guard
                            let result = try Self.run(
                                library: library,
                                path: directory + "/sqlite-choice-\(library)-\(synchronous)-\(variant.rawValue).sqlite",
                                workload: workload,
                                variant: variant,
                                synchronous: synchronous,
                                batch: batch
                            )
                        else { continue }
                        best[library] = best[library].map { $0.best(with: result) } ?? result
                        FileHandle.standardError.write(
                            Data("  [\(library) \(result.pragmas); checksum \(result.checksum)]\n".utf8)
                        )
                    }
                }
                for library in libraries {
                    guard let result = best[library] else { continue }
                    print(
                        "| \(library) | \(synchronous) | \(variant.label) | \(Self.format(result.usersPerSecond))"
                            + " | \(Self.format(result.eventsPerSecond)) | \(Self.format(result.lastTenthPerSecond))"
                            + " | \(String(format: "%.2f", result.cpuMicrosecondsPerEvent))"
                            + " | \(Int(result.bytesWrittenPerEvent.rounded()))"
                            + " | \(Self.format(result.lookupsInOneReadPerSecond))"
                            + " | \(Self.format(result.lookupsOneReadEachPerSecond)) | \(result.fileMiB) |"
                    )
                }
            }
        }
    }

    /// Runs one library on a fresh database file and deletes the file afterwards.
    static func run(
        library: String,
        path: String,
        workload: Workload,
        variant: Variant,
        synchronous: String,
        batch: Int
    ) throws -> Result? {
        Self.remove(path)
        defer { Self.remove(path) }
        var result: Result
        switch library {
        case "ours":
            guard let mode = SQLiteConnection.Options.Synchronous(rawValue: synchronous) else { return nil }
            result = try OursBench.run(
                path: path,
                workload: workload,
                variant: variant,
                synchronous: mode,
                batch: batch
            )
        case "grdb":
            guard
                let grdb = try GRDBBench.run(
                    path: path,
                    workload: workload,
                    variant: variant,
                    synchronous: synchronous,
                    batch: batch
                )
            else { return nil }
            result = grdb
        default:
            return nil
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        result.fileMiB = size >> 20
        return result
    }

    static func format(_ value: Double) -> String {
        let rounded = Int((value / 1000).rounded()) * 1000
        var digits = String(rounded)
        var index = digits.endIndex
        while digits.distance(from: digits.startIndex, to: index) > 3 {
            index = digits.index(index, offsetBy: -3)
            digits.insert(",", at: index)
        }
        return digits
    }

    static func remove(_ path: String) {
        for suffix in ["", "-wal", "-shm"] {
            try? FileManager.default.removeItem(atPath: path + suffix)
        }
    }
}
