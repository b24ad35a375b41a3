import AsyncHTTPClient
import BranchCore
import BranchSystem
import Foundation
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// What `branch login` does about an `https` service's certificate, before any secret is sent:
/// - `BRANCH_CA_FILE` set: nothing to pin, later calls verify against that CA;
/// - `--fingerprint`: the presented certificate must have it, and is pinned;
/// - `--trust`: the presented certificate is pinned as it is;
/// - one the system's authorities vouch for (Let's Encrypt behind a proxy): nothing to pin;
/// - on the server, the pool's own certificate (/etc/branch/tls/cert.pem): pinned;
/// - else, on a terminal, the user is shown the fingerprint and asked; without one it is an error
///   saying what to pass.
struct CertificatePinning {
    let url: String
    let fingerprint: String?
    let trustPresented: Bool
    let json: Bool

    struct Pin {
        let certificatePEM: String
        let fingerprint: String
    }

    func decide() async throws -> Pin? {
        guard let components = URLComponents(string: url), components.scheme == "https", let host = components.host else {
            if fingerprint != nil || trustPresented {
                throw CLIError(
                    code: "invalid_request", message: "--fingerprint and --trust are for https URLs; \(url) is not one.",
                    hint: "A service with TLS on answers at https://HOST:8420.")
            }
            return nil
        }
        let environment = ProcessInfo.processInfo.environment
        if let caFile = environment["BRANCH_CA_FILE"], !caFile.isEmpty { return nil }
        let port = components.port ?? 443
        let presented: Pin
        do {
            let certificate = try await CertificateProbe.presented(host: host, port: port)
            presented = Pin(certificatePEM: try CertificateText.pem(certificate), fingerprint: CertificateText.fingerprint(certificate))
        } catch let error as CLIError {
            throw error
        } catch {
            throw CLIError(
                code: "service_unreachable", message: "Cannot reach the Branch service at \(url) over TLS: \(error).",
                hint: "Is `branch serve` running there with TLS on? A service with --tls off answers at http:// on its own machine only.")
        }
        if let fingerprint {
            guard let expected = CertificateFingerprint.normalized(fingerprint) else {
                throw CLIError(
                    code: "invalid_request", message: "--fingerprint: '\(fingerprint)' is not a SHA-256 fingerprint.",
                    hint: "Give the 32 bytes in hex as `branch serve` prints them (AB:01:…), colons optional.")
            }
            guard expected == presented.fingerprint else {
                throw CLIError(
                    code: "certificate_mismatch",
                    message: "The service at \(url) presented a certificate with SHA-256 fingerprint \(presented.fingerprint), not \(expected). Nothing was sent.",
                    hint: "Check the fingerprint `branch serve` printed at start on the server (also in GET /api/v1/health there). If they differ, someone may be intercepting the connection.")
            }
            return presented
        }
        if trustPresented { return presented }
        if await Self.verifiesWithSystemAuthorities(url) { return nil }
        if let local = Files.read(ServiceTrust.localCertificateFile), (try? CertificateText.fingerprint(pem: local)) == presented.fingerprint {
            return presented
        }
        if isatty(STDIN_FILENO) != 0 {
            let question = """
                The service at \(url) presents a certificate no authority on this machine vouches for.
                Its SHA-256 fingerprint is
                  \(presented.fingerprint)
                Compare it with the one `branch serve` printed at start. Trust and pin it? [y/N] 
                """
            FileHandle.standardError.write(Data(question.utf8))
            let answer = readLine()?.trimmingCharacters(in: .whitespaces).lowercased()
            if answer == "y" || answer == "yes" { return presented }
            throw CLIError(code: "certificate_untrusted", message: "Not logged in: the certificate was not accepted.")
        }
        throw CLIError(
            code: "certificate_untrusted",
            message: "The service at \(url) presents a certificate no authority on this machine vouches for (SHA-256 \(presented.fingerprint)).",
            hint: "Compare that fingerprint with the one `branch serve` printed at start, then run `branch login \(url) --fingerprint \(presented.fingerprint) …`; or pass --trust, or set BRANCH_CA_FILE to the CA that signed it.")
    }

    /// Whether `url` answers with a certificate the system's authorities vouch for.
    static func verifiesWithSystemAuthorities(_ url: String) async -> Bool {
        guard let client = try? ServiceTrust.system.httpClient() else { return false }
        let request = HTTPClientRequest(url: url + "/api/v1/health")
        return (try? await client.execute(request, timeout: .seconds(10))) != nil
    }
}
