import BranchCore
import BranchSystem
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Where the CLI finds the service and its key: `BRANCH_URL`/`BRANCH_TOKEN`, else the file
/// `branch login` writes (~/.config/branch/config.json, mode 0600), else the local default
/// service with the key read from the default pool (works as root on the server itself).
struct ClientConfiguration: Codable, Equatable {
    static let defaultURL = "http://127.0.0.1:8420"
    static let defaultKeyFile = "/var/lib/branch/admin.key"

    var url: String
    var token: String?

    static var configPath: String {
        let environment = ProcessInfo.processInfo.environment.filter { !$0.value.isEmpty }
        let base = environment["XDG_CONFIG_HOME"] ?? "\(environment["HOME"] ?? NSHomeDirectory())/.config"
        return "\(base)/branch/config.json"
    }

    static func load() -> ClientConfiguration {
        // An empty variable counts as unset, as in most shells' tools.
        let environment = ProcessInfo.processInfo.environment.filter { !$0.value.isEmpty }
        let stored = Files.read(configPath).flatMap { try? JSONDecoder().decode(ClientConfiguration.self, from: Data($0.utf8)) }
        let url = normalized(environment["BRANCH_URL"] ?? stored?.url ?? defaultURL)
        // A stored key goes only to the server it was stored for.
        var token = environment["BRANCH_TOKEN"] ?? (stored.map { normalized($0.url) } == url ? stored?.token : nil)
        if token == nil, url == defaultURL {
            token = Files.read(defaultKeyFile)?.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return ClientConfiguration(url: url, token: token)
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
