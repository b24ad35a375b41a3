import BranchAPI
import Foundation
import HTTPTypes
import Hummingbird

/// `/projects/{p}/settings`: API keys (masked, revealed and copied by owners; rotate and revoke,
/// the new keys shown once), members and roles, limits, the IP allowlist, scale to zero, branch
/// defaults and the project's alert channels. Everyone who may see the project sees its settings;
/// only owners get forms, and the gateway refuses anyone else's POST anyway.
struct ProjectSettingsPages: Sendable {
    let environment: ConsoleEnvironment

    /// Inline errors and the values a failed form keeps.
    struct Problems: Sendable {
        var allowlist: String?
        var allowlistText: String?
        var limits: String?
        var branchDefaults: String?
        var alerts: String?
        var members: String?
    }

    struct RotatedKeys: Sendable {
        var project: String
        var href: String
        var what: String
        var url: String
        var anonKey: String
        var serviceRoleKey: String
    }

    func register<Context: RequestContext>(on pages: RouterGroup<Context>) {
        pages.get("/projects/:project/settings") { _, context -> Response in
            try await settings(try Self.project(context))
        }
        pages.post("/projects/:project/settings/keys/rotate") { _, context -> Response in
            let project = try Self.project(context)
            let rotated = try await environment.call("rotateProjectKeys", project: project, changes: true, target: "\(project) keys") {
                try await $0.rotateProjectKeys(.init(path: .init(project: project))).ok.body.json
            }
            return try await keysPage(project, rotated.keys, what: "Keys rotated: a new JWT secret, so every old key and token no longer works.",
                                      cli: SettingsCLI.rotate(project))
        }
        pages.post("/projects/:project/settings/keys/revoke") { request, context -> Response in
            let project = try Self.project(context)
            let form = try await environment.form(request)
            let role: Components.Schemas.KeyRevocation.RolePayload = form["role"] == "service_role" ? .serviceRole : .anon
            let revoked = try await environment.call("revokeProjectKey", project: project, changes: true, target: "\(project) \(role.rawValue) key") {
                try await $0.revokeProjectKey(.init(path: .init(project: project), body: .json(.init(role: role)))).ok.body.json
            }
            return try await keysPage(project, revoked.keys, what: "The \(role.rawValue) key was revoked and re-issued.",
                                      cli: SettingsCLI.revoke(project, role: role.rawValue))
        }
        pages.post("/projects/:project/settings/allowlist") { request, context -> Response in
            let project = try Self.project(context)
            let form = try await environment.form(request)
            let text = form["allowlist"] ?? ""
            let entries = text.split(whereSeparator: { $0 == "," || $0.isNewline || $0 == " " }).map(String.init)
            do {
                try await update(project, .init(allowlist: entries))
                return environment.redirect(Self.href(project), flash: entries.isEmpty ? "The allowlist is cleared: every address may connect." : "Allowlist saved.")
            } catch let failure as ConsoleFailure {
                return try await settings(project, problems: .init(allowlist: "\(failure.message) (\(failure.code))", allowlistText: text),
                                          status: .init(code: failure.status))
            }
        }
        pages.post("/projects/:project/settings/limits") { request, context -> Response in
            let project = try Self.project(context)
            let form = try await environment.form(request)
            do {
                let settings = Components.Schemas.ProjectSettings(
                    cpus: try Self.double(form, "cpus"), maxConnections: try Self.int(form, "max_connections"),
                    memoryBytes: try Self.int(form, "memory_mib").map { $0 * 1 << 20 }, retentionDays: try Self.int(form, "retention_days"),
                    suspendAfterSeconds: try Self.int(form, "suspend_after"), suspendMainAfterSeconds: try Self.int(form, "suspend_main_after"))
                try await update(project, settings)
                return environment.redirect(Self.href(project), flash: "Settings saved.")
            } catch let failure as ConsoleFailure {
                return try await settings(project, problems: .init(limits: "\(failure.message) (\(failure.code))"), status: .init(code: failure.status))
            }
        }
        pages.post("/projects/:project/settings/branch-defaults") { request, context -> Response in
            let project = try Self.project(context)
            let form = try await environment.form(request)
            do {
                // "0" in the menu removes the default time to live.
                guard let ttl = form.text("new_branch_ttl").flatMap(Int.init), ttl >= 0 else {
                    throw ConsoleFailure(status: 400, code: "invalid_request", message: "Choose how long new branches are kept.")
                }
                try await update(project, .init(newBranchTtlSeconds: ttl, protectNewBranches: form["protect_new_branches"] == "on"))
                return environment.redirect(Self.href(project) + "#branch-defaults", flash: "Branch defaults saved: they apply to branches made from now on.")
            } catch let failure as ConsoleFailure {
                return try await settings(project, problems: .init(branchDefaults: "\(failure.message) (\(failure.code))"), status: .init(code: failure.status))
            }
        }
        pages.post("/projects/:project/settings/members") { request, context -> Response in
            let project = try Self.project(context)
            let form = try await environment.form(request)
            let email = form.text("email") ?? ""
            let role = Components.Schemas.MemberRequest.RolePayload(rawValue: form["role"] ?? "") ?? .viewer
            try await requireOwner(project)
            do {
                _ = try await environment.call("setMember", project: project, changes: true, target: "\(email) as \(role.rawValue)") {
                    try await $0.setMember(.init(path: .init(project: project, email: email), body: .json(.init(role: role)))).ok.body.json
                }
                return environment.redirect(Self.href(project) + "#members", flash: "\(email) is now \(role.rawValue).")
            } catch let failure as ConsoleFailure where failure.status < 500 {
                // The caller is an owner (checked above): a 404 here is an unknown user, shown beside the form.
                return try await settings(project, problems: .init(members: "\(failure.message) (\(failure.code))"), status: .init(code: failure.status))
            }
        }
        pages.post("/projects/:project/settings/members/remove") { request, context -> Response in
            let project = try Self.project(context)
            let email = try await environment.form(request).text("email") ?? ""
            _ = try await environment.call("removeMember", project: project, changes: true, target: email) {
                try await $0.removeMember(.init(path: .init(project: project, email: email))).ok.body.json
            }
            return environment.redirect(Self.href(project) + "#members", flash: "\(email) is no longer a member.")
        }
        AlertChannelForms(environment: environment).register(on: pages)
    }

