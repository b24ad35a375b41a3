import BranchCore
@testable import BranchCLI
@testable import BranchEngine
import BranchPostgres
@testable import BranchServer
import BranchStorage
import BranchSystem
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

@Suite("TLS: fingerprints, loopback, trusted proxies")
struct TLSLogicTests {
    @Test("fingerprints print as uppercase hex pairs joined by colons; pasted forms normalize to that")
    func fingerprints() {
        let bytes: [UInt8] = (0..<32).map { UInt8($0 * 8) }
        let text = CertificateFingerprint.format(bytes)
        #expect(text.hasPrefix("00:08:10:18:20:"))
        #expect(text.count == 32 * 3 - 1)
        #expect(CertificateFingerprint.normalized(text) == text)
        #expect(CertificateFingerprint.normalized(text.replacingOccurrences(of: ":", with: "").lowercased()) == text)
        #expect(CertificateFingerprint.normalized("sha256 Fingerprint=\(text)") == text)
        #expect(CertificateFingerprint.normalized("SHA256:\(text)") == text)
        #expect(CertificateFingerprint.normalized("  \(text)\n") == text)
        // Not 32 bytes of hex: refused, signs included (Int parsing would take "+f").
        #expect(CertificateFingerprint.normalized(String(text.dropLast(3))) == nil)
        #expect(CertificateFingerprint.normalized(String(repeating: "+f", count: 32)) == nil)
        #expect(CertificateFingerprint.normalized(String(repeating: "zz", count: 32)) == nil)
        #expect(CertificateFingerprint.normalized("") == nil)
    }

    @Test("plain HTTP is allowed on loopback listen addresses only")
    func loopback() {
        for host in ["127.0.0.1", "127.1.2.3", "localhost", "LOCALHOST", "::1", "[::1]", "::ffff:127.0.0.1"] {
            #expect(LoopbackHost.contains(host), "\(host)")
        }
        for host in ["0.0.0.0", "::", "203.0.113.7", "10.0.0.1", "127.0.0.1.example.com", "example.com", "128.0.0.1", "", "127.0.0", "127.0.0.256"] {
            #expect(!LoopbackHost.contains(host), "\(host)")
        }
    }

    @Test("X-Forwarded-For counts only from trusted proxies, read from the right")
    func forwardedFor() throws {
        let none = TrustedProxies()
        // No trusted proxy: the peer, whatever the header says.
        #expect(none.client(peer: "203.0.113.9", forwardedFor: ["198.51.100.1"], forwardedProto: "https") == ("203.0.113.9", nil))

        let proxies = try TrustedProxies(parsing: ["127.0.0.1", "10.0.0.0/8, ::1"])
        #expect(proxies.networks.count == 3)
        // An untrusted peer cannot pick its address.
        #expect(proxies.client(peer: "203.0.113.9", forwardedFor: ["127.0.0.1"], forwardedProto: "https") == ("203.0.113.9", nil))
        // A trusted proxy names its client.
        #expect(proxies.client(peer: "127.0.0.1", forwardedFor: ["198.51.100.1"], forwardedProto: "https") == ("198.51.100.1", "https"))
        // What the client wrote itself (left) is ignored: the right-most untrusted hop is the client.
        #expect(proxies.client(peer: "127.0.0.1", forwardedFor: ["6.6.6.6, 198.51.100.1, 10.1.2.3"], forwardedProto: nil) == ("198.51.100.1", nil))
        #expect(proxies.client(peer: "127.0.0.1", forwardedFor: ["6.6.6.6", "198.51.100.1"], forwardedProto: nil) == ("198.51.100.1", nil))
        // Ports and brackets are dropped; IPv6 clients work.
        #expect(proxies.client(peer: "::1", forwardedFor: ["[2001:db8::7]:4711"], forwardedProto: nil).address == "2001:db8::7")
        #expect(proxies.client(peer: "::1", forwardedFor: ["198.51.100.1:4711"], forwardedProto: nil).address == "198.51.100.1")
        // Garbage ends the walk at the proxy that passed it on.
        #expect(proxies.client(peer: "127.0.0.1", forwardedFor: ["198.51.100.1, nonsense"], forwardedProto: nil).address == "127.0.0.1")
        // Every hop trusted: the left-most.
        #expect(proxies.client(peer: "127.0.0.1", forwardedFor: ["10.0.0.5, 10.0.0.6"], forwardedProto: nil).address == "10.0.0.5")
        // No header: the proxy itself; an unknown scheme is ignored.
        #expect(proxies.client(peer: "127.0.0.1", forwardedFor: [], forwardedProto: "gopher") == ("127.0.0.1", nil))
        #expect(throws: IPNetworkError.self) { try TrustedProxies(parsing: ["10.0.0.1/8"]) }
        #expect(throws: IPNetworkError.self) { try TrustedProxies(parsing: ["proxy.example"]) }
    }

