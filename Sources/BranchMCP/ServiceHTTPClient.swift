package import AsyncHTTPClient
import NIOCore
package import NIOSSL

/// How the CLI and the MCP tools reach the service over HTTP(S): one client configuration, so a
/// service that is not there is reported at once (a 10 s connect timeout, no retries for minutes),
/// and one way to trust exactly a pinned certificate.
package enum ServiceHTTPClient {
    /// A client with `tls` (nil: the system's trusted authorities).
    package static func make(tls: TLSConfiguration? = nil) -> HTTPClient {
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.timeout.connect = .seconds(10)
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Trusts exactly `certificatePEM` (a self-signed certificate, the only trust anchor), for
    /// whatever host name it is reached by: a different certificate fails the handshake.
    package static func pinnedTLS(_ certificatePEM: String) throws -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(certificatePEM.utf8)))
        tls.certificateVerification = .noHostnameVerification
        return tls
    }
}