    /// A 404 for a project the user may not see, a 403 for one they may see but not change.
    func requireOwner(_ project: String) async throws {
        _ = try await environment.call("getProject", project: project) { try await $0.getProject(.init(path: .init(project: project))).ok.body.json }
        guard try ConsoleSession.required().viewer.may(.owner, in: project) else {
            throw ConsoleFailure(status: 403, code: "forbidden", message: "Only the project's owners change its members.")
        }
    }

    static func project<Context: RequestContext>(_ context: Context) throws -> String {
        guard let project = context.parameters.get("project") else { throw ConsoleFailure.notFound("The project") }
        return project
    }

    static func href(_ project: String) -> String { "/projects/\(ConsolePath.segment(project))/settings" }

    /// A field's number, or nil when it is empty or unchanged from the value the form showed
    /// (`was_NAME`): only what the owner changed is sent, so defaults in effect stay defaults.
    static func int(_ form: FormFields, _ name: String) throws -> Int? {
        guard let text = form.text(name), text != form.text("was_" + name) else { return nil }
        guard let value = Int(text) else { throw ConsoleFailure(status: 400, code: "invalid_request", message: "\(name) must be a whole number.") }
        return value
    }

    static func double(_ form: FormFields, _ name: String) throws -> Double? {
        guard let text = form.text(name), text != form.text("was_" + name) else { return nil }
        guard let value = Double(text) else { throw ConsoleFailure(status: 400, code: "invalid_request", message: "\(name) must be a number.") }
        return value
    }

    func update(_ project: String, _ settings: Components.Schemas.ProjectSettings) async throws {
        _ = try await environment.call("updateProject", project: project, changes: true) {
            try await $0.updateProject(.init(path: .init(project: project), body: .json(settings))).ok.body.json
        }
    }

    func keysPage(_ project: String, _ keys: Components.Schemas.ProjectKeys, what: String, cli: String) async throws -> Response {
        let model = RotatedKeys(
            project: project, href: Self.href(project), what: what, url: keys.url, anonKey: keys.anonKey, serviceRoleKey: keys.serviceRoleKey)
        return try await environment.page("settings-keys", title: "New keys · \(project)", project: project, section: .settings, cli: cli, body: model)
    }

