import ArgumentParser
import Foundation
import SegmentsClient
import SegmentsJSON
import SegmentsNDJSON

/// `segclient import profiles|events FILE|-`.
struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import NDJSON profiles or events from a file or standard input (-).",
        discussion: """
            Lines are sent in batches, in order. A bad line is reported as `line N: reason` on \
            standard error and skipped; every good line is stored. The exit status is 1 when any \
            line failed.
            """,
        subcommands: [Profiles.self, Events.self]
    )

    struct Profiles: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: #"Import profiles: {"id":"u1","attributes":{"plan":"pro","age":34}} per line."#
        )

        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "NDJSON file, or - for standard input.") var file: String
        @Option(help: "Lines per write (a write also ends at 8 MiB of input).") var batch = 5000
        @Flag(help: "Print the summary as JSON on standard output.") var json = false

        func run() async throws {
            let batchSize = self.batch
            try await ImportRun(file: self.file, batchSize: batchSize, noun: "profiles", json: self.json).run(
                connection: self.connection,
                parse: { (line) throws(NDJSONRecordError) in try NDJSONRecords.profile(line) },
                send: { (client, records) throws(SegmentsClientError) in try await client.upsertProfiles(records) }
            )
        }
    }

    struct Events: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: #"Import events: {"user":"u1","event":"purchase","at":"…","properties":{…},"id":"e-1"} per line."#
        )

        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "NDJSON file, or - for standard input.") var file: String
        @Option(help: "Lines per write (a write also ends at 8 MiB of input).") var batch = 20000
        @Flag(help: "Print the summary as JSON on standard output.") var json = false

        func run() async throws {
            try await ImportRun(file: self.file, batchSize: self.batch, noun: "events", json: self.json).run(
                connection: self.connection,
                parse: { (line) throws(NDJSONRecordError) in try NDJSONRecords.event(line) },
                send: { (client, records) throws(SegmentsClientError) in try await client.track(records) }
            )
        }
    }
}

/// One import: reads lines, parses them into records, and sends them in batches while the next
/// batch is being parsed. Batches are sent one at a time, in file order.
struct ImportRun {
    let file: String
    let batchSize: Int
    let noun: String
    let json: Bool

    /// A write ends at this much input, so its frame stays well under the 16 MiB limit.
    static let batchBytes = 8 * 1024 * 1024

    private struct Batch<Record: Sendable>: Sendable {
        var records: [Record] = []
        var lineNumbers: [Int] = []
        var bytes = 0
    }

    private struct Tally {
        var lines = 0
        var stored = 0
        var duplicates = 0
        var failed = 0
    }

    func run<Record: Sendable>(
        connection: ConnectionOptions,
        parse: (ArraySlice<UInt8>) throws(NDJSONRecordError) -> Record,
        send: @escaping @Sendable (SegmentsClient, [Record]) async throws(SegmentsClientError) -> SegmentsWriteResult
    ) async throws {
        guard self.batchSize > 0 else { throw ValidationError("--batch must be positive") }
        var reader: LineReader
        do {
            reader = try LineReader(path: self.file)
        } catch {
            throw ValidationError(error.message)
        }
        let progress = Progress(noun: self.noun)
        var tally = Tally()
        var lastAcknowledgedLine = 0
        try await connection.withClient { client in
            do {
                try await withThrowingTaskGroup(of: (Batch<Record>, SegmentsWriteResult).self) { group in
                    var inFlight = false
                    while true {
                        var batch = Batch<Record>()
                        while batch.records.count < self.batchSize, batch.bytes < Self.batchBytes,
                            let line = try reader.nextLine()
                        {
                            tally.lines += 1
                            batch.bytes += line.count
                            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
                            do throws(NDJSONRecordError) {
                                batch.records.append(try parse(line))
                                batch.lineNumbers.append(tally.lines)
                            } catch {
                                tally.failed += 1
                                progress.clear()
                                Output.diagnostic("line \(tally.lines): \(error.reason)")
                            }
                        }
                        if inFlight, let (sent, result) = try await group.next() {
                            self.account(result, of: sent, into: &tally, progress: progress)
                            lastAcknowledgedLine = sent.lineNumbers.last ?? lastAcknowledgedLine
                            inFlight = false
                        }
                        guard !batch.records.isEmpty else { break }
                        let toSend = batch
                        group.addTask { (toSend, try await send(client, toSend.records)) }
                        inFlight = true
                        progress.update(lines: tally.lines)
                    }
                }
            } catch let error as SegmentsClientError {
                progress.clear()
                Output.diagnostic(
                    "segclient: import stopped: \(error.message); "
                        + (lastAcknowledgedLine == 0
                            ? "no line was stored" : "lines 1–\(lastAcknowledgedLine) were processed")
                )
                throw error
            } catch let error as LineReaderError {
                throw ValidationError(error.message)
            }
        }
        progress.clear()
        let seconds = progress.elapsed
        if self.json {
            Output.json(
                .object([
                    ("lines", .number(Double(tally.lines))),
                    ("stored", .number(Double(tally.stored))),
                    ("duplicates", .number(Double(tally.duplicates))),
                    ("failed", .number(Double(tally.failed))),
                    ("seconds", .number(seconds)),
                ])
            )
        }
        let rate = seconds > 0 ? Int(Double(tally.lines) / seconds) : tally.lines
        Output.diagnostic(
            "imported \(tally.stored) \(self.noun) from \(tally.lines) lines in "
                + "\(String(format: "%.2f", seconds)) s (\(rate) lines/s); "
                + "\(tally.duplicates) duplicates, \(tally.failed) failed"
        )
        if tally.failed > 0 {
            throw ExitCode(1)
        }
    }

    private func account<Record>(
        _ result: SegmentsWriteResult,
        of batch: Batch<Record>,
        into tally: inout Tally,
        progress: Progress
    ) {
        tally.stored += result.accepted
        tally.duplicates += result.duplicates
        for rejection in result.rejected {
            tally.failed += 1
            let line = rejection.index < batch.lineNumbers.count ? batch.lineNumbers[rejection.index] : 0
            progress.clear()
            Output.diagnostic("line \(line): \(rejection.error.message)")
        }
    }
}

/// A progress line on standard error, shown only when it is a terminal.
final class Progress {
    private let noun: String
    private let verb: String
    private let started = Date()
    private var lastShown = Date.distantPast
    private let isTerminal = isatty(STDERR_FILENO) == 1
    private var showing = false

    init(noun: String, verb: String = "importing") {
        self.noun = noun
        self.verb = verb
    }

    var elapsed: Double {
        Date().timeIntervalSince(self.started)
    }

    func update(lines: Int) {
        guard self.isTerminal, Date().timeIntervalSince(self.lastShown) >= 0.25 else { return }
        self.lastShown = Date()
        let rate = Int(Double(lines) / max(self.elapsed, 0.001))
        FileHandle.standardError.write(
            Data("\r\(self.verb) \(self.noun): \(lines) lines (\(rate) lines/s)\u{1B}[K".utf8)
        )
        self.showing = true
    }

    func clear() {
        guard self.showing else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
        self.showing = false
    }
}