    @Test("the CLI trusts the pool's own certificate only for https to this machine")
    func localTrust() {
        for url in ["https://127.0.0.1:8420", "https://[::1]:8420", "https://localhost:8420"] {
            #expect(ClientConfiguration.isLocalHTTPS(url), "\(url)")
        }
        for url in ["http://127.0.0.1:8420", "https://203.0.113.7:8420", "https://db.example.com", "not a url"] {
            #expect(!ClientConfiguration.isLocalHTTPS(url), "\(url)")
        }
        // Which certificate is accepted: BRANCH_CA_FILE over a pin over the system's authorities.
        #expect(ClientConfiguration(url: "https://x", token: nil).trust == .system)
        #expect(ClientConfiguration(url: "https://x", token: nil, certificate: "PEM").trust == .pinned(certificatePEM: "PEM"))
        #expect(ClientConfiguration(url: "https://x", token: nil, certificate: "PEM", caFile: "/ca.pem").trust == .caFile("/ca.pem"))
    }

    @Test("pooled URLs ask for sslmode=require; other URLs are unchanged")
    func sslModeInURLs() {
        var info = ConnectionInfo(host: "db.example", port: 6432, user: "app", database: "app", password: "p w")
        #expect(info.url == "postgres://app:p%20w@db.example:6432/app")
        info.sslMode = "require"
        #expect(info.url == "postgres://app:p%20w@db.example:6432/app?sslmode=require")
        #expect(info.conninfo.hasSuffix("sslmode='require'"))
        #expect(info.redactedURL.hasSuffix("@db.example:6432/app?sslmode=require") && !info.redactedURL.contains("p%20w"))
    }

    @Test("with a certificate the pooler requires TLS from TCP clients; without, it says nothing of TLS")
    func poolerConfig() async {
        let layout = PoolLayout(root: "/pool")
        let plain = Pooler(layout: layout, port: 6432, listenAddress: "*", adminPassword: "secret", logger: Logger(label: "test"))
        #expect(!(await plain.renderConfig(entries: [])).contains("client_tls"))
        let secured = Pooler(
            layout: layout, port: 6432, listenAddress: "*", adminPassword: "secret", logger: Logger(label: "test"),
            tls: PoolerTLS(certificatePEM: "CERT", keyPEM: "KEY"))
        let text = await secured.renderConfig(entries: [])
        #expect(text.contains("client_tls_sslmode = require\n"))
        #expect(text.contains("client_tls_cert_file = /pool/run/pgbouncer/tls-cert.pem\n"))
        #expect(text.contains("client_tls_key_file = /pool/run/pgbouncer/tls-key.pem\n"))
        // The key itself is never in the configuration.
        #expect(!text.contains("KEY"))
    }
}

@Suite("TLS: the service's certificate")
struct ServiceCertificateTests {
    func withDirectory<T>(_ body: (String) throws -> T) throws -> T {
        let directory = NSTemporaryDirectory() + "branch-tls-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        return try body(directory)
    }

