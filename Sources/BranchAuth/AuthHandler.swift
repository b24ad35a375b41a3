package import BranchREST
import BranchCore
import BranchPostgres
package import Foundation

/// The GoTrue (Supabase Auth) subset of a project's `/auth/v1`: sign-up, password sign-in, refresh,
/// the current user, sign-out, the mailed flows (confirmation, magic link and code, recovery,
/// invitation), sign-in with a provider (GitHub, GitLab, Google, Keycloak) and user administration,
/// on the branch's own `auth` schema.
package enum AuthHandler {
    /// One /auth/v1 request (request.path relative to /auth/v1: "/signup", "/token", "/user", "/logout",
    /// "/otp", "/recover", "/resend", "/verify", "/authorize", "/callback", "/invite", "/admin/generate_link", "/admin/users",
    /// "/admin/users/{id}", also "/settings" and "/health" as GoTrue answers them). Never throws:
    /// failures are GoTrue's error bodies, anything unexpected a 500 (503 when the database is
    /// unreachable) after `report` has seen it.
    package static func handle(_ request: DataRequest, context: AuthContext, report: @Sendable (any Error) -> Void = { _ in }) async -> DataResponse {
        do {
            return try await route(request, context: context)
        } catch let failure as AuthFailure {
            return AuthReply.failure(failure)
        } catch let error as PostgresError where isTransient(error) {
            report(error)
            return AuthReply.failure(.unavailable)
        } catch {
            report(error)
            return AuthReply.failure(.unexpected)
        }
    }

    /// Dispatches on the path and method; failures are thrown.
    private static func route(_ request: DataRequest, context: AuthContext) async throws -> DataResponse {
        let segments = request.path.split(separator: "/").map(String.init)
        let method = request.method.uppercased()
        if method == "OPTIONS" { return AuthReply.empty(204) }
        /// The request's input if `method` is one of `methods`; a body is read only where it means something.
        func allow(_ methods: Set<String>, readsBody: Bool = true) throws(AuthFailure) -> AuthInput {
            guard methods.contains(method) else { throw .methodNotAllowed }
            guard readsBody, method != "GET" else {
                return try AuthInput(DataRequest(
                    method: request.method, path: request.path, rawQuery: request.rawQuery, headers: request.headers,
                    clientAddress: request.clientAddress))
            }
            return try AuthInput(request)
        }
        switch segments.joined(separator: "/") {
        case "health":
            _ = try allow(["GET"])
            return InfoEndpoints.health()
        case "settings":
            _ = try allow(["GET"])
            return InfoEndpoints.settings(context: context)
        case "signup":
            return try await SignUpEndpoint.handle(allow(["POST"]), context: context)
        case "otp":
            return try await EmailEndpoints.otp(allow(["POST"]), context: context)
        case "recover":
            return try await EmailEndpoints.recover(allow(["POST"]), context: context)
        case "resend":
            return try await EmailEndpoints.resend(allow(["POST"]), context: context)
        case "verify":
            let input = try allow(["GET", "POST"])
            return method == "GET" ? try await VerifyEndpoint.get(input, context: context) : try await VerifyEndpoint.post(input, context: context)
        case "authorize":
            return try await OAuthEndpoints.authorize(allow(["GET"]), context: context)
        case "callback":
            return try await OAuthEndpoints.callback(allow(["GET"]), context: context)
        case "invite":
            return try await InviteEndpoints.invite(allow(["POST"]), context: context)
        case "admin/generate_link":
            return try await InviteEndpoints.generateLink(allow(["POST"]), context: context)
        case "token":
            return try await TokenEndpoint.handle(allow(["POST"]), context: context)
        case "user":
            let input = try allow(["GET", "PUT"])
            return method == "GET" ? try await UserEndpoint.get(input, context: context) : try await UserEndpoint.update(input, context: context)
        case "logout":
            return try await LogoutEndpoint.handle(allow(["POST"], readsBody: false), context: context)
        case "admin/users":
            return try await AdminEndpoints.handle(allow(["GET", "POST"]), id: nil, context: context)
        case _ where segments.count == 3 && segments[0] == "admin" && segments[1] == "users":
            return try await AdminEndpoints.handle(allow(["GET", "PUT", "DELETE"]), id: segments[2], context: context)
        default:
            throw AuthFailure.notFound
        }
    }

    /// For the paths a browser opens without an API key (`GET /verify`, `/authorize`, `/callback`):
    /// the answer to a request that cannot succeed (a link whose token cannot be one, a provider
    /// the project has not turned on, a state it did not sign), so that anyone on the internet
    /// cannot wake a suspended branch with it. Nil: serve it.
    package static func refusedBeforeWaking(_ request: DataRequest, policy: AuthPolicy, secret: [UInt8], now: Date = Date()) -> DataResponse? {
        guard request.method.uppercased() == "GET" else { return nil }
        let query = FormQuery.pairs(request.rawQuery)
        func value(_ key: String) -> String? { query.first { $0.key == key }?.value }
        do {
            switch request.path {
            case "/verify":
                guard !EmailToken.isHash((value("token") ?? "").lowercased()) else { return nil }
                return VerifyEndpoint.refused(policy.redirect(value("redirect_to")))
            case "/authorize":
                _ = try OAuthEndpoints.enabledProvider(value("provider"), policy: policy)
            case "/callback":
                _ = try OAuthEndpoints.verifiedState(value("state"), secret: secret, now: now)
            default:
                break
            }
        } catch {
            return AuthReply.failure(error)
        }
        return nil
    }

    /// Connection trouble and resource exhaustion (SQLSTATE classes 08 and 53), worth a retry.
    private static func isTransient(_ error: PostgresError) -> Bool {
        if let state = error.sqlState { return state.hasPrefix("08") || state.hasPrefix("53") }
        return error.kind == .postgresConnectionFailed
    }
}
