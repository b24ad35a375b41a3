package import BranchCore
package import BranchEngine
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import NIOSSL

/// How the service faces the network: HTTPS with its certificate (nil: plain HTTP, which
/// `branch serve` allows on loopback only, behind a proxy on the same machine), and the proxies
/// whose forwarded client address it believes.
package struct ServiceTransport: Sendable {
    package var certificate: ServiceCertificate?
    package var trustedProxies: [IPNetwork]

    package init(certificate: ServiceCertificate? = nil, trustedProxies: [IPNetwork] = []) {
        self.certificate = certificate
        self.trustedProxies = trustedProxies
    }

    var tls: Bool { certificate != nil }
    var proxies: TrustedProxies { TrustedProxies(trustedProxies) }

    /// `http1` as is, or wrapped in TLS with the service's certificate chain and key: a client
    /// that speaks plain HTTP to it fails the handshake and gets no answer.
    func server(_ http1: HTTP1Channel.Configuration) throws -> HTTPServerBuilder {
        guard let certificate else { return .http1(configuration: http1) }
        return try .tls(.http1(configuration: http1), tlsConfiguration: try Self.tlsConfiguration(certificate))
    }

    /// TLS 1.2 and later (NIOSSL's default ciphers), HTTP/1.1 offered by ALPN.
    static func tlsConfiguration(_ certificate: ServiceCertificate) throws -> TLSConfiguration {
        let chain = try NIOSSLCertificate.fromPEMBytes(Array(certificate.certificatePEM.utf8))
        let key = try NIOSSLPrivateKey(bytes: Array(certificate.keyPEM.utf8), format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = ["http/1.1"]
        return configuration
    }
}
