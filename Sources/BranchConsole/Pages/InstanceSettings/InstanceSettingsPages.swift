import BranchAPI
import Crypto
import Foundation
import Hummingbird

/// `/settings` (the instance admin only; anyone else gets a 404): console users and roles, API
/// tokens, the instance's alert channels, the version and upgrades, and the backup key's status.
/// Generated passwords and new tokens are shown once, on the page that answers the form.
struct InstanceSettingsPages: Sendable {
    let environment: ConsoleEnvironment

    struct User: Sendable {
        var email: String
        var admin: Bool
        var created: String
        var projects: String
        var isSelf: Bool
    }

    struct Token: Sendable {
        var id: String
        var name: String
        var user: String
        var scope: String
        var created: String
        var lastUsed: String
        var expires: String
        var revoked: Bool
    }

    struct Model: Sendable {
        var users: [User]
        var tokens: [Token]
        var channels: [ProjectSettingsModel.Channel]
        var noChannels: Bool
        var alertsBase: String
        var version: String
        var binary: String
        var previousVersion: String?
        var lastUpgrade: String?
        var backupKeyID: String
        var backupKeyLocation: String
        var backupKeyAcknowledged: String?
        var backupKeyWarning: String?
        var retiredKeys: [RetiredKey]
        var hasRetiredKeys: Bool
        var pool: PoolCard
        var cli: CLI
    }

    struct RetiredKey: Sendable {
        var id: String
        var retired: String
        var backups: Int
    }

    struct CLI: Sendable {
        var createUser = "branch user create EMAIL"
        var deleteUser = "branch user delete EMAIL"
        var passwd = "branch user passwd EMAIL"
        var createToken = "branch token create --name NAME --project PROJECT --role viewer --expires 30d"
        var revokeToken = "branch token revoke ID"
        var alerts = SettingsCLI.alerts(nil)
        var test = SettingsCLI.testAlerts(nil)
        var upgrade = "branch upgrade --from URL"
        var acknowledge = "branch backup key acknowledge"
        var reveal = "branch backup key show"
        var rotate = "branch backup key rotate"
    }

    /// The answer to a form that made a secret: shown this once.
    struct Secret: Sendable {
        var title: String
        var what: String
        var label: String
        var secret: String
        var cli: String
        var back = "/settings"
        var backLabel = "Back to instance settings"
    }