    func settings(_ project: String, problems: Problems = .init(), status: HTTPResponse.Status = .ok) async throws -> Response {
        let session = try ConsoleSession.required()
        let info = try await environment.call("getProject", project: project) {
            try await $0.getProject(.init(path: .init(project: project))).ok.body.json
        }
        let isOwner = session.viewer.may(.owner, in: project)
        var keys: [ProjectSettingsModel.Key] = []
        var issued = ""
        var members: [ProjectSettingsModel.Member] = []
        var channels: [ProjectSettingsModel.Channel] = []
        if isOwner {
            async let keyList = environment.call("getProjectKeys", project: project) {
                try await $0.getProjectKeys(.init(path: .init(project: project))).ok.body.json
            }
            async let memberList = environment.call("listMembers", project: project) {
                try await $0.listMembers(.init(path: .init(project: project))).ok.body.json.members
            }
            async let alerts = environment.call("getAlerts", project: project) {
                try await $0.getAlerts(.init(query: .init(project: project))).ok.body.json.channels
            }
            let current = try await keyList
            issued = Formatting.utc(current.issuedAt)
            keys = [
                .init(role: "anon", masked: ProjectSettingsModel.mask(current.anonKey), value: current.anonKey),
                .init(role: "service_role", masked: ProjectSettingsModel.mask(current.serviceRoleKey), value: current.serviceRoleKey),
            ]
            members = try await memberList.map {
                .init(email: $0.email, role: $0.role.rawValue, isViewer: $0.role == .viewer, isDeveloper: $0.role == .developer,
                      isOwner: $0.role == .owner, removeCLI: SettingsCLI.removeMember(project, email: $0.email))
            }
            channels = try await alerts.map {
                .init(kind: $0.kind.rawValue, target: $0.target, includeSuccess: $0.includeSuccess, created: Formatting.utc($0.createdAt),
                      removeCLI: SettingsCLI.removeAlert(project, kind: $0.kind.rawValue))
            }
        }
        let allowlist = info.allowlist ?? []
        let model = ProjectSettingsModel(
            project: project, base: Self.href(project), alertsBase: Self.href(project) + "/alerts", role: session.viewer.role(in: project)?.rawValue ?? "viewer", isOwner: isOwner,
            keys: keys, keysIssued: issued, members: members,
            cpus: ProjectSettingsModel.number(info.cpus), memoryMiB: info.memoryBytes.map { String($0 >> 20) } ?? "",
            maxConnections: info.maxConnections.map(String.init) ?? "", retentionDays: String(info.retentionDays),
            suspendAfter: String(info.suspendAfterSeconds), suspendMainAfter: String(info.suspendMainAfterSeconds),
            allowlist: problems.allowlistText ?? allowlist.joined(separator: "\n"), allowlistEntries: allowlist, allowlistOpen: allowlist.isEmpty,
            allowlistError: problems.allowlist, limitsError: problems.limits,
            newBranchTtl: BranchCreation.ttlOptions(selected: info.newBranchTtlSeconds), keptByDefault: info.newBranchTtlSeconds == nil,
            protectNewBranches: info.protectNewBranches, branchDefaults: info.branchDefaultsText, branchDefaultsError: problems.branchDefaults,
            channels: channels, noChannels: channels.isEmpty,
            alertsError: problems.alerts, memberError: problems.members)
        return try await environment.page(
            "settings", title: "Keys & settings · \(project)", project: project, section: .settings, cli: "branch project show \(project)",
            status: status, body: SettingsPage(model: model, cli: .init(project: project, allowlist: allowlist)))
    }
}

/// The model and the forms' CLI lines, side by side for the template.
struct SettingsPage: Sendable {
    struct CLI: Sendable {
        var keys: String
        var rotate: String
        var revokeAnon: String
        var revokeService: String
        var allow: String
        var member: String
        var limits: String
        var suspend: String
        var branchDefaults: String
        var alerts: String
        var test: String

        init(project: String, allowlist: [String]) {
            keys = SettingsCLI.keys(project)
            rotate = SettingsCLI.rotate(project)
            revokeAnon = SettingsCLI.revoke(project, role: "anon")
            revokeService = SettingsCLI.revoke(project, role: "service_role")
            allow = SettingsCLI.allow(project, allowlist.isEmpty ? ["203.0.113.0/24"] : allowlist)
            member = SettingsCLI.member(project, email: "EMAIL", role: "developer")
            limits = SettingsCLI.limits(project)
            suspend = SettingsCLI.suspend(project)
            branchDefaults = SettingsCLI.branchDefaults(project)
            alerts = SettingsCLI.alerts(project)
            test = SettingsCLI.testAlerts(project)
        }
    }

    var model: ProjectSettingsModel
    var cli: CLI
}
