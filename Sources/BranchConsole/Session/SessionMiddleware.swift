import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// In front of every console route: finds the session behind the cookie, refuses a change (any
/// method but GET and HEAD) without the session's CSRF token or from another origin, and turns
/// what pages throw into pages: a sign-in redirect, a 404 that says no more than "not found", an
/// error page with the API's code. The sign-in and first-run forms, posted before there is a
/// session, carry a pre-session token instead, which their handlers check (`PreSession`).
struct SessionMiddleware<Context: RequestContext>: RouterMiddleware {
    let environment: ConsoleEnvironment

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var request = request
        let cookieHeader = request.headers[.cookie]
        var session: ConsoleSession?
        if let token = SessionCookies.value(SessionCookies.session, in: cookieHeader), let viewer = await ServerTiming.measure("session", { await environment.gateway.viewer(token: token) }) {
            session = ConsoleSession(token: token, viewer: viewer, csrf: environment.csrf.token(for: token))
        }
        let flash = SessionCookies.value(SessionCookies.flash, in: cookieHeader).flatMap { $0.removingPercentEncoding }
        let state = ConsoleRequestState(flash: flash.map { String($0.dropFirst(2)) }, flashIsError: flash?.hasPrefix("e:") ?? false,
            theme: SessionCookies.value(SessionCookies.theme, in: cookieHeader) == "light" ? "light" : "dark")
        let changes = request.method != .get && request.method != .head
        do {
            if changes { try Self.checkOrigin(request) }
            if changes, let session, !PreSession.formPaths.contains(request.uri.path) {
                var sent = request.headers[HTTPField.Name("X-CSRF-Token")!]
                if sent == nil { sent = try await Self.formToken(&request) }
                guard environment.csrf.isValid(sent, for: session.token) else { throw ConsoleFailure.csrfRefused }
            }
            let handled = request
            var response = try await ConsoleSession.$current.withValue(session) {
                try await ConsoleRequestState.$current.withValue(state) { try await next(handled, context) }
            }
            // A flash is shown once: cleared unless the response sets a new one.
            if flash != nil, !response.headers[values: .setCookie].contains(where: { $0.hasPrefix(SessionCookies.flash + "=") }) {
                response.headers.append(HTTPField(name: .setCookie, value: environment.cookies.clear(SessionCookies.flash)))
            }
            return Self.withReferrerPolicy(response)
        } catch is SignInRequired {
            let target = request.uri.path == "/" ? "/login" : "/login?next=" + FormFields.encode(request.uri.path + (request.uri.query.map { "?" + $0 } ?? ""))
            return HTMLResponses.redirect(target, cookies: environment.cookies)
        } catch let failure as ConsoleFailure {
            return Self.withReferrerPolicy(errorPage(failure, session: session, state: state))
        } catch {
            context.logger.error("console request failed", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            return Self.withReferrerPolicy(errorPage(
                ConsoleFailure(status: 500, code: "internal_error", message: "Something unexpected went wrong.",
                               hint: "Look for request id \(context.id) in the service log."), session: session, state: state))
        }
    }

    /// A browser names the page a request comes from: a change sent from another site is refused
    /// even before its (absent) CSRF token. So is `Origin: null`, which a browser sends for a page
    /// it will not name: a sandboxed frame, a `data:` or `file:` page, a cross-site redirect. (The
    /// console's own pages get a Referrer-Policy under which browsers name them, see below.)
    /// Clients that send no Origin at all (not browsers, or very old ones) still need the token.
    static func checkOrigin(_ request: Request) throws {
        guard let origin = request.headers[.origin] else { return }
        guard origin != "null" else { throw ConsoleFailure.csrfRefused }
        let host = request.head.authority ?? ""
        guard let url = URL(string: origin), let originHost = url.host else { throw ConsoleFailure.csrfRefused }
        let originAuthority = originHost + (url.port.map { ":\($0)" } ?? "")
        guard originAuthority == host || originHost == host else { throw ConsoleFailure.csrfRefused }
    }

    /// `_csrf` of a form body; the body is collected into `request`, so the handler reads it again.
    static func formToken(_ request: inout Request) async throws -> String? {
        guard request.headers[.contentType]?.hasPrefix("application/x-www-form-urlencoded") == true else { return nil }
        let buffer = try await request.collectBody(upTo: 50 << 20)
        return FormFields(String(buffer: buffer))["_csrf"]
    }

    /// `same-origin` instead of the service's `no-referrer`: under `no-referrer` a browser sends
    /// `Origin: null` with every form it posts, even to the page's own site, and the Origin check
    /// above could not tell the console's forms from a sandboxed attacker's. Other sites still get
    /// neither a Referer nor an Origin naming a console URL.
    static func withReferrerPolicy(_ response: Response) -> Response {
        var response = response
        if response.headers[.consoleReferrerPolicy] == nil { response.headers[.consoleReferrerPolicy] = "same-origin" }
        return response
    }

    func errorPage(_ failure: ConsoleFailure, session: ConsoleSession?, state: ConsoleRequestState) -> Response {
        let model = ErrorPageModel(
            status: failure.status, code: failure.code, message: failure.message, hint: failure.hint, signedIn: session != nil,
            stylesheet: environment.assets.url("console.css"))
        return HTMLResponses.html(environment.templates.render(model, "error"), status: HTTPResponse.Status(code: failure.status))
    }
}

extension HTTPField.Name {
    static let consoleReferrerPolicy = Self("Referrer-Policy")!
}

struct ErrorPageModel: Sendable {
    var status: Int
    var code: String
    var message: String
    var hint: String?
    var signedIn: Bool
    var stylesheet: String
}
