package import BranchCore
import BranchSystem
import Crypto
package import Foundation
import SwiftASN1
import X509

#if canImport(Glibc)
import Glibc
#endif

/// The certificate and key the service presents on its HTTPS port and on the pooled Postgres
/// endpoint: the owner's (`--tls-cert`, `--tls-key`), or a self-signed pair made at the first
/// start and kept beside the master key (`/etc/branch/tls/cert.pem` 0644, `key.pem` 0600),
/// outside the pool, so a copy of the pool does not carry the key.
package struct ServiceCertificate: Sendable {
    /// The certificate chain, leaf first (PEM).
    package let certificatePath: String
    /// The private key (PEM).
    package let keyPath: String
    package let certificatePEM: String
    package let keyPEM: String
    /// SHA-256 of the leaf certificate's DER bytes, `AB:01:…` (what `branch login` pins).
    package let fingerprint: String
    /// The leaf's last valid day.
    package let notValidAfter: Date
    /// Which: `owner` (given files), `generated` (made at this start) or `self-signed` (made before).
    package let origin: Origin

    package enum Origin: String, Sendable { case owner, generated, selfSigned = "self-signed" }

    /// Where the self-signed pair is kept: a `tls` directory beside the master key file, so a
    /// service given `--master-key-file /x/master.key` keeps everything in /x.
    package static func directory(besideMasterKey masterKeyFile: String) -> String {
        let parent = (masterKeyFile as NSString).deletingLastPathComponent
        return (parent.isEmpty ? "." : parent) + "/tls"
    }

    /// The owner's certificate chain and key, checked to parse and to belong together.
    package static func owner(certificate certificatePath: String, key keyPath: String) throws(TLSSetupError) -> ServiceCertificate {
        guard let certificatePEM = Files.read(certificatePath) else {
            throw TLSSetupError("Cannot read the certificate file \(certificatePath).", hint: "Give a readable PEM file to --tls-cert.")
        }
        guard let keyPEM = Files.read(keyPath) else {
            throw TLSSetupError("Cannot read the key file \(keyPath).", hint: "Give a readable PEM file to --tls-key.")
        }
        let leaf = try parseLeaf(certificatePEM, path: certificatePath)
        let key: Certificate.PrivateKey
        do {
            key = try Certificate.PrivateKey(pemEncoded: keyPEM)
        } catch {
            throw TLSSetupError(
                "The key file \(keyPath) is not a PEM private key this service reads (\(error)).",
                hint: "Use an unencrypted PKCS#8, SEC1 (EC) or PKCS#1 (RSA) key in PEM.")
        }
        guard key.publicKey == leaf.certificate.publicKey else {
            throw TLSSetupError(
                "The key in \(keyPath) does not belong to the certificate in \(certificatePath).",
                hint: "Give the key the certificate was issued for; the certificate file starts with the server's own certificate.")
        }
        return ServiceCertificate(
            certificatePath: certificatePath, keyPath: keyPath, certificatePEM: certificatePEM, keyPEM: keyPEM,
            fingerprint: leaf.fingerprint, notValidAfter: leaf.certificate.notValidAfter, origin: .owner)
    }

    /// The self-signed pair in `directory`, made (or made again) when missing, expiring within
    /// 30 days, or not naming `hosts` — the hosts clients use (the public host among them).
    package static func selfSigned(in directory: String, hosts: [String], now: Date = Date()) throws(TLSSetupError) -> ServiceCertificate {
        let certificatePath = "\(directory)/cert.pem"
        let keyPath = "\(directory)/key.pem"
        if let certificatePEM = Files.read(certificatePath), let keyPEM = Files.read(keyPath),
            let leaf = try? parseLeaf(certificatePEM, path: certificatePath),
            leaf.certificate.notValidAfter > now.addingTimeInterval(30 * 86_400),
            Set(hosts).isSubset(of: names(of: leaf.certificate))
        {
            return ServiceCertificate(
                certificatePath: certificatePath, keyPath: keyPath, certificatePEM: certificatePEM, keyPEM: keyPEM,
                fingerprint: leaf.fingerprint, notValidAfter: leaf.certificate.notValidAfter, origin: .selfSigned)
        }
        let made = try generate(hosts: hosts, now: now)
        do {
            try Files.ensureDirectory(directory, mode: 0o755)
            // The key first: a certificate never sits beside a key it does not belong to for long.
            try Files.writeAtomically(made.keyPEM, to: keyPath, mode: 0o600)
            try Files.writeAtomically(made.certificatePEM, to: certificatePath, mode: 0o644)
        } catch {
            throw TLSSetupError(
                "Cannot write the service's certificate to \(directory): \(error).",
                hint: "The directory is beside --master-key-file; the service runs as root and must write there.")
        }
        let leaf = try parseLeaf(made.certificatePEM, path: certificatePath)
        return ServiceCertificate(
            certificatePath: certificatePath, keyPath: keyPath, certificatePEM: made.certificatePEM, keyPEM: made.keyPEM,
            fingerprint: leaf.fingerprint, notValidAfter: leaf.certificate.notValidAfter, origin: .generated)
    }

    /// The names a self-signed certificate must carry: `publicHost`, localhost, 127.0.0.1, ::1
    /// and this machine's host name.
    package static func hosts(publicHost: String) -> [String] {
        var hosts = [publicHost, "localhost", "127.0.0.1", "::1"]
        var buffer = [CChar](repeating: 0, count: 256)
        if gethostname(&buffer, buffer.count - 1) == 0 {
            let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if !name.isEmpty { hosts.append(name) }
        }
        var seen = Set<String>()
        return hosts.map { $0.lowercased() }.filter { !$0.isEmpty && seen.insert($0).inserted }
    }

    /// A new ECDSA P-256 key and a self-signed certificate for `hosts`, valid for two years.
    static func generate(hosts: [String], now: Date) throws(TLSSetupError) -> (certificatePEM: String, keyPEM: String) {
        do {
            let key = P256.Signing.PrivateKey()
            let privateKey = Certificate.PrivateKey(key)
            let name = try DistinguishedName {
                CommonName(hosts.first ?? "branch")
                OrganizationName("Branch (self-signed)")
            }
            let keyIdentifier = Array(Insecure.SHA1.hash(data: key.publicKey.x963Representation))
            // Shaped like `openssl req -x509`: its own trust anchor (CA, may sign certificates), so
            // OpenSSL, BoringSSL and libpq accept it as the root a client pins or points at.
            let extensions = try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(digitalSignature: true, keyCertSign: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectKeyIdentifier(keyIdentifier: keyIdentifier[...])
                SubjectAlternativeNames(hosts.map(generalName))
            }
            let certificate = try Certificate(
                version: .v3,
                serialNumber: Certificate.SerialNumber(),
                publicKey: privateKey.publicKey,
                notValidBefore: now.addingTimeInterval(-3600),
                notValidAfter: now.addingTimeInterval(2 * 365 * 86_400),
                issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256, extensions: extensions,
                issuerPrivateKey: privateKey)
            return (try certificate.serializeAsPEM().pemString + "\n", key.pemRepresentation + "\n")
        } catch {
            throw TLSSetupError("Cannot make the service's self-signed certificate: \(error).")
        }
    }

    /// An IP address as an `iPAddress` name, anything else as a `dNSName`.
    static func generalName(_ host: String) -> GeneralName {
        if let bytes = IPAddressBytes.parse(host) { return .ipAddress(ASN1OctetString(contentBytes: bytes[...])) }
        return .dnsName(host)
    }

    /// The DNS names and IP addresses (as text) a certificate is valid for.
    static func names(of certificate: Certificate) -> Set<String> {
        var names = Set<String>()
        for name in (try? certificate.extensions.subjectAlternativeNames) ?? nil ?? SubjectAlternativeNames() {
            switch name {
            case .dnsName(let dns): names.insert(dns.lowercased())
            case .ipAddress(let octets): if let text = IPAddressBytes.format(Array(octets.bytes)) { names.insert(text) }
            default: break
            }
        }
        return names
    }

    /// The first certificate of a PEM chain and its fingerprint.
    static func parseLeaf(_ pem: String, path: String) throws(TLSSetupError) -> (certificate: Certificate, fingerprint: String) {
        do {
            guard let first = try PEMDocument.parseMultiple(pemString: pem).first(where: { $0.discriminator == "CERTIFICATE" }) else {
                throw TLSSetupError("The file \(path) holds no PEM certificate.", hint: "Give a PEM file starting with -----BEGIN CERTIFICATE-----.")
            }
            return (try Certificate(derEncoded: first.derBytes), fingerprint(der: first.derBytes))
        } catch let error as TLSSetupError {
            throw error
        } catch {
            throw TLSSetupError("The file \(path) is not a PEM certificate this service reads (\(error)).", hint: "Give a PEM X.509 certificate.")
        }
    }

    /// SHA-256 of `der`, `AB:01:…`.
    package static func fingerprint(der: [UInt8]) -> String { CertificateFingerprint.format(SHA256.hash(data: der)) }
}

/// The service cannot use the certificate or key it was given, or cannot make its own.
package struct TLSSetupError: ReportableError {
    package let message: String
    package let hint: String?
    package var code: ErrorCode { .tlsCertificateInvalid }

    init(_ message: String, hint: String? = nil) {
        self.message = message
        self.hint = hint
    }
}

/// IPv4 and IPv6 addresses as the bytes a certificate holds, with inet_pton and inet_ntop.
enum IPAddressBytes {
    static func parse(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    static func format(_ bytes: [UInt8]) -> String? {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let ok = bytes.withUnsafeBytes { raw in inet_ntop(bytes.count == 4 ? AF_INET : AF_INET6, raw.baseAddress, &buffer, socklen_t(buffer.count)) != nil }
        guard ok else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
