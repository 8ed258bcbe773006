import Foundation

/// A throwaway certificate authority and certificates signed by it, made with the `openssl` command in a directory,
/// for tests of the daemons' TLS listeners: a server certificate naming the addresses it is reached at, and client
/// certificates with a common name each. Keys are P-256; everything is valid for two days.
public struct TestCertificates: Sendable {
    /// The PEM files of one certificate.
    public struct Files: Sendable {
        /// The certificate (PEM).
        public var certificate: String
        /// Its private key (PEM).
        public var key: String
    }

    /// The directory holding the files.
    public let directory: String
    /// The CA's certificate: what daemons and clients trust.
    public let authority: String

    /// Makes a CA named `name` in `directory`.
    /// - Throws: when `openssl` fails.
    public init(directory: String, name: String = "Segments Test CA") throws {
        self.directory = directory
        self.authority = directory + "/\(Self.fileName(name))-ca.pem"
        try Self.openssl([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", directory + "/\(Self.fileName(name))-ca.key", "-out", self.authority, "-days", "2",
            "-subj", "/CN=\(name)",
        ])
    }

    /// A server certificate signed by this CA, for the given IP addresses and host names.
    /// - Parameters:
    ///   - commonName: its common name.
    ///   - ipAddresses: the IP addresses it is valid for (subject alternative names).
    ///   - hostNames: the host names it is valid for.
    /// - Throws: when `openssl` fails.
    public func server(_ commonName: String, ipAddresses: [String], hostNames: [String] = []) throws -> Files {
        let names = ipAddresses.map { "IP:\($0)" } + hostNames.map { "DNS:\($0)" }
        return try self.sign(commonName, extensions: "subjectAltName=\(names.joined(separator: ","))")
    }

    /// A client certificate signed by this CA.
    /// - Parameter commonName: its common name, what access rules name.
    /// - Throws: when `openssl` fails.
    public func client(_ commonName: String) throws -> Files {
        try self.sign(commonName, extensions: "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth")
    }

    private func sign(_ commonName: String, extensions: String) throws -> Files {
        let base = self.directory + "/" + Self.fileName(commonName) + "-" + Self.fileName(self.authority)
        let files = Files(certificate: base + ".pem", key: base + ".key")
        try Self.openssl([
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", files.key,
            "-out", base + ".csr", "-subj", "/CN=\(commonName)",
        ])
        try extensions.write(toFile: base + ".ext", atomically: true, encoding: .utf8)
        let caKey = String(self.authority.dropLast(".pem".count)) + ".key"
        try Self.openssl([
            "x509", "-req", "-in", base + ".csr", "-CA", self.authority, "-CAkey", caKey, "-CAcreateserial",
            "-out", files.certificate, "-days", "2", "-extfile", base + ".ext",
        ])
        return files
    }

    private static func fileName(_ text: String) -> String {
        String(
            (text as NSString).lastPathComponent.map { $0.isLetter || $0.isNumber ? $0 : "_" }
        )
    }

    private static func openssl(_ arguments: [String]) throws {
        let result = try CommandResult.run("/usr/bin/openssl", arguments)
        guard result.status == 0 else {
            throw DaemonProcessError(
                message: "openssl \(arguments.prefix(2).joined(separator: " ")) failed: \(result.stderr)"
            )
        }
    }
}
