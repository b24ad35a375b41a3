import BranchCore
import BranchEngine
import Crypto
import Foundation
import Hummingbird

/// Requires `Authorization: Bearer <admin key>` on every endpoint but those open to all (the
/// health check). The admin SQL and migration endpoints also take the service_role key of the
/// project they name (in the path, or in `/api/admin/query`'s body): checked here, before routing,
/// like the admin key; the request then goes on as `APICaller.projectKey`.
struct AuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let keyDigest: SHA256.Digest
    let openPaths: Set<String>
    /// Whether a token is a project's service_role key; nil: only the admin key is taken.
    let projectKeyCheck: (@Sendable (_ token: String, _ project: String) async -> Bool)?

    init(adminKey: String, openPaths: Set<String>, projectKeyCheck: (@Sendable (String, String) async -> Bool)? = nil) {
        self.keyDigest = SHA256.hash(data: Data(adminKey.utf8))
        self.openPaths = openPaths
        self.projectKeyCheck = projectKeyCheck
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.method == .get && openPaths.contains(request.uri.path) {
            return try await next(request, context)
        }
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else {
            throw Unauthorized(message: "This endpoint needs an admin key.")
        }
        // Compare digests, not strings, so timing says nothing about the key.
        let token = String(header.dropFirst("Bearer ".count))
        let presented = SHA256.hash(data: Data(token.utf8))
        if presented == keyDigest {
            return try await APICaller.$current.withValue(.admin) { try await next(request, context) }
        }
        guard let projectKeyCheck, APICaller.acceptsProjectKeys(request.uri.path) else {
            throw Unauthorized(message: "The admin key is not valid.")
        }
        var request = request
        guard let project = try await Self.project(named: &request), await projectKeyCheck(token, project) else {
            throw Unauthorized(message: "The key is neither the admin key nor the service_role key of the project the request names.")
        }
        return try await APICaller.$current.withValue(.projectKey(token)) { try await next(request, context) }
    }

    /// The project a project-key request names: the path's `{project}`, or `/api/admin/query`'s
    /// body's `project` (the body is collected, within the SQL size limit, and kept for the handler).
    static func project(named request: inout Request) async throws -> String? {
        let path = request.uri.path
        guard path == "/api/admin/query" else {
            let segment = path.split(separator: "/", omittingEmptySubsequences: false)[4]
            return String(segment).removingPercentEncoding ?? String(segment)
        }
        let limit = BodyLimitMiddleware<Context>.sqlLimit
        guard let buffer = try? await request.collectBody(upTo: limit) else { throw BodyLimitMiddleware<Context>.TooLarge(limit: limit) }
        let body = try? JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any]
        return body?["project"] as? String
    }

    struct Unauthorized: ReportableError {
        let message: String
        var code: ErrorCode { .unauthorized }
        var hint: String? { "Send `Authorization: Bearer <key>`; the key is in <pool>/admin.key (`branch login URL --token KEY`)." }
    }
}

/// Who calls the management API: the instance admin (the admin key), or the holder of a project's
/// service_role key, which only the admin SQL and migration endpoints take, for that project.
enum APICaller: Sendable {
    case unauthenticated
    case admin
    case projectKey(String)

    /// Set by `AuthMiddleware` for the request being handled.
    @TaskLocal static var current: APICaller = .unauthenticated

    /// `/api/v1/projects/{p}/branches/{b}/sql`, `…/migrations`, `…/migrations/{v}/rollback` and `/api/admin/query`.
    static func acceptsProjectKeys(_ path: String) -> Bool {
        if path == "/api/admin/query" { return true }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 8, parts[0].isEmpty, parts[1] == "api", parts[2] == "v1", parts[3] == "projects", parts[5] == "branches" else {
            return false
        }
        let rest = parts.dropFirst(7)
        return rest == ["sql"] || rest == ["migrations"] || (rest.count == 3 && rest.first == "migrations" && rest.last == "rollback")
    }

    /// Refuses anyone but the admin and `project`'s service_role key.
    func requireProject(_ project: String, engine: Engine) async throws {
        switch self {
        case .admin: return
        case .projectKey(let token): try await engine.projectKeys.requireServiceRoleKey(token, project: project)
        case .unauthenticated: throw AuthMiddleware<BasicRequestContext>.Unauthorized(message: "This endpoint needs an admin key.")
        }
    }

    /// Who applied a migration, as its history records it: `admin key`, or `service_role key
    /// sha256:<first 12 hex digits>` (never the key itself).
    var label: String {
        switch self {
        case .admin: "admin key"
        case .projectKey(let token): "service_role key sha256:" + SHA256.hash(data: Data(token.utf8)).prefix(6).map { String(format: "%02x", $0) }.joined()
        case .unauthenticated: "unknown"
        }
    }
}
