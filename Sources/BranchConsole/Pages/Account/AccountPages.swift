import BranchAPI
import Foundation
import Hummingbird

/// `/account`: every signed-in user's own page. Their roles; their password, changed only with
/// the current one (a stolen session cookie must not be enough to take the account), which signs
/// their other sessions out; their other sessions, signed out at once; and their API tokens,
/// made (shown once) and revoked, never beyond their own roles.
struct AccountPages: Sendable {
    let environment: ConsoleEnvironment

    struct Membership: Sendable {
        var project: String
        var href: String
        var role: String
    }

    struct Token: Sendable {
        var id: String
        var name: String
        var scope: String
        var created: String
        var lastUsed: String
        var expires: String
    }

    struct Option: Sendable {
        var value: String
        var label: String
    }

    struct Model: Sendable {
        var email: String
        var isAdmin: Bool
        var memberships: [Membership]
        var noMemberships: Bool
        var tokens: [Token]
        var noTokens: Bool
        var otherSessions: Int
        var projects: [Option]
        var cliPasswd: String
        var cliToken: String
    }

    func register<Context: RequestContext>(on pages: RouterGroup<Context>) {
        pages.get("/account") { _, _ -> Response in try await page() }
        pages.post("/account/password") { request, _ -> Response in
            let form = try await environment.form(request)
            return try await changePassword(current: form["current"] ?? "", new: form["password"] ?? "", confirm: form["confirm"] ?? "")
        }
        pages.post("/account/sessions/revoke") { _, _ -> Response in
            let ended = try await otherSessions()
            for session in ended {
                _ = try await environment.call("revokeToken", changes: true, target: "session \(session.id)") {
                    try await $0.revokeToken(.init(path: .init(token: session.id))).ok.body.json
                }
            }
            return environment.redirect("/account#sessions", flash: ended.isEmpty ? "You have no other sessions." : "Signed out \(ended.count) other session\(ended.count == 1 ? "" : "s").")
        }
        pages.post("/account/tokens") { request, _ -> Response in
            let form = try await environment.form(request)
            let project = form.text("project")
            let days = Int(form.text("expires_days") ?? "")
            let role = project == nil ? nil : Components.Schemas.CreateTokenRequest.RolePayload(rawValue: form["role"] ?? "") ?? .viewer
            do {
                let created = try await environment.call("createToken", changes: true) {
                    try await $0.createToken(.init(body: .json(.init(
                        expiresInSeconds: days.map { $0 * 86400 }, name: form.text("name"), project: project, role: role)))).created.body.json
                }
                return try await InstanceSettingsPages(environment: environment).secret(.init(
                    title: "Token \(created.info.name) created", what: "Copy it now: only its SHA-256 is kept, so it is shown this once.",
                    label: "Token", secret: created.token, cli: "branch token create --name \(created.info.name)",
                    back: "/account#tokens", backLabel: "Back to your account"), instance: .account)
            } catch let failure as ConsoleFailure where [400, 403, 404].contains(failure.status) {
                return environment.redirect("/account#tokens", flash: "\(failure.message) (\(failure.code))", error: true)
            }
        }
        pages.post("/account/tokens/revoke") { request, _ -> Response in
            let id = try await environment.form(request).text("id") ?? ""
            // Only the user's own: the instance admin revokes others' tokens on the instance settings page.
            guard try await ownTokens().contains(where: { $0.id == id }) else { throw ConsoleFailure.notFound("Token \(id)") }
            _ = try await environment.call("revokeToken", changes: true, target: id) { try await $0.revokeToken(.init(path: .init(token: id))).ok.body.json }
            return environment.redirect("/account#tokens", flash: "Token \(id) is revoked.")
        }
    }

    func page() async throws -> Response {
        let session = try ConsoleSession.required()
        let viewer = session.viewer
        let tokens = try await ownTokens()
        let memberships = viewer.roles.sorted { $0.key < $1.key }.map {
            Membership(project: $0.key, href: "/projects/\(ConsolePath.segment($0.key))", role: $0.value)
        }
        let apiTokens = tokens.filter { $0.name != environment.gateway.sessionTokenName && !$0.revoked && !Self.expired($0) }
        let projects = viewer.isInstanceAdmin ? try await environment.gateway.projectNames(token: session.token) : viewer.roles.keys.sorted()
        let model = Model(
            email: viewer.email, isAdmin: viewer.isInstanceAdmin, memberships: memberships, noMemberships: memberships.isEmpty,
            tokens: apiTokens.map {
                Token(id: $0.id, name: $0.name, scope: InstanceSettingsPages.scope(project: $0.project, role: $0.role?.rawValue),
                      created: Formatting.utc($0.createdAt), lastUsed: $0.lastUsedAt.map { Formatting.age($0) } ?? "never",
                      expires: $0.expiresAt.map { Formatting.utc($0) } ?? "never")
            },
            noTokens: apiTokens.isEmpty, otherSessions: try await otherSessions(tokens).count,
            projects: projects.map { Option(value: $0, label: $0) },
            cliPasswd: "branch user passwd \(viewer.email)", cliToken: "branch token create --name NAME --project PROJECT --role viewer --expires 30d")
        return try await environment.page("account", title: "Your account", instance: .account, cli: "branch token list", body: model)
    }

    func changePassword(current: String, new: String, confirm: String) async throws -> Response {
        let session = try ConsoleSession.required()
        guard !new.isEmpty, new == confirm else {
            return environment.redirect("/account#password", flash: "The new password and its confirmation differ.", error: true)
        }
        if let refused = try await environment.refusedPassword(current, back: "/account#password", wrong: "Your current password is not that.") {
            return refused
        }
        do {
            _ = try await environment.call("setPassword", changes: true, target: session.viewer.email) {
                try await $0.setPassword(.init(path: .init(email: session.viewer.email), body: .json(.init(password: new)))).ok.body.json
            }
        } catch let failure as ConsoleFailure where failure.status == 400 {
            return environment.redirect("/account#password", flash: "\(failure.message) (\(failure.code))", error: true)
        }
        return environment.redirect("/account#password", flash: "Your password is changed; your other sessions are signed out.")
    }

    /// The tokens the signed-in user holds (the instance admin's list has everyone's).
    func ownTokens() async throws -> [Components.Schemas.TokenInfo] {
        let email = try ConsoleSession.required().viewer.email
        return try await environment.call("listTokens") { try await $0.listTokens(.init()).ok.body.json.tokens }.filter { $0.user == email }
    }

    /// The user's console sessions still valid, but this one.
    func otherSessions(_ known: [Components.Schemas.TokenInfo]? = nil) async throws -> [Components.Schemas.TokenInfo] {
        let current = try ConsoleSession.required().viewer.sessionID
        let tokens: [Components.Schemas.TokenInfo] = if let known { known } else { try await ownTokens() }
        let sessionName = environment.gateway.sessionTokenName
        return tokens.filter { $0.name == sessionName && !$0.revoked && !Self.expired($0) && $0.id != current }
    }

    static func expired(_ token: Components.Schemas.TokenInfo) -> Bool { token.expiresAt.map { $0 <= Date() } ?? false }
}
