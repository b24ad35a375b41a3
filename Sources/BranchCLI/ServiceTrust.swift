import AsyncHTTPClient
import BranchCore
import BranchMCP
import Crypto
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import Synchronization

/// Which certificate the CLI accepts from an `https` service, strongest first:
/// - `BRANCH_CA_FILE`: a CA (PEM) the certificate must chain to, host name checked;
/// - a pinned certificate: the one `branch login` showed and the user accepted (kept in the
///   config file), or on the server itself the pool's own (`/etc/branch/tls/cert.pem`): exactly
///   that certificate and no other, whatever name it is reached by;
/// - the system's trusted authorities (a service behind Caddy or Traefik with Let's Encrypt).
/// Plain `http://` URLs are used as they are (a service with `--tls off` behind a local proxy):
/// nothing ever falls back from https to http.
enum ServiceTrust: Hashable, Sendable {
    case system
    case caFile(String)
    case pinned(certificatePEM: String)

    /// Where `branch serve` keeps its self-signed certificate by default (beside the master key).
    static let localCertificateFile = "/etc/branch/tls/cert.pem"

    func tlsConfiguration() throws -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        switch self {
        case .system:
            break
        case .caFile(let path):
            do {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(path))
            } catch {
                throw CLIError(
                    code: "certificate_untrusted", message: "Cannot read the CA certificates in BRANCH_CA_FILE (\(path)): \(error).",
                    hint: "Point BRANCH_CA_FILE at a PEM file of the authority that signed the service's certificate, or unset it.")
            }
        case .pinned(let pem):
            tls = try ServiceHTTPClient.pinnedTLS(pem)
        }
        return tls
    }

    /// The fingerprint of the pinned certificate, if this is a pin.
    var pinnedFingerprint: String? {
        guard case .pinned(let pem) = self else { return nil }
        return try? CertificateText.fingerprint(pem: pem)
    }

    /// One HTTP client per trust, kept for the life of the process (the CLI's is short).
    private static let clients = Mutex<[ServiceTrust: HTTPClient]>([:])

    func httpClient() throws -> HTTPClient {
        let tls = try tlsConfiguration()
        return Self.clients.withLock { clients in
            if let client = clients[self] { return client }
            let client = ServiceHTTPClient.make(tls: tls)
            clients[self] = client
            return client
        }
    }
}

/// PEM text of certificates, and their fingerprints.
enum CertificateText {
    /// SHA-256 of the first certificate's DER bytes, `AB:01:…`.
    static func fingerprint(pem: String) throws -> String {
        guard let first = try NIOSSLCertificate.fromPEMBytes(Array(pem.utf8)).first else {
            throw CLIError(code: "certificate_untrusted", message: "No certificate in the PEM text.")
        }
        return fingerprint(first)
    }

    static func fingerprint(_ certificate: NIOSSLCertificate) -> String {
        CertificateFingerprint.format(SHA256.hash(data: (try? certificate.toDERBytes()) ?? []))
    }

    static func pem(_ certificate: NIOSSLCertificate) throws -> String {
        let base64 = Data(try certificate.toDERBytes()).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
        return "-----BEGIN CERTIFICATE-----\n\(base64)\n-----END CERTIFICATE-----\n"
    }
}

/// Reads the certificate a TLS server presents, without trusting it: what `branch login` shows
/// before it pins, and how a failed handshake is told apart from a changed certificate.
enum CertificateProbe {
    static func presented(host: String, port: Int) async throws -> NIOSSLCertificate {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .noHostnameVerification
        let context = try NIOSSLContext(configuration: tls)
        let captured = Mutex<NIOSSLCertificate?>(nil)
        let isAddress = host.contains(":") || host.allSatisfy { $0.isNumber || $0 == "." }
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let handshake = loop.makePromise(of: Void.self)
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: loop)
                .connectTimeout(.seconds(10))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        // Accepts whatever is presented: this connection only looks, it sends nothing.
                        let handler = try NIOSSLClientHandler(context: context, serverHostname: isAddress ? nil : host) { certificates, promise in
                            captured.withLock { $0 = certificates.first }
                            promise.succeed(.certificateVerified)
                        }
                        try channel.pipeline.syncOperations.addHandler(handler)
                        try channel.pipeline.syncOperations.addHandler(HandshakeWaiter(promise: handshake))
                    }
                }
                .connect(host: host, port: port).get()
        } catch {
            handshake.fail(error)
            throw error
        }
        defer { channel.close(promise: nil) }
        try await handshake.futureResult.get()
        guard let certificate = captured.withLock({ $0 }) else {
            throw CLIError(code: "certificate_untrusted", message: "The service at \(host):\(port) presented no certificate.")
        }
        return certificate
    }

    /// Completes when the TLS handshake has, or fails with why it could not (once: on the channel's loop).
    final class HandshakeWaiter: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = NIOAny
        let promise: EventLoopPromise<Void>
        private var done = false

        init(promise: EventLoopPromise<Void>) { self.promise = promise }

        private func finish(_ result: Result<Void, any Error>) {
            guard !done else { return }
            done = true
            promise.completeWith(result)
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let event = event as? TLSUserEvent, case .handshakeCompleted = event { finish(.success(())) }
            context.fireUserInboundEventTriggered(event)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            finish(.failure(error))
            context.close(promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            finish(.failure(ChannelError.inputClosed))
            context.fireChannelInactive()
        }
    }
}

/// What a failed HTTPS call means: a pinned certificate that changed (`certificate_changed`), or
/// one nothing this CLI trusts vouches for (`certificate_untrusted`); nil when the failure was not
/// about the certificate.
enum CertificateFailure {
    static func explain(_ error: any Error, url: String, trust: ServiceTrust) async -> CLIError? {
        guard error is NIOSSLError || error is BoringSSLError || "\(error)".contains("CERTIFICATE_VERIFY_FAILED"),
            let components = URLComponents(string: url), components.scheme == "https", let host = components.host
        else { return nil }
        let port = components.port ?? 443
        // No certificate to look at (plain HTTP on an https URL, a reset): not a question of trust.
        guard let presented = try? await CertificateProbe.presented(host: host, port: port) else { return nil }
        let fingerprint: String? = CertificateText.fingerprint(presented)
        switch trust {
        case .pinned:
            guard let pinned = trust.pinnedFingerprint, let fingerprint, fingerprint != pinned else { return nil }
            return CLIError(
                code: "certificate_changed",
                message: "The service at \(url) presented a certificate with SHA-256 fingerprint \(fingerprint), not the pinned \(pinned). Nothing was sent.",
                hint: "If its certificate was replaced on purpose, compare the new fingerprint with the one `branch serve` printed at start on the server, then run `branch login \(url) --fingerprint \(fingerprint) --token …`. Otherwise someone may be intercepting the connection.")
        case .caFile(let path):
            return CLIError(
                code: "certificate_untrusted",
                message: "The certificate of \(url)\(fingerprint.map { " (SHA-256 \($0))" } ?? "") does not verify against BRANCH_CA_FILE (\(path)) for host \(host).",
                hint: "Check that the certificate was signed by that authority and names \(host), or unset BRANCH_CA_FILE.")
        case .system:
            return CLIError(
                code: "certificate_untrusted",
                message: "The certificate of \(url)\(fingerprint.map { " (SHA-256 \($0))" } ?? "") is not signed by an authority this machine trusts.",
                hint: "Run `branch login \(url)` to check and pin its fingerprint (the one `branch serve` printed at start), or set BRANCH_CA_FILE to the authority's certificate.")
        }
    }
}
