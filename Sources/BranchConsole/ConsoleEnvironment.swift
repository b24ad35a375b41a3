import BranchAPI
import Foundation
import HTTPTypes
import Hummingbird

/// What every page handler works with: the gateway to the API (as the signed-in user), the
/// templates, the static assets and the session's cookies and CSRF tokens.
struct ConsoleEnvironment: Sendable {
    let gateway: any ConsoleGateway
    let templates: Templates
    let assets: StaticAssets
    let cookies: SessionCookies
    let csrf: CSRFTokens

    /// Calls the API as the signed-in user (see `ConsoleGateway.perform`); `target` says what a
    /// change acted on, for the audit log and the activity feed's undo.
    func call<T: Sendable>(
        _ operation: String, project: String? = nil, changes: Bool = false, target: String? = nil,
        _ body: @Sendable (any APIProtocol) async throws -> T
    ) async throws -> T {
        let session = try ConsoleSession.required()
        return try await ServerTiming.measure(operation) {
            try await gateway.perform(operation, project: project, token: session.token, changes: changes, target: target, body)
        }
    }

    /// The page `template` inside the shell; `script` is the page's own module in `Assets/js/`. `project` pages get the project's navigation and the
    /// project and branch switchers; a project the user may not see is a 404 (not among the user's projects). `branches`: the
    /// project's branch names when the page has listed them already (else the branch switcher lists them).
    func page(
        _ template: String, title: String, project: String? = nil, branch: String? = nil, branches listed: [String]? = nil,
        point: String? = nil, section: ProjectSection? = nil, instance: InstanceSection? = nil, cli: String? = nil, script: String? = nil,
        status: HTTPResponse.Status = .ok, body: some Sendable
    ) async throws -> Response {
        let session = try ConsoleSession.required()
        // The switchers' two lists at once; listBranches checks access itself, the 404 below only words it.
        async let names = ServerTiming.measure("projectNames") { try await gateway.projectNames(token: session.token) }
        async let switcher = branchNames(project, listed: listed)
        let projects = try await names
        if let project, !projects.contains(project) { throw ConsoleFailure.notFound("Project \(project)") }
        let branches = try await switcher
        let state = ConsoleRequestState.current
        let shell = Shell(
            title: title, csrf: session.csrf, email: session.viewer.email, isAdmin: session.viewer.isInstanceAdmin,
            project: project, branch: branch, point: point ?? "HEAD", historical: point != nil,
            projects: projects.map { .init(label: $0, href: "/projects/\(ConsolePath.segment($0))", current: $0 == project, chord: nil) },
            branches: project.map { project in
                branches.map { .init(label: $0, href: (section ?? .overview).href(project: project, branch: $0), current: $0 == branch, chord: nil) }
            } ?? [],
            nav: project.map { project in
                ProjectSection.allCases.map { .init(label: $0.label, href: $0.href(project: project, branch: branch), current: $0 == section, chord: $0.chord) }
            } ?? [],
            instanceNav: InstanceSection.allCases
                .filter { $0 != .settings || session.viewer.isInstanceAdmin }
                .map { .init(label: $0.label, href: $0.href, current: $0 == instance, chord: $0.chord) },
            flash: state?.flash, flashIsError: state?.flashIsError ?? false, cli: cli,
            stylesheet: assets.url("console.css"), script: assets.url("console.js"), pageScript: script.map(assets.url), theme: state?.theme ?? "dark")
        let page = Page(shell: shell, page: body)
        return HTMLResponses.html(await ServerTiming.measure("render") { templates.render(page, template) }, status: status)
    }

    /// The branch switcher's names: those the page listed, else the project's (none outside a project).
    private func branchNames(_ project: String?, listed: [String]?) async throws -> [String] {
        guard let project, listed == nil else { return listed ?? [] }
        return try await call("listBranches", project: project) {
            try await $0.listBranches(.init(path: .init(project: project))).ok.body.json.branches.map(\.name)
        }
    }

    /// A 303 after a form, with a one-time message for the next page.
    func redirect(_ location: String, flash: String? = nil, error: Bool = false) -> Response {
        HTMLResponses.redirect(location, flash: flash, error: error, cookies: cookies)
    }

    /// The redirect back to `back` when `password` is not the signed-in user's (saying `wrong`) or
    /// sign-ins are locked; nil when it is. Checked under the sign-in limits, so a stolen session
    /// cookie alone cannot pass it.
    func refusedPassword(_ password: String, back: String, wrong: String) async throws -> Response? {
        let session = try ConsoleSession.required()
        do {
            try await gateway.checkPassword(token: session.token, password: password)
            return nil
        } catch let failure as ConsoleFailure where failure.status == 401 || failure.status == 429 {
            return redirect(back, flash: failure.status == 401 ? wrong : "\(failure.message) \(failure.hint ?? "")", error: true)
        }
    }

    /// The fields of a posted form (the CSRF token already checked by `SessionMiddleware`).
    func form(_ request: Request, limit: Int = 1 << 20) async throws -> FormFields {
        var request = request
        let buffer = try await request.collectBody(upTo: limit)
        return FormFields(String(buffer: buffer))
    }
}

/// A page's render object: the frame's fields under `shell`, the page's under `page`.
struct Page<Body: Sendable>: Sendable {
    var shell: Shell
    var page: Body
}

/// Per-request facts the shell shows, read by `SessionMiddleware` from the request.
struct ConsoleRequestState: Sendable {
    var flash: String?
    var flashIsError: Bool
    var theme: String
    @TaskLocal static var current: ConsoleRequestState?
}
