import Foundation
import SegmentsTesting
import Testing

/// Roles from the peer's credentials, through the real daemons and `segclient` run as other users (`useradd` +
/// `runuser`): each role's allowed and refused calls, a user with no access, the default for everyone else, and the
/// refusals in the daemons' logs. Needs root, to make the users and switch to them.
@Suite(.serialized) struct AccessRoleTests {
    static let reader = "segtest-reader"
    static let writer = "segtest-writer"
    static let admin = "segtest-admin"
    static let locked = "segtest-none"
    static let outsider = "segtest-other"
    static let writers = "segtest-writers"

    @Test func eachRoleMayDoWhatItsRoleAllowsAndIsToldWhatItLacks() async throws {
        try await Self.makeUsers()
        try await TemporaryDirectory.with { directory in
            let access = directory + "/access"
            try """
            # test access file
            user \(Self.admin) = admin
            group \(Self.writers) = writer   # segtest-writer is a member
            user \(Self.locked) = none
            user \(Self.reader) = reader
            """.write(toFile: access, atomically: true, encoding: .utf8)
            let options = DaemonPair.Options(
                evaluatorArguments: ["--access", access],
                storeArguments: ["--access", access]
            )
            try await DaemonPair.with(options: options) { daemons in
                try await Self.exerciseRoles(daemons)
                try await Self.reloadOnHangUp(daemons, access: access)
            }
        }
    }

    static func exerciseRoles(_ daemons: DaemonPair) async throws {
        // Others must reach the sockets: the directory and the sockets are opened to everyone, so that only the
        // roles decide.
        _ = chmod(daemons.directory, 0o755)
        _ = chmod(daemons.storeSocket, 0o666)
        _ = chmod(daemons.evaluatorSocket, 0o666)

        func segclient(_ user: String, _ arguments: [String], input: String? = nil) async throws -> CommandResult {
            try await CommandResult.run(
                "/usr/sbin/runuser",
                [
                    "-u", user, "--", "/usr/bin/env", "SEGMENTS_STORE_SOCKET=\(daemons.storeSocket)",
                    "SEGMENTS_EVALUATOR_SOCKET=\(daemons.evaluatorSocket)", BuiltProducts.path(of: "segclient"),
                ] + arguments,
                input: input
            )
        }
        func expectRefused(
            _ user: String,
            _ arguments: [String],
            needing role: String,
            input: String? = nil,
            sourceLocation: SourceLocation = #_sourceLocation
        ) async throws {
            let result = try await segclient(user, arguments, input: input)
            #expect(result.status == 5, "\(arguments): \(result.stderr)", sourceLocation: sourceLocation)
            #expect(
                result.stderr.contains("needs the \(role) role"),
                "\(arguments): \(result.stderr)",
                sourceLocation: sourceLocation
            )
        }
        func expectAllowed(
            _ user: String,
            _ arguments: [String],
            input: String? = nil,
            sourceLocation: SourceLocation = #_sourceLocation
        ) async throws {
            let result = try await segclient(user, arguments, input: input)
            #expect(result.status == 0, "\(user) \(arguments): \(result.stderr)", sourceLocation: sourceLocation)
        }

