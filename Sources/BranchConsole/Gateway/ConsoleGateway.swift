package import BranchAPI
import BranchCore

/// What the console needs from the service, implemented by BranchServer over the same handlers,
/// permission table, allowlists and audit log as `/api/v1`: the console never reaches the engine
/// another way, so a page can show nothing and do nothing the signed-in user's API token could not.
package protocol ConsoleGateway: Sendable {
    /// The name the service gives console session tokens: they are listed with the user's API
    /// tokens, and the account page tells them apart by it.
    var sessionTokenName: String { get }
    /// Signs a user in with their password; returns a session token (an API token of theirs that
    /// expires) or throws `ConsoleFailure` (`unauthorized`, `rate_limited`).
    func signIn(email: String, password: String) async throws -> String
    /// Checks the signed-in user's password (counted like a sign-in attempt); throws
    /// `ConsoleFailure` (`unauthorized`, `sign_in_locked`) when it is wrong.
    func checkPassword(token: String, password: String) async throws
    /// Revokes a session token.
    func signOut(token: String) async
    /// Who a session token belongs to; nil for an unknown, revoked or expired one. Checked
    /// afresh on every call: the session middleware calls it once per request.
    func viewer(token: String) async -> ConsoleViewer?
    /// The names of the projects the session's user may see (the shell's switcher): the same
    /// filter as `listProjects`, without the sizes and states that make a project's entry costly.
    func projectNames(token: String) async throws -> [String]
    /// Whether the instance admin has never chosen their own sign-in (the first-run screen shows).
    func needsFirstRun() async -> Bool
    /// The first-run screen: proves ownership with the admin key printed by `make run`, then sets
    /// the admin's email and password. Returns a session token.
    func completeFirstRun(adminKey: String, email: String, password: String) async throws -> String
    /// Runs `body` against the API as the session's user: `operation` is the operation id of the
    /// OpenAPI document, checked against its permission rule for `project` and against the
    /// project's allowlist, and written to the audit log when `changes` is true, with `target` (what
    /// it acted on, e.g. "main from snapshot s_1", which the activity feed shows and undoes) as the
    /// entry's path after "console ". Errors come back as `ConsoleFailure`. The caller is the
    /// one `viewer(token:)` resolved for this request (`ConsoleSession.current`), so a page's
    /// several calls verify the token once; permissions and allowlists are checked on every call.
    func perform<T: Sendable>(
        _ operation: String, project: String?, token: String, changes: Bool, target: String?,
        _ body: @Sendable (any APIProtocol) async throws -> T
    ) async throws -> T
    /// A request to the auth admin API of a branch's data API (`/p/{project}[/b/{branch}]/auth/v1` + `path`, e.g.
    /// `/admin/users`) with the project's service_role key, for the auth users page: allowed to whoever may read the
    /// keys (`getProjectKeys`, owners), audited when `changes`. Answers the data API's status and JSON body.
    func authAdmin(
        project: String, branch: String?, token: String, changes: Bool, method: String, path: String, query: String, body: [UInt8]
    ) async throws -> (status: Int, body: [UInt8])
}

/// The signed-in user as pages see them.
package struct ConsoleViewer: Sendable {
    package var email: String
    package var isInstanceAdmin: Bool
    /// The user's role in each project they are a member of ("viewer", "developer", "owner").
    package var roles: [String: String]
    /// The gateway's own record of the caller, made when the session middleware checked the
    /// cookie: the request's further calls reuse it instead of verifying the token again (a
    /// revoked token still fails from the next request on). Opaque to pages.
    package var credential: (any Sendable)?
    /// The id of this session's token (the account page tells it from the user's other sessions).
    package var sessionID: String?

    package init(email: String, isInstanceAdmin: Bool, roles: [String: String], credential: (any Sendable)? = nil, sessionID: String? = nil) {
        self.email = email
        self.isInstanceAdmin = isInstanceAdmin
        self.roles = roles
        self.credential = credential
        self.sessionID = sessionID
    }

    /// The role in `project`: the instance admin owns every project.
    package func role(in project: String) -> ConsoleRole? {
        isInstanceAdmin ? .owner : roles[project].flatMap(ConsoleRole.init(rawValue:))
    }

    /// Whether the user may do what needs `required` in `project` (pages hide what they may not).
    package func may(_ required: ConsoleRole, in project: String) -> Bool {
        guard let role = role(in: project) else { return false }
        return role >= required
    }
}

/// A project role, ordered: viewer < developer < owner (the API's `ProjectRole`).
package enum ConsoleRole: String, Sendable, Comparable {
    case viewer, developer, owner

    private var rank: Int { self == .viewer ? 0 : self == .developer ? 1 : 2 }
    package static func < (lhs: ConsoleRole, rhs: ConsoleRole) -> Bool { lhs.rank < rhs.rank }
}

/// An API failure as the console shows it: the HTTP status the API would answer, the stable code,
/// the message and hint, and for SQL, where in the statement it went wrong.
package struct ConsoleFailure: Error, Sendable {
    package var status: Int
    package var code: String
    package var message: String
    package var hint: String?
    /// 1-based character position in the failing statement (SQL errors).
    package var position: Int?
    /// The failing statement's 0-based index in a batch, and its text (SQL errors).
    package var statementIndex: Int?
    package var statement: String?

    package init(
        status: Int, code: String, message: String, hint: String? = nil, position: Int? = nil, statementIndex: Int? = nil,
        statement: String? = nil
    ) {
        self.status = status
        self.code = code
        self.message = message
        self.hint = hint
        self.position = position
        self.statementIndex = statementIndex
        self.statement = statement
    }

    static let csrfRefused = ConsoleFailure(
        status: 403, code: "csrf_refused", message: "The form's security token is missing or stale, or the request came from another site.",
        hint: "Reload the page and try again.")

    /// A page or object the user may not see, answered as if it did not exist.
    package static func notFound(_ what: String) -> ConsoleFailure {
        ConsoleFailure(status: 404, code: "not_found", message: "\(what) does not exist, or you may not see it.")
    }
}
