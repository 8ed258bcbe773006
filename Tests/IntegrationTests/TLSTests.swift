import Foundation
import SegmentsTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Both daemons' TLS listeners, through the real daemons and `segclient`: mutual TLS, roles by certificate common
/// name, the evaluator following the store over TLS, and the refusals — a certificate from another CA, none at all,
/// plain frames, a common name the access file gives no access.
@Suite(.serialized) struct TLSTests {
    @Test func certifiedClientsAreServedWithTheirRoleAndOthersAreRefusedAtTheHandshake() async throws {
        try await TemporaryDirectory.with { directory in
            let authority = try TestCertificates(directory: directory)
            let server = try authority.server("segments-daemon", ipAddresses: ["127.0.0.1"], hostNames: ["localhost"])
            let writer = try authority.client("writer-client")
            let reader = try authority.client("Read Only")
            let locked = try authority.client("locked-client")
            let stranger = try authority.client("stranger")
            let rogue = try TestCertificates(directory: directory, name: "Rogue CA").client("writer-client")
            let access = directory + "/access"
            try """
            certificate writer-client = writer
            certificate "Read Only" = reader
            certificate locked-client = none
            """.write(toFile: access, atomically: true, encoding: .utf8)
            let (storePort, evaluatorPort) = (try LoopbackPort.free(), try LoopbackPort.free())
            func listener(_ port: Int) -> [String] {
                [
                    "--listen-tls", "127.0.0.1:\(port)", "--tls-cert", server.certificate, "--tls-key", server.key,
                    "--tls-client-ca", authority.authority, "--access", access,
                ]
            }
            let options = DaemonPair.Options(
                evaluatorArguments: listener(evaluatorPort),
                storeArguments: listener(storePort)
            )
            try await DaemonPair.with(options: options) { daemons in
                func segclient(
                    _ files: TestCertificates.Files?,
                    ca: String? = nil,
                    _ arguments: [String]
                )
                    async throws -> CommandResult
                {
                    var tls: [String] = []
                    if let files {
                        tls = [
                            "--tls-cert", files.certificate, "--tls-key", files.key, "--tls-ca",
                            ca ?? authority.authority,
                        ]
                    }
                    return try await CommandResult.run(
                        BuiltProducts.path(of: "segclient"),
                        arguments + [
                            "--store", "tls://127.0.0.1:\(storePort)", "--evaluator",
                            "tls://localhost:\(evaluatorPort)",
                        ] + tls
                    )
                }
                try await daemons.segclientOK(["segment", "create", "pros", #"plan = "pro""#])

                // A writer writes over TLS; the evaluator (over its own TLS listener) answers with the write applied.
                let wrote = try await segclient(writer, ["profile", "set", "ana", #"{"plan":"pro"}"#])
                #expect(wrote.status == 0, "\(wrote.stderr)")
                let members = try await segclient(reader, ["members", "pros"])
                #expect(members.status == 0, "\(members.stderr)")
                #expect(members.stdout == "ana\n")

                // Roles come from the certificate's common name.
                let clock = try await segclient(writer, ["clock", "set", "2026-11-02T00:00:00Z"])
                #expect(clock.status == 5)
                #expect(
                    clock.stderr.contains(
                        #"SetClock needs the admin role; this caller (certificate CN "writer-client" from 127.0.0.1:"#
                    ),
                    "\(clock.stderr)"
                )
                let readerWrite = try await segclient(reader, ["profile", "set", "bo", #"{"plan":"pro"}"#])
                #expect(readerWrite.status == 5)
                #expect(readerWrite.stderr.contains("needs the writer role"), "\(readerWrite.stderr)")
                // A certificate the file gives no rule: others (reader by default).
                let strangerRead = try await segclient(stranger, ["profile", "get", "ana"])
                #expect(strangerRead.status == 0, "\(strangerRead.stderr)")
                // `none`: refused as a whole.
                let lockedRead = try await segclient(locked, ["profile", "get", "ana"])
                #expect(lockedRead.status == 5, "\(lockedRead.stderr)")
                #expect(lockedRead.stderr.contains("has no access"), "\(lockedRead.stderr)")

                // A certificate of another CA, and none at all: refused at the handshake, logged with the address.
                let rogueCall = try await segclient(rogue, ["profile", "get", "ana"])
                #expect(rogueCall.status == 4, "\(rogueCall.stderr)")
                let noCertificate = try await segclient(nil, ["profile", "get", "ana"])
                #expect(noCertificate.status == 2)
                #expect(noCertificate.stderr.contains("is a TLS address"), "\(noCertificate.stderr)")
                let bare = try await CommandResult.run(
                    "/usr/bin/openssl",
                    ["s_client", "-connect", "127.0.0.1:\(storePort)", "-CAfile", authority.authority, "-quiet"],
                    input: "hello\n"
                )
                #expect(bare.stderr.contains("certificate required"), "\(bare.stderr)")
                // Plain frames are not TLS: no response frame, the connection is closed.
                #expect(try Self.plainFrameIsAnswered(port: storePort) == false)
                try await Self.eventually {
                    let log = daemons.store.log
                    return log.contains("CERTIFICATE_VERIFY_FAILED")
                        && log.contains("PEER_DID_NOT_RETURN_A_CERTIFICATE")
                        && log.contains("TLS handshake failed; connection closed") && log.contains("address=127.0.0.1:")
                }
                // Nothing the refused clients sent reached the data.
                let ana = try await segclient(writer, ["profile", "get", "ana"])
                #expect(ana.stdout.contains(#"plan = "pro""#))
                let bo = try await daemons.segclient(["profile", "get", "bo"])
                #expect(bo.status == 3, "\(bo.stdout) \(bo.stderr)")
            }
        }
    }

    @Test func theEvaluatorFollowsAStoreOverTLS() async throws {
        try await TemporaryDirectory.with { directory in
            let authority = try TestCertificates(directory: directory)
            let server = try authority.server("store", ipAddresses: ["127.0.0.1"])
            let evaluator = try authority.client("evaluator-1")
            let access = directory + "/access"
            try "certificate evaluator-1 = writer\nothers = none\n".write(
                toFile: access,
                atomically: true,
                encoding: .utf8
            )
            let port = try LoopbackPort.free()
            let options = DaemonPair.Options(
                evaluatorArguments: [
                    "--store", "tls://127.0.0.1:\(port)", "--store-tls-cert", evaluator.certificate,
                    "--store-tls-key", evaluator.key, "--store-tls-ca", authority.authority,
                ],
                storeArguments: [
                    "--listen-tls", "127.0.0.1:\(port)", "--tls-cert", server.certificate, "--tls-key", server.key,
                    "--tls-client-ca", authority.authority, "--access", access,
                ]
            )
            try await DaemonPair.with(options: options) { daemons in
                try await daemons.segclientOK(["segment", "create", "pros", #"plan = "pro""#])
                for user in ["a", "b", "c"] {
                    try await daemons.segclientOK(["profile", "set", user, #"{"plan":"pro"}"#])
                }
                try await daemons.segclientOK(["profile", "set", "b", #"{"plan":"free"}"#])
                #expect(try await daemons.segclientOK(["members", "pros"]) == "a\nc\n")
                // After a crash, it reconnects over TLS and goes on from its position.
                try await daemons.restartEvaluator(crash: true) {
                    try await daemons.segclientOK(["profile", "set", "d", #"{"plan":"pro"}"#])
                }
                #expect(try await daemons.segclientOK(["members", "pros"]) == "a\nc\nd\n")
                #expect(daemons.store.log.contains(#"certificate "evaluator-1" writer"#))
            }
        }
    }

    @Test func wrongTLSSettingsStopTheDaemonsWithTheReason() async throws {
        try await TemporaryDirectory.with { directory in
            let authority = try TestCertificates(directory: directory)
            let server = try authority.server("store", ipAddresses: ["127.0.0.1"])
            let store = BuiltProducts.path(of: "profile-store")
            let base = ["--socket", directory + "/s.sock", "--data-dir", directory + "/data"]
            let missing = try await CommandResult.run(
                store,
                base + ["--listen-tls", "127.0.0.1:1", "--tls-cert", server.certificate]
            )
            #expect(missing.status != 0)
            #expect(missing.stderr.contains("--tls-key and --tls-client-ca missing"), "\(missing.stderr)")
            let unreadable = try await CommandResult.run(
                store,
                base + [
                    "--listen-tls", "127.0.0.1:\(try LoopbackPort.free())", "--tls-cert", directory + "/nope.pem",
                    "--tls-key", server.key, "--tls-client-ca", authority.authority,
                ]
            )
            #expect(unreadable.status != 0)
            #expect(
                unreadable.stderr.contains("cannot read the TLS certificate \(directory)/nope.pem"),
                "\(unreadable.stderr)"
            )
            let badAddress = try await CommandResult.run(
                store,
                base + [
                    "--listen-tls", "127.0.0.1", "--tls-cert", server.certificate, "--tls-key", server.key,
                    "--tls-client-ca", authority.authority,
                ]
            )
            #expect(badAddress.status != 0)
            #expect(badAddress.stderr.contains("is not HOST:PORT"), "\(badAddress.stderr)")
            let evaluator = try await CommandResult.run(
                BuiltProducts.path(of: "segment-evaluator"),
                ["--store", "tls://127.0.0.1:7443", "--socket", directory + "/e.sock", "--data-dir", directory + "/e"]
            )
            #expect(evaluator.status != 0)
            #expect(evaluator.stderr.contains("is a TLS address: give --store-tls-cert"), "\(evaluator.stderr)")
        }
    }

    /// Sends a well-formed request frame in plain text to the TLS port and reports whether anything comes back
    /// before the server closes (it must not: a TLS server reads a ClientHello, not frames).
    static func plainFrameIsAnswered(port: Int) throws -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw DaemonProcessError(message: "socket() failed") }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard connected else { throw DaemonProcessError(message: "cannot connect to port \(port)") }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        // A GetInfo request frame: call id 1, the method name, an empty payload.
        let method = Array("segments.v1.ProfileStore/GetInfo".utf8)
        let body: [UInt8] = [0x08, 0x01, 0x12, UInt8(method.count)] + method
        let frame: [UInt8] = [0, 0, 0, UInt8(body.count)] + body
        _ = frame.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        var received: [UInt8] = []
        while true {
            let count = read(descriptor, &buffer, buffer.count)
            if count <= 0 { break }
            received += buffer.prefix(count)
        }
        // A TLS alert record (content type 21) is what a TLS server may say; a frame would start with its length.
        return !(received.isEmpty || received.first == 21)
    }

    static func eventually(_ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while !condition() {
            guard ContinuousClock.now < deadline else {
                Issue.record("condition not met within 10 s")
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}
