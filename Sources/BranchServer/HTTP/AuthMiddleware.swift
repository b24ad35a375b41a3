import BranchCatalog
import BranchConsole
import BranchCore
import BranchEngine
import Crypto
import Foundation
import Hummingbird

/// Requires `Authorization: Bearer <token>` on every endpoint but those open to all (the health
/// check): a user's management token (the pool's admin key is the instance admin's first one),
/// checked with `authenticate`; what the caller may do is `PermissionsMiddleware`'s. The admin SQL
/// and migration endpoints also take the service_role key of the project they name (in the path,
/// or in `/api/admin/query`'s body), checked here like a token. A router without an engine (unit
/// tests' stubs) takes only the admin key.
struct AuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let keyDigest: SHA256.Digest
    let openPaths: Set<String>
    /// The principal a token belongs to; nil: only the admin key is taken (a router without an engine).
    let authenticate: (@Sendable (_ token: String) async throws -> Principal?)?
    /// Whether a token is a project's service_role key; nil: only tokens are taken.
    let projectKeyCheck: (@Sendable (_ token: String, _ project: String) async -> Bool)?

    init(
        adminKey: String, openPaths: Set<String>, authenticate: (@Sendable (String) async throws -> Principal?)? = nil,
        projectKeyCheck: (@Sendable (String, String) async -> Bool)? = nil
    ) {
        self.keyDigest = SHA256.hash(data: Data(adminKey.utf8))
        self.openPaths = openPaths
        self.authenticate = authenticate
        self.projectKeyCheck = projectKeyCheck
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.method == .get && openPaths.contains(request.uri.path) {
            return try await next(request, context)
        }
        // The console's pages authenticate by their session cookie (see BranchConsole's SessionMiddleware).
        if Console.owns(request.uri.path) { return try await next(request, context) }
        // Signing in is how a user without a token gets one.
        if request.method == .post && request.uri.path == "/api/v1/login" && authenticate != nil {
            return try await next(request, context)
        }
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else {
            throw Unauthorized(message: "This endpoint needs a token.")
        }
        let token = String(header.dropFirst("Bearer ".count))
        if let authenticate {
            if let principal = try await authenticate(token) {
                return try await APICaller.$current.withValue(.principal(principal)) { try await next(request, context) }
            }
        } else if SHA256.hash(data: Data(token.utf8)) == keyDigest {
            // Compare digests, not strings, so timing says nothing about the key.
            return try await APICaller.$current.withValue(.admin) { try await next(request, context) }
        }
        guard let projectKeyCheck, APICaller.acceptsProjectKeys(request.uri.path) else {
            throw Unauthorized(message: "The token is not valid: unknown, revoked or expired.")
        }
        var request = request
        guard let project = try await Self.project(named: &request), await projectKeyCheck(token, project) else {
            throw Unauthorized(message: "The key is neither a valid token nor the service_role key of the project the request names.")
        }
        return try await APICaller.$current.withValue(.projectKey(token: token, project: project)) { try await next(request, context) }
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
        var hint: String? {
            "Send `Authorization: Bearer <token>`: `branch token create` makes one; as root on the server the pool's admin.key is the instance admin's (`branch login URL --token KEY`)."
        }
    }
}

/// Who calls the management API: a user through one of their tokens, or the holder of a project's
/// service_role key (which only the admin SQL and migration endpoints take, for that project).
/// `admin` is a router without an engine (unit tests' stubs), taking the admin key.
enum APICaller: Sendable {
    case unauthenticated
    case admin
    case principal(Principal)
    case projectKey(token: String, project: String)

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

    /// Refuses anyone who may not act as `role` in `project`: 404 for a project the caller cannot
    /// see (its existence is not revealed), 403 for one they see with a lower role.
    func require(_ role: ProjectRole, in project: String) throws {
        switch self {
        case .admin: return
        case .projectKey(_, let keyProject):
            guard keyProject == project else { throw Self.hidden(project) }
        case .principal(let principal):
            guard let actual = principal.role(in: project) else { throw Self.hidden(project) }
            guard actual >= role else {
                throw Forbidden(message: "Your role in project '\(project)' is \(actual.rawValue); this needs \(role.rawValue).")
            }
        case .unauthenticated:
            throw AuthMiddleware<BasicRequestContext>.Unauthorized(message: "This endpoint needs a token.")
        }
    }

    /// Refuses a token scoped to one project (`createProject`, `importProject`): any user may
    /// make a project with an instance token, and owns it. Answers the user to make its owner
    /// (nil for the instance admin, who sees every project anyway).
    func requireProjectMaker() throws -> String? {
        guard case .principal(let principal) = self else { return nil }
        if principal.token.project != nil { throw Forbidden(message: "A token scoped to a project cannot make projects.") }
        return principal.user.isAdmin ? nil : principal.user.email
    }

    /// Refuses anyone but the instance admin.
    func requireInstanceAdmin() throws {
        switch self {
        case .admin: return
        case .principal(let principal) where principal.isInstanceAdmin: return
        case .unauthenticated: throw AuthMiddleware<BasicRequestContext>.Unauthorized(message: "This endpoint needs a token.")
        default: throw Forbidden(message: "Only the instance admin may do this (with a token not scoped to a project).")
        }
    }

    /// The signed-in user (for their own tokens and password); nil for stubs and project keys.
    var principal: Principal? {
        if case .principal(let principal) = self { return principal }
        return nil
    }

    var isInstanceAdmin: Bool {
        switch self {
        case .admin: true
        case .principal(let principal): principal.isInstanceAdmin
        default: false
        }
    }

    /// How the audit log and a migration's history name the caller (never a secret): the user and
    /// token, or `service_role key sha256:<12 hex digits>`.
    var label: String {
        switch self {
        case .admin: "admin key"
        case .principal(let principal): principal.label
        case .projectKey(let token, _): "service_role key sha256:" + SHA256.hash(data: Data(token.utf8)).prefix(6).map { String(format: "%02x", $0) }.joined()
        case .unauthenticated: "unknown"
        }
    }

    static func hidden(_ project: String) -> EngineFacingError {
        EngineFacingError(code: .projectNotFound, message: "There is no project '\(project)'.", hint: "List projects with `branch project list`.")
    }

    struct Forbidden: ReportableError {
        let message: String
        var code: ErrorCode { .forbidden }
        var hint: String? { "Ask an owner of the project (or the instance admin) for a higher role: `branch member add`." }
    }
}

/// An error in the engine's own words, raised at the edge (a project the caller may not see is
/// answered exactly as one that does not exist).
struct EngineFacingError: ReportableError {
    let code: ErrorCode
    let message: String
    let hint: String?
}