    static func mode(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int ?? 0) & 0o777
    }

    @Test("beside the master key: /etc/branch/tls by default, the test's own directory in tests")
    func directory() {
        #expect(ServiceCertificate.directory(besideMasterKey: "/etc/branch/master.key") == "/etc/branch/tls")
        #expect(ServiceCertificate.directory(besideMasterKey: "/tmp/x/master.key") == "/tmp/x/tls")
    }

    @Test("made once (key 0600, certificate 0644), then reused; a new public host makes a new one")
    func selfSigned() throws {
        try withDirectory { directory in
            let hosts = ServiceCertificate.hosts(publicHost: "db.example.com")
            #expect(Array(hosts.prefix(4)) == ["db.example.com", "localhost", "127.0.0.1", "::1"])
            let made = try ServiceCertificate.selfSigned(in: directory, hosts: hosts)
            #expect(made.origin == .generated)
            #expect(Self.mode(made.keyPath) == 0o600)
            #expect(Self.mode(made.certificatePath) == 0o644)
            #expect(made.certificatePEM.hasPrefix("-----BEGIN CERTIFICATE-----"))
            #expect(CertificateFingerprint.normalized(made.fingerprint) == made.fingerprint)
            // About two years.
            let days = made.notValidAfter.timeIntervalSinceNow / 86_400
            #expect(days > 700 && days < 740)
            let leaf = try ServiceCertificate.parseLeaf(made.certificatePEM, path: made.certificatePath)
            #expect(Set(hosts).isSubset(of: ServiceCertificate.names(of: leaf.certificate)))

            let again = try ServiceCertificate.selfSigned(in: directory, hosts: hosts)
            #expect(again.origin == .selfSigned && again.fingerprint == made.fingerprint)

            let moved = try ServiceCertificate.selfSigned(in: directory, hosts: ServiceCertificate.hosts(publicHost: "203.0.113.7"))
            #expect(moved.origin == .generated && moved.fingerprint != made.fingerprint)

            // The owner's files are checked to belong together.
            let owner = try ServiceCertificate.owner(certificate: moved.certificatePath, key: moved.keyPath)
            #expect(owner.origin == .owner && owner.fingerprint == moved.fingerprint)
        }
    }

    @Test("an owner's key that does not match the certificate, or files that are not PEM, are refused at start")
    func ownerRefused() throws {
        try withDirectory { directory in
            let first = try ServiceCertificate.selfSigned(in: directory + "/a", hosts: ["a.example"])
            let second = try ServiceCertificate.selfSigned(in: directory + "/b", hosts: ["b.example"])
            let mismatch = #expect(throws: TLSSetupError.self) {
                try ServiceCertificate.owner(certificate: first.certificatePath, key: second.keyPath)
            }
            #expect(mismatch?.code == .tlsCertificateInvalid)
            #expect(mismatch?.message.contains("does not belong") == true)
            try Files.writeAtomically("not a certificate\n", to: directory + "/junk.pem")
            #expect(throws: TLSSetupError.self) { try ServiceCertificate.owner(certificate: directory + "/junk.pem", key: first.keyPath) }
            #expect(throws: TLSSetupError.self) { try ServiceCertificate.owner(certificate: first.certificatePath, key: directory + "/junk.pem") }
            #expect(throws: TLSSetupError.self) { try ServiceCertificate.owner(certificate: directory + "/missing.pem", key: first.keyPath) }
        }
    }

    @Test("with TLS every answer carries Strict-Transport-Security, errors too; without TLS none does")
    func hsts() async throws {
        let certificate = try withDirectory { directory in try ServiceCertificate.selfSigned(in: directory, hosts: ["localhost"]) }
        let secured = Application(
            router: try APIServer.router(api: ProjectsStub(), adminKey: "bk_test", transport: ServiceTransport(certificate: certificate)))
        try await secured.test(.router) { client in
            for path in ["/api/v1/health", "/api/v1/projects/demo", "/nowhere"] {
                try await client.execute(uri: path, method: .get) { response in
                    #expect(response.headers[.strictTransportSecurity] == "max-age=31536000", "\(path): \(response.status)")
                }
            }
        }
        let plain = Application(router: try APIServer.router(api: ProjectsStub(), adminKey: "bk_test"))
        try await plain.test(.router) { client in
            try await client.execute(uri: "/api/v1/health", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.strictTransportSecurity] == nil)
            }
        }
    }
}
