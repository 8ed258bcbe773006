import NIOSSL
import SegmentsWire

/// The PEM files of one side of a mutual TLS connection: its certificate chain, its private key, and the
/// certificate authorities it trusts to sign the other side's certificate.
///
/// A daemon's TLS listener uses them to present itself and to verify clients (a client without a certificate signed
/// by one of the trusted CAs fails the handshake, before any frame is read); a client uses them to present itself
/// and to verify the daemon (its certificate must be signed by a trusted CA and name the host or IP address
/// connected to).
public struct RPCTLSFiles: Sendable, Hashable {
    /// The certificate chain, leaf first (PEM).
    public var certificatePath: String
    /// The private key of the leaf certificate (PEM).
    public var privateKeyPath: String
    /// The certificate authorities trusted to sign the other side's certificate (PEM, one or more).
    public var trustedCAPath: String

    /// Names the files.
    /// - Parameters:
    ///   - certificatePath: the certificate chain, leaf first.
    ///   - privateKeyPath: the leaf's private key.
    ///   - trustedCAPath: the CAs trusted to sign the other side's certificate.
    public init(certificatePath: String, privateKeyPath: String, trustedCAPath: String) {
        self.certificatePath = certificatePath
        self.privateKeyPath = privateKeyPath
        self.trustedCAPath = trustedCAPath
    }

    /// The files from three optional settings, all or none: `nil` when none is given.
    /// - Parameters:
    ///   - certificate: the certificate chain's path, or `nil`.
    ///   - key: the private key's path, or `nil`.
    ///   - trustedCA: the trusted CAs' path, or `nil`.
    ///   - names: how the three settings are spelled, for the error (`--tls-cert`, …).
    /// - Throws: ``RPCError`` INVALID_ARGUMENT naming what is missing when some but not all are given.
    public static func optional(
        certificate: String?,
        key: String?,
        trustedCA: String?,
        names: (certificate: String, key: String, trustedCA: String)
    ) throws(RPCError) -> RPCTLSFiles? {
        switch (certificate, key, trustedCA) {
        case (nil, nil, nil):
            return nil
        case (let certificate?, let key?, let trustedCA?):
            return RPCTLSFiles(certificatePath: certificate, privateKeyPath: key, trustedCAPath: trustedCA)
        default:
            var missing: [String] = []
            if certificate == nil { missing.append(names.certificate) }
            if key == nil { missing.append(names.key) }
            if trustedCA == nil { missing.append(names.trustedCA) }
            throw RPCError(
                .invalidArgument,
                "TLS needs a certificate, its key and the trusted CA together: \(missing.joined(separator: " and ")) "
                    + "missing"
            )
        }
    }

    /// The TLS context of a server that requires and verifies client certificates (TLS 1.2 or later).
    /// - Throws: ``RPCError`` INVALID_ARGUMENT naming the file that cannot be read or used.
    public func serverContext() throws(RPCError) -> NIOSSLContext {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try self.certificateChain(),
            privateKey: try self.privateKey()
        )
        configuration.minimumTLSVersion = .tlsv12
        configuration.certificateVerification = .noHostnameVerification
        configuration.trustRoots = try self.trustRoots()
        return try self.context(configuration)
    }

    /// The TLS context of a client that presents its certificate and verifies the server's, host name or IP address
    /// included (TLS 1.2 or later).
    /// - Throws: ``RPCError`` INVALID_ARGUMENT naming the file that cannot be read or used.
    public func clientContext() throws(RPCError) -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.certificateChain = try self.certificateChain()
        configuration.privateKey = try self.privateKey()
        configuration.certificateVerification = .fullVerification
        configuration.trustRoots = try self.trustRoots()
        return try self.context(configuration)
    }

    private func certificateChain() throws(RPCError) -> [NIOSSLCertificateSource] {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(self.certificatePath)
        } catch {
            throw RPCError(.invalidArgument, "cannot read the TLS certificate \(self.certificatePath): \(error)")
        }
        guard !chain.isEmpty else {
            throw RPCError(.invalidArgument, "the TLS certificate file \(self.certificatePath) holds no certificate")
        }
        return chain.map { .certificate($0) }
    }

    private func privateKey() throws(RPCError) -> NIOSSLPrivateKeySource {
        do {
            return .privateKey(try NIOSSLPrivateKey(file: self.privateKeyPath, format: .pem))
        } catch {
            throw RPCError(.invalidArgument, "cannot read the TLS private key \(self.privateKeyPath): \(error)")
        }
    }

    private func trustRoots() throws(RPCError) -> NIOSSLTrustRoots {
        let authorities: [NIOSSLCertificate]
        do {
            authorities = try NIOSSLCertificate.fromPEMFile(self.trustedCAPath)
        } catch {
            throw RPCError(.invalidArgument, "cannot read the trusted TLS CA \(self.trustedCAPath): \(error)")
        }
        guard !authorities.isEmpty else {
            throw RPCError(.invalidArgument, "the trusted TLS CA file \(self.trustedCAPath) holds no certificate")
        }
        return .certificates(authorities)
    }

    private func context(_ configuration: TLSConfiguration) throws(RPCError) -> NIOSSLContext {
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw RPCError(
                .invalidArgument,
                "cannot use the TLS certificate \(self.certificatePath) with the key \(self.privateKeyPath): \(error)"
            )
        }
    }
}
