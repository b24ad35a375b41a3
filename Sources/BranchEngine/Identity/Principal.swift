package import BranchCatalog
import Foundation

/// Who is calling, once their token checked out: the user, the token they presented and their
/// roles. A token scoped to a project reaches only that project, with at most its own role.
package struct Principal: Sendable {
    package var user: UserRecord
    package var token: TokenRecord
    package var memberships: [String: ProjectRole]

    /// The instance admin, through a token not scoped to one project: may do everything.
    package var isInstanceAdmin: Bool { user.isAdmin && token.project == nil }

    /// The user's role in `project` as this token allows it; nil: the project is not theirs to see.
    package func role(in project: String) -> ProjectRole? {
        var role: ProjectRole? = user.isAdmin ? .owner : memberships[project]
        if let scope = token.project {
            guard scope == project, let scoped = token.role else { return nil }
            role = role.map { min($0, scoped) }
        }
        return role
    }

    /// Whether the caller may act as `required` in `project`.
    package func may(_ required: ProjectRole, in project: String) -> Bool {
        guard let role = role(in: project) else { return false }
        return role >= required
    }

    /// How the audit log and errors name the caller (never the token's text).
    package var label: String { "\(user.email) (token \(token.id))" }
}
