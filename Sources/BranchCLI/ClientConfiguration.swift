import BranchCore
import BranchSystem
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Where the CLI finds the service, its key and which certificate to accept: `BRANCH_URL`/
/// `BRANCH_TOKEN`, else the file `branch login` writes (~/.config/branch/config.json, mode 0600),
/// else the local default service with the key read from the default pool (works as root on the
/// server itself): `https://127.0.0.1:8420` trusting the pool's own certificate when
/// /etc/branch/tls/cert.pem exists, else `http://127.0.0.1:8420`.
struct ClientConfiguration: Codable, Equatable {
    static let defaultHTTPURL = "http://127.0.0.1:8420"
    static let defaultHTTPSURL = "https://127.0.0.1:8420"
    static let defaultKeyFile = "/var/lib/branch/admin.key"

    var url: String
    var token: String?
    /// The certificate (PEM) `branch login` pinned for `url`, and its SHA-256 fingerprint.
    var certificate: String?
    var fingerprint: String?
    /// `BRANCH_CA_FILE`: verify against this CA instead (never stored).
    var caFile: String?

    enum CodingKeys: String, CodingKey { case url, token, certificate, fingerprint }

    init(url: String, token: String?, certificate: String? = nil, fingerprint: String? = nil, caFile: String? = nil) {
        self.url = url
        self.token = token
        self.certificate = certificate
        self.fingerprint = fingerprint
        self.caFile = caFile
    }

    /// Which certificate an `https` service must present.
    var trust: ServiceTrust {
        if let caFile { return .caFile(caFile) }
        if let certificate { return .pinned(certificatePEM: certificate) }
        return .system
    }

    static var configPath: String {
        let environment = ProcessInfo.processInfo.environment.filter { !$0.value.isEmpty }
        let base = environment["XDG_CONFIG_HOME"] ?? "\(environment["HOME"] ?? NSHomeDirectory())/.config"
        return "\(base)/branch/config.json"
    }

    static func load() -> ClientConfiguration {
        // An empty variable counts as unset, as in most shells' tools.
        let environment = ProcessInfo.processInfo.environment.filter { !$0.value.isEmpty }
        let stored = Files.read(configPath).flatMap { try? JSONDecoder().decode(ClientConfiguration.self, from: Data($0.utf8)) }
        let localCertificate = Files.read(ServiceTrust.localCertificateFile)
        let url = normalized(environment["BRANCH_URL"] ?? stored?.url ?? (localCertificate == nil ? defaultHTTPURL : defaultHTTPSURL))
        // A stored key and pin go only to the server they were stored for.
        let forStored = stored.map { normalized($0.url) } == url
        var token = environment["BRANCH_TOKEN"] ?? (forStored ? stored?.token : nil)
        if token == nil, url == defaultHTTPURL || url == defaultHTTPSURL {
            token = Files.read(defaultKeyFile)?.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        var configuration = ClientConfiguration(url: url, token: token, caFile: environment["BRANCH_CA_FILE"])
        if forStored, let certificate = stored?.certificate {
            configuration.certificate = certificate
            configuration.fingerprint = stored?.fingerprint
        } else if let localCertificate, isLocalHTTPS(url) {
            // On the server: the pool's own certificate, read from where `branch serve` keeps it.
            configuration.certificate = localCertificate
            configuration.fingerprint = try? CertificateText.fingerprint(pem: localCertificate)
        }
        return configuration
    }

    /// `https` to this machine (127.0.0.1, ::1, localhost).
    static func isLocalHTTPS(_ url: String) -> Bool {
        guard let components = URLComponents(string: url), components.scheme == "https", let host = components.host else { return false }
        return LoopbackHost.contains(host)
    }

    static func normalized(_ url: String) -> String {
        var url = url
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }

    func save() throws {
        let directory = (Self.configPath as NSString).deletingLastPathComponent
        try Files.ensureDirectory(directory, mode: 0o700)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try Files.writeAtomically(String(decoding: try encoder.encode(self), as: UTF8.self) + "\n", to: Self.configPath, mode: 0o600)
    }
}

/// The `.branch` file `branch link` writes: it names the project for commands run in this folder
/// or below it.
struct ProjectLink: Codable, Equatable {
    static let fileName = ".branch"
    var project: String

    /// The nearest `.branch` file from `directory` upwards.
    static func find(from directory: String = FileManager.default.currentDirectoryPath) -> (link: ProjectLink, path: String)? {
        var current = URL(fileURLWithPath: directory).standardized
        while true {
            let path = current.appendingPathComponent(fileName).path
            if let text = Files.read(path), let link = try? JSONDecoder().decode(ProjectLink.self, from: Data(text.utf8)) {
                return (link, path)
            }
            let parent = current.deletingLastPathComponent()
            if parent.path == current.path { return nil }
            current = parent
        }
    }

    func write(in directory: String) throws -> String {
        let path = "\(directory)/\(Self.fileName)"
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try Files.writeAtomically(String(decoding: try encoder.encode(self), as: UTF8.self) + "\n", to: path, mode: 0o644)
        return path
    }
}