        // Admin: segment definitions, the clock, deletions.
        try await expectAllowed(Self.admin, ["segment", "create", "pro", #"plan = "pro""#])
        try await expectAllowed(Self.admin, ["clock", "advance", "1h"])

        // Writer: profiles, events, imports, lists; not segments, deletions, webhooks or the clock.
        try await expectAllowed(Self.writer, ["profile", "set", "u1", #"{"plan":"pro"}"#])
        try await expectAllowed(Self.writer, ["track", "u1", "purchase"])
        try await expectAllowed(
            Self.writer,
            ["import", "profiles", "-"],
            input: #"{"id":"u2","attributes":{"plan":"pro"}}"# + "\n"
        )
        try await expectAllowed(Self.writer, ["list", "create", "vip"])
        try await expectAllowed(Self.writer, ["list", "add", "vip", "u1"])
        try await expectRefused(Self.writer, ["segment", "create", "w", #"plan = "x""#], needing: "admin")
        try await expectRefused(Self.writer, ["segment", "delete", "pro"], needing: "admin")
        try await expectRefused(Self.writer, ["profile", "delete", "u2"], needing: "admin")
        try await expectRefused(Self.writer, ["list", "delete", "vip"], needing: "admin")
        try await expectRefused(Self.writer, ["clock", "advance", "1h"], needing: "admin")
        try await expectRefused(Self.writer, ["trait", "create", "spent", "sum(purchase.amount)"], needing: "admin")
        try await expectRefused(
            Self.writer,
            ["webhook", "add", "http://127.0.0.1:9/hook", "--segments", "pro", "--secret", "s3cret-s3cret"],
            needing: "admin"
        )

        // Reader: every read of both daemons; no write.
        try await expectAllowed(Self.reader, ["check", "u1", "pro", "--min-seq", "0"])
        try await expectAllowed(Self.reader, ["members", "pro"])
        try await expectAllowed(Self.reader, ["segments-of", "u1"])
        try await expectAllowed(Self.reader, ["explain", "u1", "pro"])
        try await expectAllowed(Self.reader, ["history", "--segment", "pro"])
        try await expectAllowed(Self.reader, ["profile", "get", "u1"])
        try await expectAllowed(Self.reader, ["segment", "list"])
        try await expectAllowed(Self.reader, ["trait", "list"])
        try await expectAllowed(Self.reader, ["traits", "u1"])
        try await expectAllowed(Self.reader, ["list", "members", "vip"])
        try await expectAllowed(Self.reader, ["status"])
        try await expectRefused(Self.reader, ["profile", "set", "u3", #"{"plan":"pro"}"#], needing: "writer")
        try await expectRefused(Self.reader, ["track", "u1", "purchase"], needing: "writer")
        try await expectRefused(
            Self.reader,
            ["import", "events", "-"],
            needing: "writer",
            input: #"{"user":"u1","event":"view","at":"2026-11-01T00:00:00Z"}"# + "\n"
        )
        try await expectRefused(Self.reader, ["list", "add", "vip", "u2"], needing: "writer")
        try await expectRefused(Self.reader, ["segment", "create", "r", #"plan = "x""#], needing: "admin")

        // Not in the file: the `others` default, reader.
        try await expectAllowed(Self.outsider, ["members", "pro"])
        try await expectRefused(Self.outsider, ["track", "u1", "purchase"], needing: "writer")

        // No access: refused at the door, by both daemons.
        for arguments in [["segment", "list"], ["members", "pro"]] {
            let result = try await segclient(Self.locked, arguments)
            #expect(result.status == 5, "\(result.stderr)")
            #expect(result.stderr.contains("has no access to this socket"), "\(result.stderr)")
        }

        // Nothing refused was done; everything allowed was.
        try await expectAllowed(Self.admin, ["profile", "get", "u2"])
        let profile = try await segclient(Self.admin, ["profile", "get", "u3"])
        #expect(profile.status == 3)
        #expect(try await segclient(Self.reader, ["members", "pro"]).stdout.contains("u1"))
        #expect(try await segclient(Self.reader, ["segment", "list"]).stdout.contains("pro"))
        #expect(!(try await segclient(Self.reader, ["segment", "list"]).stdout.contains("w ")))

        // Each refusal is logged with the caller's uid and the method.
        let storeLog = daemons.store.log
        #expect(storeLog.contains("call refused"))
        #expect(storeLog.contains("SetClock"))
        #expect(storeLog.contains("uid=\(try Self.uid(of: Self.writer))"), "\(storeLog)")
        #expect(storeLog.contains("connection refused: no access"))
    }

    /// SIGHUP re-reads the access file for new connections; a wrong file changes nothing and says why.
    static func reloadOnHangUp(_ daemons: DaemonPair, access: String) async throws {
        func track(_ user: String) async throws -> CommandResult {
            try await CommandResult.run(
                "/usr/sbin/runuser",
                [
                    "-u", user, "--", "/usr/bin/env", "SEGMENTS_STORE_SOCKET=\(daemons.storeSocket)",
                    BuiltProducts.path(of: "segclient"), "track", "u1", "purchase",
                ]
            )
        }
        func hangUpAndWait(for line: String, count: Int) async throws {
            daemons.store.hangUp()
            for _ in 0..<200 where daemons.store.log.components(separatedBy: line).count - 1 < count {
                try await Task.sleep(for: .milliseconds(25))
            }
            #expect(daemons.store.log.components(separatedBy: line).count - 1 == count, "\(daemons.store.log)")
        }
        #expect(try await track(Self.reader).status == 5)
        try "user \(Self.reader) = writer\n".write(toFile: access, atomically: true, encoding: .utf8)
        try await hangUpAndWait(for: "access file reloaded", count: 1)
        #expect(try await track(Self.reader).status == 0)
        // A wrong file: the roles in effect stay, and the log says why.
        try "user \(Self.reader) = wrtier\n".write(toFile: access, atomically: true, encoding: .utf8)
        try await hangUpAndWait(for: "access file not reloaded", count: 1)
        #expect(daemons.store.log.contains("unknown role 'wrtier'"))
        #expect(try await track(Self.reader).status == 0)
        #expect(daemons.store.isRunning)
    }

    @Test func aBadAccessFileStopsTheDaemonWithTheLineAndReason() async throws {
        try await TemporaryDirectory.with { directory in
            for (text, reason) in [
                ("user root-nobody-here = admin", "line 1: no user named 'root-nobody-here'"),
                ("group nogroup = writer\nothers = superuser", "line 2: unknown role 'superuser'"),
                ("others = reader\nothers = none", "line 2: 'others' already has a rule on line 1"),
                ("everyone = reader", "line 1: expected 'user NAME', 'group NAME' or 'others' before '='"),
            ] {
                let access = directory + "/access"
                try text.write(toFile: access, atomically: true, encoding: .utf8)
                for daemon in ["profile-store", "segment-evaluator"] {
                    let result = try await CommandResult.run(
                        BuiltProducts.path(of: daemon),
                        ["--socket", directory + "/\(daemon).sock", "--access", access, "--data-dir", directory + "/d"]
                    )
                    #expect(result.status != 0)
                    #expect(result.stderr.contains(reason), "\(daemon): \(result.stderr)")
                }
            }
        }
    }

    /// Makes the test users and group, unless a previous run made them.
    static func makeUsers() async throws {
        func run(_ tool: String, _ arguments: [String]) async throws {
            let result = try await CommandResult.run(tool, arguments)
            guard result.status == 0 else {
                throw DaemonProcessError(
                    message: "\(tool) \(arguments) failed (this test needs root): \(result.stderr)"
                )
            }
        }
        if try await CommandResult.run("/usr/bin/getent", ["group", Self.writers]).status != 0 {
            try await run("/usr/sbin/groupadd", ["--system", Self.writers])
        }
        for user in [Self.reader, Self.writer, Self.admin, Self.locked, Self.outsider]
        where try await CommandResult.run("/usr/bin/getent", ["passwd", user]).status != 0 {
            let groups = user == Self.writer ? ["--groups", Self.writers] : []
            try await run(
                "/usr/sbin/useradd",
                ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin"] + groups + [user]
            )
        }
    }

    static func uid(of user: String) throws -> UInt32 {
        guard let entry = getpwnam(user) else {
            throw DaemonProcessError(message: "no user \(user)")
        }
        return entry.pointee.pw_uid
    }
}
