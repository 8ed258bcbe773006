import Foundation
import SegmentsTesting
import Testing

/// Two hosts on one machine: network namespaces joined by a veth pair, made by the test (`ip netns`, needs root).
/// The store listens with TLS in one namespace, an evaluator in the other follows it over mutual TLS, and a client in
/// the second namespace writes to the store over the link and reads from the evaluator; a client whose certificate
/// another CA signed is refused at the handshake.
@Suite(.serialized) struct TwoHostTLSTests {
    @Test func anEvaluatorOnAnotherHostFollowsTheStoreOverMutualTLS() async throws {
        let network = try await TwoHosts.make()
        defer { network.remove() }
        try await TemporaryDirectory.with { directory in
            let authority = try TestCertificates(directory: directory)
            let server = try authority.server("store-host-a", ipAddresses: [network.addressA])
            let evaluatorCertificate = try authority.client("evaluator-host-b")
            let admin = try authority.client("ops-admin")
            let rogue = try TestCertificates(directory: directory, name: "Rogue CA").client("ops-admin")
            let access = directory + "/access"
            try """
            certificate evaluator-host-b = writer
            certificate ops-admin = admin
            others = none
            """.write(toFile: access, atomically: true, encoding: .utf8)
            let storeAddress = "tls://\(network.addressA):7443"

            let store = try await DaemonProcess.start(
                "/usr/sbin/ip",
                arguments: [
                    "netns", "exec", network.hostA, BuiltProducts.path(of: "profile-store"),
                    "--socket", directory + "/store.sock", "--data-dir", directory + "/store",
                    "--manual-clock", "2026-11-01T00:00:00Z", "--listen-tls", "\(network.addressA):7443",
                    "--tls-cert", server.certificate, "--tls-key", server.key, "--tls-client-ca", authority.authority,
                    "--access", access,
                ],
                socketPath: directory + "/store.sock",
                logPath: directory + "/store.log"
            )
            defer { store.kill() }
            let evaluator = try await DaemonProcess.start(
                "/usr/sbin/ip",
                arguments: [
                    "netns", "exec", network.hostB, BuiltProducts.path(of: "segment-evaluator"),
                    "--store", storeAddress, "--store-tls-cert", evaluatorCertificate.certificate,
                    "--store-tls-key", evaluatorCertificate.key, "--store-tls-ca", authority.authority,
                    "--socket", directory + "/eval.sock", "--data-dir", directory + "/evaluator",
                ],
                socketPath: directory + "/eval.sock",
                logPath: directory + "/evaluator.log"
            )
            defer { evaluator.kill() }

            func segclientOnB(_ files: TestCertificates.Files, _ arguments: [String]) async throws -> CommandResult {
                try await CommandResult.run(
                    "/usr/sbin/ip",
                    [
                        "netns", "exec", network.hostB, BuiltProducts.path(of: "segclient"),
                    ] + arguments + [
                        "--store", storeAddress, "--evaluator", directory + "/eval.sock", "--tls-cert",
                        files.certificate, "--tls-key", files.key, "--tls-ca", authority.authority,
                    ]
                )
            }
            func ok(_ arguments: [String]) async throws -> String {
                let result = try await segclientOnB(admin, arguments)
                #expect(result.status == 0, "\(arguments): \(result.stderr)\n\(store.log)\n\(evaluator.log)")
                return result.stdout
            }
            _ = try await ok(["segment", "create", "pros", #"plan = "pro""#])
            _ = try await ok(["profile", "set", "ana", #"{"plan":"pro"}"#])
            _ = try await ok(["profile", "set", "bo", #"{"plan":"pro"}"#])
            _ = try await ok(["profile", "set", "ana", #"{"plan":"free"}"#])
            #expect(try await ok(["members", "pros"]) == "bo\n")
            #expect(try await ok(["check", "bo", "pros"]).hasPrefix("true"))
            #expect(try await ok(["check", "ana", "pros"]).hasPrefix("false"))

            // The store saw the evaluator and the client come from the other host.
            #expect(store.log.contains("\(network.addressB)") == false)  // nothing refused so far
            let refused = try await segclientOnB(rogue, ["profile", "get", "bo"])
            #expect(refused.status == 4, "\(refused.stderr)")
            let deadline = ContinuousClock.now + .seconds(10)
            while !store.log.contains("TLS handshake failed; connection closed"), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(store.log.contains("address=\(network.addressB):"), "\(store.log)")
            #expect(store.log.contains("CERTIFICATE_VERIFY_FAILED"), "\(store.log)")
        }
    }
}

/// Two network namespaces, `hostA` and `hostB`, joined by a veth pair with an address each on a /24 of its own.
struct TwoHosts: Sendable {
    let hostA: String
    let hostB: String
    let addressA: String
    let addressB: String

    static func make() async throws -> TwoHosts {
        let tag = "\(getpid() % 10_000)"
        let subnet = Int(getpid() % 200) + 20
        let hosts = TwoHosts(
            hostA: "segA\(tag)",
            hostB: "segB\(tag)",
            addressA: "10.231.\(subnet).1",
            addressB: "10.231.\(subnet).2"
        )
        hosts.remove()
        let (linkA, linkB) = ("sgA\(tag)", "sgB\(tag)")
        let steps: [[String]] = [
            ["netns", "add", hosts.hostA],
            ["netns", "add", hosts.hostB],
            ["link", "add", linkA, "type", "veth", "peer", "name", linkB],
            ["link", "set", linkA, "netns", hosts.hostA],
            ["link", "set", linkB, "netns", hosts.hostB],
            ["-n", hosts.hostA, "addr", "add", hosts.addressA + "/24", "dev", linkA],
            ["-n", hosts.hostB, "addr", "add", hosts.addressB + "/24", "dev", linkB],
            ["-n", hosts.hostA, "link", "set", linkA, "up"],
            ["-n", hosts.hostB, "link", "set", linkB, "up"],
            ["-n", hosts.hostA, "link", "set", "lo", "up"],
            ["-n", hosts.hostB, "link", "set", "lo", "up"],
        ]
        for step in steps {
            let result = try await CommandResult.run("/usr/sbin/ip", step)
            guard result.status == 0 else {
                hosts.remove()
                throw DaemonProcessError(
                    message: "ip \(step.joined(separator: " ")) failed (this test needs root): \(result.stderr)"
                )
            }
        }
        return hosts
    }

    /// Deletes both namespaces (and so the veth pair).
    func remove() {
        for host in [self.hostA, self.hostB] {
            _ = try? CommandResult.run("/usr/sbin/ip", ["netns", "del", host])
        }
    }
}
