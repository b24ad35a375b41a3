/// Who may touch a relation's rows, as its catalog says: whether row-level security is on (and
/// forced on the owner too), its policies, and the table privileges of the data API's roles.
/// Read by `PolicyLoader` for the agent brief; the REST path never needs it (Postgres enforces it).
package struct TableSecurity: Sendable, Equatable {
    package var relation: QualifiedName
    /// `ALTER TABLE … ENABLE ROW LEVEL SECURITY`.
    package var rowLevelSecurity: Bool
    /// `ALTER TABLE … FORCE ROW LEVEL SECURITY`: the owner is subject to the policies too.
    package var forced: Bool
    /// By policy name.
    package var policies: [Policy]
    /// A view with `security_invoker`: it reads its tables as the caller, so their row-level
    /// security applies; other views read them as the view's owner, which it usually does not.
    package var securityInvoker: Bool = false
    /// For each of `anon`, `authenticated` and `service_role` that exists: the privileges it holds
    /// on the relation, of `SELECT`, `INSERT`, `UPDATE`, `DELETE`, in that order.
    package var privileges: [String: [String]]

    package init(relation: QualifiedName, rowLevelSecurity: Bool, forced: Bool, policies: [Policy], privileges: [String: [String]] = [:]) {
        self.relation = relation
        self.rowLevelSecurity = rowLevelSecurity
        self.forced = forced
        self.policies = policies
        self.privileges = privileges
    }
}

/// One row-level security policy (`pg_policy`).
package struct Policy: Sendable, Equatable {
    /// `FOR ALL | SELECT | INSERT | UPDATE | DELETE`.
    package enum Command: String, Sendable, Equatable {
        case all = "ALL", select = "SELECT", insert = "INSERT", update = "UPDATE", delete = "DELETE"
    }

    package var name: String
    package var command: Command
    /// PERMISSIVE (any one permissive policy lets a row through) or RESTRICTIVE (must hold as well).
    package var permissive: Bool
    /// The roles it applies to; `public` means every role.
    package var roles: [String]
    /// The `USING` expression: which existing rows it lets the command see.
    package var using: String?
    /// The `WITH CHECK` expression: what new or changed rows must satisfy.
    package var check: String?

    package init(name: String, command: Command, permissive: Bool = true, roles: [String] = ["public"], using: String?, check: String?) {
        self.name = name
        self.command = command
        self.permissive = permissive
        self.roles = roles
        self.using = using
        self.check = check
    }
}
