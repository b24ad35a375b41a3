import Foundation
import HTTPTypes
import Hummingbird

/// `/projects/{p}/auth?branch=B&q=…&provider=P&page=N`: the users of the branch's data API (`auth.users`),
/// searched, filtered by provider and paged; a link runs SQL as one of them (RLS as they see it); create one with email and password or invite one by mail, ban and unban,
/// end their sessions, delete. It works through the auth admin API with the service_role key, so it is for owners.
struct AuthUsersPages: Sendable {
    let environment: ConsoleEnvironment

    struct Model: Sendable {
        var project: String
        var branch: String
        var base: String
        var mayManage: Bool
        var search: String
        var providers: [ProviderOption]
        var users: [AuthAdminClient.User]
        var noUsers: Bool
        var error: String?
        var page: Int
        var previousHref: String?
        var nextHref: String?
        var email: String
        var curl: String
        var sqlHref: String
    }

    struct ProviderOption: Sendable {
        var value: String
        var label: String
        var selected: Bool
    }

    /// The providers the filter offers: Branch's own (email, phone and the sign-in providers), then
    /// those users imported from Supabase may have.
    static let providerNames = ["email", "phone", "github", "gitlab", "google", "keycloak", "apple", "azure", "bitbucket", "discord", "facebook", "twitter", "anonymous"]

    func register<Context: RequestContext>(on pages: RouterGroup<Context>) {
        pages.get("/projects/:project/auth") { request, context -> Response in
            let project = try ProjectSettingsPages.project(context)
            let query = request.uri.queryParameters
            let branch = try await MonitoringPages(environment: environment).branch(project, query["branch"].map(String.init))
            return try await page(
                project, branch: branch, search: query["q"].map(String.init) ?? "", provider: query["provider"].map(String.init) ?? "",
                page: query["page"].flatMap { Int($0) } ?? 1)
        }
        pages.post("/projects/:project/auth/users") { request, context -> Response in
            let project = try ProjectSettingsPages.project(context)
            let form = try await environment.form(request)
            let branch = try await MonitoringPages(environment: environment).branch(project, form.text("branch"))
            let email = form.text("email") ?? ""
            do {
                _ = try await client(project, branch).send(
                    "POST", "/admin/users", json: ["email": email, "password": form["password"] ?? "", "email_confirm": true], changes: true)
                return environment.redirect(Self.href(project, branch), flash: "User \(email) created.")
            } catch let failure as ConsoleFailure where (400..<500).contains(failure.status) && failure.status != 403 && failure.status != 404 {
                return try await page(project, branch: branch, search: "", page: 1, error: "\(failure.message) (\(failure.code))", email: email,
                                      status: .init(code: failure.status))
            }
        }
        pages.post("/projects/:project/auth/invite") { request, context -> Response in
            let project = try ProjectSettingsPages.project(context)
            let form = try await environment.form(request)
            let branch = try await MonitoringPages(environment: environment).branch(project, form.text("branch"))
            let email = form.text("email") ?? ""
            do {
                _ = try await client(project, branch).send("POST", "/invite", json: ["email": email], changes: true)
                return environment.redirect(Self.href(project, branch), flash: "Invitation sent to \(email).")
            } catch let failure as ConsoleFailure where (400..<500).contains(failure.status) && failure.status != 403 && failure.status != 404 {
                return environment.redirect(Self.href(project, branch), flash: "\(failure.message) (\(failure.code))", error: true)
            }
        }
        pages.post("/projects/:project/auth/users/:action") { request, context -> Response in
            let project = try ProjectSettingsPages.project(context)
            let form = try await environment.form(request)
            let branch = try await MonitoringPages(environment: environment).branch(project, form.text("branch"))
            let id = form.text("id") ?? ""
            let who = form.text("email") ?? id
            let client = client(project, branch)
            let path = "/admin/users/" + FormFields.encode(id)
            let done: String
            switch context.parameters.get("action") {
            case "ban":
                _ = try await client.send("PUT", path, json: ["ban_duration": "876000h"], changes: true)
                done = "\(who) is banned; their sessions ended."
            case "unban":
                _ = try await client.send("PUT", path, json: ["ban_duration": "none"], changes: true)
                done = "\(who) may sign in again."
            case "revoke":
                // A one-second ban is how the auth module ends every session of a user at once.
                _ = try await client.send("PUT", path, json: ["ban_duration": "1s"], changes: true)
                done = "Every session of \(who) ended; they sign in again."
            case "delete":
                _ = try await client.send("DELETE", path, json: ["should_soft_delete": false], changes: true)
                done = "\(who) is deleted."
            default:
                throw ConsoleFailure.notFound("That action")
            }
            return environment.redirect(Self.href(project, branch), flash: done)
        }
    }

    static func href(_ project: String, _ branch: String) -> String {
        "/projects/\(ConsolePath.segment(project))/auth?branch=\(FormFields.encode(branch))"
    }

    func client(_ project: String, _ branch: String) -> AuthAdminClient {
        AuthAdminClient(environment: environment, project: project, branch: branch)
    }

    func page(
        _ project: String, branch: String, search: String, provider: String = "", page: Int, error: String? = nil, email: String = "",
        status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let provider = Self.providerNames.contains(provider) ? provider : ""
        let session = try ConsoleSession.required()
        let mayManage = session.viewer.may(.owner, in: project)
        var users: [AuthAdminClient.User] = []
        var problem = error
        if mayManage {
            do {
                users = try await client(project, branch).users(filter: search, provider: provider, page: max(page, 1))
            } catch let failure as ConsoleFailure where failure.status != 404 {
                problem = problem ?? "\(failure.message) (\(failure.code))"
            }
        }
        let base = Self.href(project, branch) + (search.isEmpty ? "" : "&q=" + FormFields.encode(search))
            + (provider.isEmpty ? "" : "&provider=" + FormFields.encode(provider))
        let model = Model(
            project: project, branch: branch, base: "/projects/\(ConsolePath.segment(project))/auth", mayManage: mayManage, search: search,
            providers: [ProviderOption(value: "", label: "Any provider", selected: provider.isEmpty)]
                + Self.providerNames.map { ProviderOption(value: $0, label: $0, selected: $0 == provider) },
            users: users, noUsers: users.isEmpty, error: problem, page: page,
            previousHref: page > 1 ? base + "&page=\(page - 1)" : nil, nextHref: users.count == 50 ? base + "&page=\(page + 1)" : nil, email: email,
            curl: "curl -H \"apikey: $SERVICE_ROLE_KEY\" -H \"Authorization: Bearer $SERVICE_ROLE_KEY\" $URL/p/\(project)/b/\(branch)/auth/v1/admin/users",
            sqlHref: "/projects/\(ConsolePath.segment(project))/sql?branch=\(FormFields.encode(branch))&run_as=authenticated&run_as_user=")
        return try await environment.page(
            "auth-users", title: "Auth users · \(project)", project: project, branch: branch, section: .auth, cli: model.curl, status: status, body: model)
    }
}
