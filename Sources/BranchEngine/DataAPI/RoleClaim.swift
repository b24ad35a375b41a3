import BranchAuth
import BranchCore
import BranchPostgres
import BranchREST

/// The role a verified JWT runs REST requests as: its `role` claim (`anon` without one), as in
/// PostgREST. Postgres itself refuses a role `authenticator` is not a member of (403) or that does
/// not exist (401); refused here, before any statement, are the roles the service works as, which
/// `SET ROLE` would accept or which a token must never name: `authenticator` (the login role
/// itself), `none` (which resets to it), the auth and superuser roles, and Postgres's `pg_` roles.
enum RoleClaim {
    static let reserved: Set<String> = [DataAPIBootstrap.requestRole, DataAPIBootstrap.authRole, ClusterFiles.superuser, "supabase_admin", "none"]

    static func role(of claims: [String: JSONValue]) throws(RESTError) -> String {
        guard let claim = claims["role"], claim != .null else { return "anon" }
        guard let role = claim.stringValue, !role.isEmpty else {
            throw RESTError(
                status: 401, code: "PGRST301", message: "The JWT's role claim is not a role name",
                hint: "Sign tokens with \"role\": \"anon\", \"authenticated\" or \"service_role\".")
        }
        guard !reserved.contains(role.lowercased()), !role.lowercased().hasPrefix("pg_") else {
            throw RESTError(
                status: 401, code: "42501", message: "permission denied to set role \"\(role.prefix(63))\"",
                details: "The data API never runs as the service's own roles.",
                hint: "Sign tokens with \"role\": \"anon\", \"authenticated\", \"service_role\" or a role granted to authenticator.")
        }
        return role
    }
}