    func register<Context: RequestContext>(on pages: RouterGroup<Context>) {
        pages.get("/settings") { _, _ -> Response in try await page() }
        pages.post("/settings/users") { request, _ -> Response in
            try Self.requireAdmin()
            let form = try await environment.form(request)
            let email = form.text("email") ?? ""
            do {
                let created = try await environment.call("createUser", changes: true, target: email) {
                    try await $0.createUser(.init(body: .json(.init(admin: form["admin"] == "on", email: email)))).created.body.json
                }
                return try await secret(.init(
                    title: "User \(created.user.email) created", what: "Give them this password; it is shown this once. They can change it with branch user passwd.",
                    label: "Password", secret: created.password ?? "", cli: "branch user create \(email)"))
            } catch let failure as ConsoleFailure where failure.status == 400 || failure.status == 409 {
                return environment.redirect("/settings#users", flash: "\(failure.message) (\(failure.code))", error: true)
            }
        }
        pages.post("/settings/users/delete") { request, _ -> Response in
            try Self.requireAdmin()
            let email = try await environment.form(request).text("email") ?? ""
            _ = try await environment.call("deleteUser", changes: true, target: email) { try await $0.deleteUser(.init(path: .init(email: email))).ok.body.json }
            return environment.redirect("/settings#users", flash: "\(email) is deleted; their sessions and tokens no longer work.")
        }
        pages.post("/settings/users/password") { request, _ -> Response in
            try Self.requireAdmin()
            let email = try await environment.form(request).text("email") ?? ""
            let password = Self.generatedPassword()
            _ = try await environment.call("setPassword", changes: true, target: email) {
                try await $0.setPassword(.init(path: .init(email: email), body: .json(.init(password: password)))).ok.body.json
            }
            return try await secret(.init(
                title: "New password for \(email)", what: "Their old password no longer works. This one is shown once.", label: "Password",
                secret: password, cli: "branch user passwd \(email)"))
        }
        pages.post("/settings/tokens") { request, _ -> Response in
            try Self.requireAdmin()
            let form = try await environment.form(request)
            let days = Int(form.text("expires_days") ?? "")
            let role = form.text("project") == nil ? nil : Components.Schemas.CreateTokenRequest.RolePayload(rawValue: form["role"] ?? "") ?? .viewer
            do {
                let created = try await environment.call("createToken", changes: true) {
                    try await $0.createToken(.init(body: .json(.init(
                        expiresInSeconds: days.map { $0 * 86400 }, name: form.text("name"), project: form.text("project"), role: role)))).created.body.json
                }
                return try await secret(.init(
                    title: "Token \(created.info.name) created", what: "Copy it now: only its SHA-256 is kept, so it is shown this once.",
                    label: "Token", secret: created.token, cli: "branch token create --name \(created.info.name)"))
            } catch let failure as ConsoleFailure where failure.status == 400 || failure.status == 404 {
                return environment.redirect("/settings#tokens", flash: "\(failure.message) (\(failure.code))", error: true)
            }
        }
        pages.post("/settings/tokens/revoke") { request, _ -> Response in
            try Self.requireAdmin()
            let id = try await environment.form(request).text("id") ?? ""
            _ = try await environment.call("revokeToken", changes: true, target: id) { try await $0.revokeToken(.init(path: .init(token: id))).ok.body.json }
            return environment.redirect("/settings#tokens", flash: "Token \(id) is revoked.")
        }
        pages.post("/settings/upgrade") { request, _ -> Response in
            try Self.requireAdmin()
            guard let from = try await environment.form(request).text("from") else {
                return environment.redirect("/settings#version", flash: "Give the release's URL or path to upgrade.", error: true)
            }
            do {
                _ = try await environment.call("upgrade", changes: true, target: from) { try await $0.upgrade(.init(body: .json(.init(from: from)))).accepted.body.json }
                return environment.redirect("/settings#version", flash: "The upgrade started; the service restarts and the watchdog decides.")
            } catch let failure as ConsoleFailure where failure.status < 500 {
                return environment.redirect("/settings#version", flash: "\(failure.message) (\(failure.code))", error: true)
            }
        }
        pages.post("/settings/backup-key/reveal") { request, _ -> Response in
            try Self.requireAdmin()
            return try await revealBackupKey(password: try await environment.form(request)["password"] ?? "")
        }
        pages.post("/settings/backup-key/rotate") { request, _ -> Response in
            try Self.requireAdmin()
            return try await rotateBackupKey(password: try await environment.form(request)["password"] ?? "")
        }
        pages.post("/settings/backup-key/acknowledge") { _, _ -> Response in
            try Self.requireAdmin()
            _ = try await environment.call("acknowledgeBackupKey", changes: true) { try await $0.acknowledgeBackupKey(.init()).ok.body.json }
            return environment.redirect("/settings#backup-key", flash: "Recorded: the backup key's copy is kept off the server.")
        }
    }

    /// The backup key itself, so it can be copied off the server without SSH: only after the
    /// admin's password (checked under the sign-in limits, so a stolen session cookie alone does
    /// not reveal it), shown this once on a page that is not cached, and audited (`revealBackupKey`).
    func revealBackupKey(password: String) async throws -> Response {
        if let refused = try await environment.refusedPassword(password, back: "/settings#backup-key", wrong: "That is not your password: the key was not shown.") {
            return refused
        }
        let key = try await environment.call("revealBackupKey", changes: true) { try await $0.revealBackupKey(.init()).ok.body.json }
        return try await secret(.init(
            title: "Backup key \(key.id)",
            what: "Every backup is encrypted with this key, and only this key restores them. Keep a copy off this server (a password manager), "
                + "then acknowledge it on the settings page. It is in the file \(key.location) on the server; showing it was recorded in the audit log.",
            label: "Backup key (base64)", secret: key.key, cli: "branch backup key show", back: "/settings#backup-key"))
    }

