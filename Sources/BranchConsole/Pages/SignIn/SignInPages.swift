import Foundation
import HTTPTypes
import Hummingbird

/// Signing in and out, and the first-run screen where the instance admin, proving ownership with
/// the admin key `make run` printed, chooses their own email and password.
struct SignInPages: Sendable {
    let environment: ConsoleEnvironment

    struct Model: Sendable {
        var stylesheet: String
        var script: String
        var next: String
        var email: String
        var error: String?
    }

    /// How long a console session lasts.
    static let sessionLifetime = 12 * 3600

    func register<Context: RequestContext>(on pages: RouterGroup<Context>) {
        pages.get("/login") { request, _ -> Response in
            if await environment.gateway.needsFirstRun() { return environment.redirect("/setup") }
            if ConsoleSession.current != nil { return environment.redirect(Self.safeNext(request.uri.queryParameters["next"].map(String.init))) }
            return login(next: request.uri.queryParameters["next"].map(String.init) ?? "/", email: "", error: ConsoleRequestState.current?.flash)
        }
        pages.post("/login") { request, _ -> Response in
            let form = try await environment.form(request)
            let next = Self.safeNext(form["next"])
            do {
                let token = try await environment.gateway.signIn(email: form.text("email") ?? "", password: form["password"] ?? "")
                return signedIn(token: token, to: next)
            } catch let failure as ConsoleFailure {
                return login(next: next, email: form.text("email") ?? "", error: failure.message, status: HTTPResponse.Status(code: failure.status))
            }
        }
        pages.post("/logout") { _, _ -> Response in
            if let session = ConsoleSession.current { await environment.gateway.signOut(token: session.token) }
            var response = environment.redirect("/login", flash: "Signed out.")
            response.headers.append(HTTPField(name: .setCookie, value: environment.cookies.clear(SessionCookies.session)))
            return response
        }
        pages.get("/setup") { _, _ -> Response in
            guard await environment.gateway.needsFirstRun() else { return environment.redirect("/login") }
            return setup(email: "", error: nil)
        }
        pages.post("/setup") { request, _ -> Response in
            guard await environment.gateway.needsFirstRun() else { return environment.redirect("/login") }
            let form = try await environment.form(request)
            let email = form.text("email") ?? ""
            guard form["password"] == form["confirm"] else { return setup(email: email, error: "The two passwords differ.", status: .badRequest) }
            do {
                let token = try await environment.gateway.completeFirstRun(
                    adminKey: form.text("admin_key") ?? "", email: email, password: form["password"] ?? "")
                return signedIn(token: token, to: "/")
            } catch let failure as ConsoleFailure {
                return setup(email: email, error: failure.message + (failure.hint.map { " " + $0 } ?? ""), status: HTTPResponse.Status(code: failure.status))
            }
        }
    }

    func login(next: String, email: String, error: String?, status: HTTPResponse.Status = .ok) -> Response {
        let model = Model(stylesheet: environment.assets.url("console.css"), script: environment.assets.url("console.js"), next: next, email: email, error: error)
        return HTMLResponses.html(environment.templates.render(model, "login"), status: status)
    }

    func setup(email: String, error: String?, status: HTTPResponse.Status = .ok) -> Response {
        let model = Model(stylesheet: environment.assets.url("console.css"), script: environment.assets.url("console.js"), next: "/", email: email, error: error)
        return HTMLResponses.html(environment.templates.render(model, "setup"), status: status)
    }

    func signedIn(token: String, to next: String) -> Response {
        var response = environment.redirect(next)
        response.headers.append(HTTPField(name: .setCookie, value: environment.cookies.set(SessionCookies.session, token, maxAge: Self.sessionLifetime)))
        return response
    }

    /// Only a path on this site: never `//host` or a full URL (an open redirect).
    static func safeNext(_ next: String?) -> String {
        guard let next, next.hasPrefix("/"), !next.hasPrefix("//"), !next.hasPrefix("/\\") else { return "/" }
        return next
    }
}
