import BranchAPI
import Foundation

/// What `settings.mustache` shows: keys (owners only), members, limits, allowlist, scale to zero,
/// branch defaults and alert channels, each with the CLI command that does the same.
struct ProjectSettingsModel: Sendable {
    struct Key: Sendable {
        var role: String
        var masked: String
        var value: String
    }

    struct Member: Sendable {
        var email: String
        var role: String
        var isViewer: Bool
        var isDeveloper: Bool
        var isOwner: Bool
        var removeCLI: String
    }

    struct Channel: Sendable {
        var kind: String
        var target: String
        var includeSuccess: Bool
        var created: String
        var removeCLI: String
    }

    var project: String
    var base: String
    var alertsBase: String
    var role: String
    var isOwner: Bool
    var keys: [Key]
    var keysIssued: String
    var members: [Member]
    var cpus: String
    var memoryMiB: String
    var maxConnections: String
    var retentionDays: String
    var suspendAfter: String
    var suspendMainAfter: String
    var allowlist: String
    var allowlistEntries: [String]
    var allowlistOpen: Bool
    var allowlistError: String?
    var limitsError: String?
    /// Branch defaults: the time-to-live menu (the default selected; "never" when `keptByDefault`).
    var newBranchTtl: [BranchesPages.Option]
    var keptByDefault: Bool
    var protectNewBranches: Bool
    var branchDefaults: String
    var branchDefaultsError: String?
    var channels: [Channel]
    var noChannels: Bool
    var alertsError: String?
    var memberError: String?

    /// `eyJhbGciOi…Xk2c`: enough to tell keys apart, not enough to use one.
    static func mask(_ key: String) -> String {
        key.count <= 16 ? String(repeating: "•", count: key.count) : key.prefix(10) + "…" + key.suffix(4)
    }

    static func number(_ value: Double?) -> String {
        guard let value else { return "" }
        return value.rounded() == value ? String(Int(value)) : String(value)
    }
}

/// The CLI equivalent of each settings form (docs/cli.md).
enum SettingsCLI {
    static func keys(_ project: String) -> String { "branch keys --project \(project)" }
    static func rotate(_ project: String) -> String { "branch keys rotate --project \(project)" }
    static func revoke(_ project: String, role: String) -> String { "branch keys revoke \(role) --project \(project)" }
    static func allow(_ project: String, _ entries: [String]) -> String { "branch project set \(project) --allow '\(entries.joined(separator: ","))'" }
    static func member(_ project: String, email: String, role: String) -> String { "branch member add \(email) --role \(role) --project \(project)" }
    static func removeMember(_ project: String, email: String) -> String { "branch member remove \(email) --project \(project)" }
    static func limits(_ project: String) -> String { "branch project set \(project) --memory 1G --cpus 2 --max-connections 200 --retention 7" }
    static func suspend(_ project: String) -> String { "branch project set \(project) --suspend-after 15m --suspend-main-after off" }
    static func branchDefaults(_ project: String) -> String { "branch project set \(project) --new-branch-ttl 7d --protect-new-branches" }
    static func alerts(_ project: String?) -> String { "branch alerts set\(project.map { " --project \($0)" } ?? "") --webhook https://example.com/hook" }
    static func removeAlert(_ project: String?, kind: String) -> String { "branch alerts remove\(project.map { " --project \($0)" } ?? "") --\(kind)" }
    static func testAlerts(_ project: String?) -> String { "branch alerts test\(project.map { " --project \($0)" } ?? "")" }
}