    /// A new backup key, behind the admin's password like `revealBackupKey`, shown this once; the
    /// old key stays (sealed in the catalog) to read the backups made with it.
    func rotateBackupKey(password: String) async throws -> Response {
        if let refused = try await environment.refusedPassword(password, back: "/settings#backup-key", wrong: "That is not your password: the key was not rotated.") {
            return refused
        }
        let key: Components.Schemas.BackupKeyReveal
        do {
            key = try await environment.call("rotateBackupKey", changes: true) { try await $0.rotateBackupKey(.init()).ok.body.json }
        } catch let failure as ConsoleFailure where failure.status < 500 {
            return environment.redirect("/settings#backup-key", flash: "\(failure.message) \(failure.hint ?? "")", error: true)
        }
        return try await secret(.init(
            title: "New backup key \(key.id)",
            what: "Backups from now on are encrypted with this key; key \(key.retiredID ?? "?") is retired and still restores the backups made with it. "
                + "Keep a copy of this key off this server (a password manager), then acknowledge it on the settings page. "
                + "It replaced the file \(key.location) on the server; the rotation was recorded in the audit log.",
            label: "New backup key (base64)", secret: key.key, cli: "branch backup key rotate", back: "/settings#backup-key"))
    }

    /// Anyone but the instance admin is answered as if the page did not exist.
    static func requireAdmin() throws {
        guard try ConsoleSession.required().viewer.isInstanceAdmin else { throw ConsoleFailure.notFound("The page") }
    }

    /// 20 characters from a 57-letter alphabet without look-alikes: about 116 bits.
    static func generatedPassword() -> String {
        let alphabet = Array("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<20).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }

    static func scope(project: String?, role: String?) -> String {
        guard let project else { return "instance (as far as the user's roles go)" }
        return "\(project) as \(role ?? "viewer")"
    }

    func secret(_ model: Secret, instance: InstanceSection = .settings) async throws -> Response {
        try await environment.page("instance-secret", title: model.title, instance: instance, cli: model.cli, status: .created, body: model)
    }

    func page() async throws -> Response {
        try Self.requireAdmin()
        let me = try ConsoleSession.required().viewer.email
        async let users = environment.call("listUsers") { try await $0.listUsers(.init()).ok.body.json.users }
        async let tokens = environment.call("listTokens") { try await $0.listTokens(.init()).ok.body.json.tokens }
        async let alerts = environment.call("getAlerts") { try await $0.getAlerts(.init()).ok.body.json.channels }
        async let version = environment.call("getVersion") { try await $0.getVersion(.init()).ok.body.json }
        async let status = environment.call("getStatus") { try await $0.getStatus(.init()).ok.body.json }
        let channels = try await alerts.map {
            ProjectSettingsModel.Channel(kind: $0.kind.rawValue, target: $0.target, includeSuccess: $0.includeSuccess, created: Formatting.utc($0.createdAt),
                                         removeCLI: SettingsCLI.removeAlert(nil, kind: $0.kind.rawValue))
        }
        let running = try await version
        let service = try await status
        let key = service.backupKey
        let retired = (key?.retired ?? []).reversed().map { RetiredKey(id: $0.id, retired: Formatting.utc($0.retiredAt), backups: $0.backups) }
        let model = Model(
            users: try await users.map {
                .init(email: $0.email, admin: $0.admin, created: Formatting.utc($0.createdAt),
                      projects: $0.projects.map { "\($0.project) (\($0.role.rawValue))" }.joined(separator: ", "), isSelf: $0.email == me)
            },
            tokens: try await tokens.map {
                .init(id: $0.id, name: $0.name, user: $0.user, scope: Self.scope(project: $0.project, role: $0.role?.rawValue),
                      created: Formatting.utc($0.createdAt), lastUsed: $0.lastUsedAt.map { Formatting.age($0) } ?? "never",
                      expires: $0.expiresAt.map { Formatting.utc($0) } ?? "never", revoked: $0.revoked)
            },
            channels: channels, noChannels: channels.isEmpty, alertsBase: "/settings/alerts", version: running.version, binary: running.binary,
            previousVersion: running.previousVersion,
            lastUpgrade: running.lastUpgrade.map { "\($0.from) → \($0.to): \($0.phase)" },
            backupKeyID: key?.id ?? "—", backupKeyLocation: key?.location ?? "—",
            backupKeyAcknowledged: key?.acknowledgedAt.map { Formatting.utc($0) }, backupKeyWarning: key?.warning,
            retiredKeys: retired, hasRetiredKeys: !retired.isEmpty,
            pool: PoolCard(service.pool), cli: CLI())
        return try await environment.page(
            "instance-settings", title: "Instance settings", instance: .settings, cli: "branch status", body: model)
    }
}
