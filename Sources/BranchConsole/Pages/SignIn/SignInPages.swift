import Foundation
import HTTPTypes
import Hummingbird

/// Signing in and out, and the first-run screen where the instance admin, proving ownership with
/// the admin key `make run` printed, chooses their own email and password. Both forms carry the
/// pre-session CSRF token (`PreSession`), checked before anything else.
struct SignInPages: Sendable {
    let environment: ConsoleEnvironment

    struct Model: Sendable {
        var stylesheet: String
        var script: String
        var csrf: String
        var next: String
        var email: String
        var error: String?
    }

    var preSession: PreSession { PreSession(cookies: environment.cookies, csrf: environment.csrf) }

    /// How long a console session lasts.
    static let sessionLifetime = 12 * 3600

    func register<Context: RequestContext>(on pages: RouterGroup<Context>) {
        pages.get("/login") { request, _ -> Response in
            if await environment.gateway.needsFirstRun() { return environment.redirect("/setup") }
            if ConsoleSession.current != nil { return environment.redirect(Self.safeNext(request.uri.queryParameters["next"].map(String.init))) }
            return login(request, next: request.uri.queryParameters["next"].map(String.init) ?? "/", email: "", error: ConsoleRequestState.current?.flash)
        }
        pages.post("/login") { request, _ -> Response in
            let form = try await environment.form(request)
            try preSession.check(request, form: form)
            let next = Self.safeNext(form["next"])
            do {
                let token = try await environment.gateway.signIn(email: form.text("email") ?? "", password: form["password"] ?? "")
                return signedIn(token: token, to: next)
            } catch let failure as ConsoleFailure {
                return login(request, next: next, email: form.text("email") ?? "", error: failure.message, status: HTTPResponse.Status(code: failure.status))
            }
        }
        pages.post("/logout") { _, _ -> Response in
            if let session = ConsoleSession.current { await environment.gateway.signOut(token: session.token) }
            var response = environment.redirect("/login", flash: "Signed out.")
            response.headers.append(HTTPField(name: .setCookie, value: environment.cookies.clear(SessionCookies.session)))
            return response
        }
        pages.get("/setup") { request, _ -> Response in
            guard await environment.gateway.needsFirstRun() else { return environment.redirect("/login") }
            return setup(request, email: "", error: nil)
        }
        pages.post("/setup") { request, _ -> Response in
            let form = try await environment.form(request)
            try preSession.check(request, form: form)
            guard await environment.gateway.needsFirstRun() else { return environment.redirect("/login") }
            let email = form.text("email") ?? ""
            guard form["password"] == form["confirm"] else { return setup(request, email: email, error: "The two passwords differ.", status: .badRequest) }
            do {
                let token = try await environment.gateway.completeFirstRun(
                    adminKey: form.text("admin_key") ?? "", email: email, password: form["password"] ?? "")
                return signedIn(token: token, to: "/")
            } catch let failure as ConsoleFailure {
                return setup(request, email: email, error: failure.message + (failure.hint.map { " " + $0 } ?? ""), status: HTTPResponse.Status(code: failure.status))
            }
        }
    }

    func login(_ request: Request, next: String, email: String, error: String?, status: HTTPResponse.Status = .ok) -> Response {
        form("login", request, next: next, email: email, error: error, status: status)
    }

    func setup(_ request: Request, email: String, error: String?, status: HTTPResponse.Status = .ok) -> Response {
        form("setup", request, next: "/", email: email, error: error, status: status)
    }

    /// A sign-in form page with the visitor's pre-session token (and cookie, when they have none yet).
    func form(_ template: String, _ request: Request, next: String, email: String, error: String?, status: HTTPResponse.Status) -> Response {
        let (csrf, setCookie) = preSession.formToken(request)
        let model = Model(
            stylesheet: environment.assets.url("console.css"), script: environment.assets.url("console.js"), csrf: csrf, next: next, email: email, error: error)
        return HTMLResponses.html(
            environment.templates.render(model, template), status: status,
            headers: setCookie.map { HTTPFields([HTTPField(name: .setCookie, value: $0)]) } ?? [:])
    }

    func signedIn(token: String, to next: String) -> Response {
        var response = environment.redirect(next)
        response.headers.append(HTTPField(name: .setCookie, value: environment.cookies.set(SessionCookies.session, token, maxAge: Self.sessionLifetime)))
        response.headers.append(HTTPField(name: .setCookie, value: preSession.clear()))
        return response
    }

    /// Only a path on this site: never `//host` or a full URL (an open redirect).
    static func safeNext(_ next: String?) -> String {
        guard let next, next.hasPrefix("/"), !next.hasPrefix("//"), !next.hasPrefix("/\\") else { return "/" }
        return next
    }
}
