import Foundation

/// Where a branch's agent documents (`openapi.json`, `ai-spec.md`) point, and the limits they
/// state: the project and branch, the data API's base URL the client used, and the service's
/// own address for the management API.
package struct AgentDocsContext: Sendable {
    /// The limits the documents state (the values the service enforces).
    package struct Limits: Sendable {
        /// Rows one REST read answers at most (PostgREST's `db-max-rows`).
        package var maxRows: Int = 1000
        /// The largest data API request body, in bytes.
        package var requestBodyBytes: Int = 50 << 20
        /// The admin SQL endpoint's default statement timeout, in seconds.
        package var sqlTimeoutSeconds: Int = 30
        /// The admin SQL endpoint's largest result, in bytes (cut off beyond, with a flag).
        package var sqlResultBytes: Int = 10 << 20

        package init() {}
    }

    package var project: String
    /// The branch the base URL reaches now.
    package var branch: String
    /// Whether the base URL is the project's (`/p/{project}`), which follows `branch checkout`,
    /// rather than the branch's own (`/p/{project}/b/{branch}`).
    package var followsCheckout: Bool
    /// `http://host:8420/p/{project}[/b/{branch}]`, without a trailing `/`.
    package var baseURL: String
    /// `http://host:8420`: where `/api/v1` is.
    package var serviceURL: String
    /// The schema the REST API exposes.
    package var exposedSchema: String = "public"
    package var limits = Limits()
    /// The project's auth settings, as far as the documents describe them.
    package var auth = Auth()

    package struct Auth: Sendable {
        /// Whether new users may sign up.
        package var allowSignup = true
        /// Whether a new user confirms their email before signing in.
        package var confirmEmail = false
        /// Whether the project has a mail server (magic links, recovery, invitations work).
        package var sendsMail = false
        /// The sign-in providers turned on (`github`, `gitlab`, `google`, `keycloak`), sorted.
        package var providers: [String] = []

        package init() {}
    }

    package init(project: String, branch: String, followsCheckout: Bool, baseURL: String, serviceURL: String) {
        self.project = project
        self.branch = branch
        self.followsCheckout = followsCheckout
        self.baseURL = Self.trimmed(baseURL)
        self.serviceURL = Self.trimmed(serviceURL)
    }

    /// `/api/v1/projects/{project}/branches/{branch}`, on the service's address.
    package var managementBranchURL: String {
        "\(serviceURL)/api/v1/projects/\(Self.segment(project))/branches/\(Self.segment(branch))"
    }

    private static func trimmed(_ url: String) -> String {
        var url = url
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }

    /// A name as one path segment (project and branch names are plain already; this is a guard).
    private static func segment(_ name: String) -> String {
        name.addingPercentEncoding(withAllowedCharacters: DocumentNames.segmentCharacters) ?? name
    }
}
