import SegmentsRPC
import SegmentsWire
import Testing

/// Parsing of daemon addresses: socket paths and `tls://HOST:PORT`.
struct RPCAddressTests {
    @Test func pathsAndTLSAddressesAreParsed() throws {
        #expect(try RPCAddress("/run/segments/store.sock") == .unix(path: "/run/segments/store.sock"))
        #expect(try RPCAddress("tls://store-1.internal:7443") == .tls(host: "store-1.internal", port: 7443))
        #expect(try RPCAddress("tls://[fd00::2]:7443") == .tls(host: "fd00::2", port: 7443))
        #expect(try RPCAddress("tls://[fd00::2]:7443").description == "tls://[fd00::2]:7443")
        #expect(try RPCAddress("tls://10.0.0.1:1").isTLS)
    }

    @Test(arguments: [
        "tls://host", "tls://:7443", "tls://host:0", "tls://host:65536", "tls://fd00::2:7443", "tls://[x:1", "",
    ])
    func aWrongAddressIsRefused(text: String) {
        #expect(throws: RPCError.self) { try RPCAddress(text) }
    }

    @Test func tlsSettingsComeAllTogetherOrNotAtAll() throws {
        let names = ("--tls-cert", "--tls-key", "--tls-client-ca")
        #expect(try RPCTLSFiles.optional(certificate: nil, key: nil, trustedCA: nil, names: names) == nil)
        #expect {
            try RPCTLSFiles.optional(certificate: "c.pem", key: nil, trustedCA: nil, names: names)
        } throws: { error in
            (error as? RPCError)?.message.contains("--tls-key and --tls-client-ca missing") == true
        }
        #expect(throws: RPCError.self) {
            try RPCTLSListener.fromSettings(listen: nil, certificate: "c", key: "k", clientCA: "ca")
        }
        #expect(throws: RPCError.self) {
            try RPCTLSListener.fromSettings(listen: "127.0.0.1:7443", certificate: nil, key: nil, clientCA: nil)
        }
        let listener = try RPCTLSListener.fromSettings(listen: "[::1]:7443", certificate: "c", key: "k", clientCA: "ca")
        #expect(listener?.host == "::1" && listener?.port == 7443)
    }
}
