/// Row-level security in words, for the agent brief: whether it is on, what each policy lets
/// which roles do, and what the anon key and a signed-in user may do in the end.
enum PolicyWords {
    /// The data API's request roles, in the order the brief lists them.
    static let requestRoles = ["anon", "authenticated"]

    /// Markdown lines on `relation`'s row-level security; `security` nil when it was not read.
    static func describe(_ relation: Relation, security: TableSecurity?) -> [String] {
        guard let security else { return ["Row-level security: unknown (the catalog could not be read)."] }
        if relation.kind == .view || relation.kind == .materializedView {
            return [
                security.securityInvoker
                    ? "A view with `security_invoker`: it reads its tables as the caller, so their row-level security applies. " + grants(security)
                    : "A view without `security_invoker`: it reads its tables as its owner, so **their row-level security does not filter it**. " + grants(security)
            ]
        }
        guard security.rowLevelSecurity else {
            return ["Row-level security is **off**: whoever holds the anon key reads and writes every row the grants allow. " + grants(security)]
        }
        var lines = [
            "Row-level security is **on**" + (security.forced ? " and forced (the owner is subject too)" : "")
                + (security.policies.isEmpty ? ", with no policy: anon and signed-in users see no rows and write none; only service_role can." : ". Policies:")
        ]
        for policy in security.policies { lines.append("- " + sentence(policy)) }
        if !security.policies.isEmpty {
            lines.append("")
            lines.append(
                "In short: " + requestRoles.map { role in
                    let commands = allowed(role, security)
                    return "`\(role)` can " + (commands == "nothing" ? "do nothing" : commands)
                }.joined(separator: "; ") + ". `service_role` bypasses all of it.")
        }
        return lines
    }

    /// "`owners read` (permissive), for SELECT, to `authenticated`: rows are readable when `(owner = auth.uid())`."
    static func sentence(_ policy: Policy) -> String {
        let roles = policy.roles.contains("public") ? "every role" : policy.roles.map { "`\($0)`" }.joined(separator: ", ")
        let kind = policy.permissive ? "permissive" : "restrictive: it must hold as well as a permissive one"
        let using = policy.using
        let check = policy.check ?? policy.using
        let rule: String = switch policy.command {
        case .select: clause(using, "rows are readable")
        case .insert: clause(check, "new rows may be inserted")
        case .update: clause(using, "rows may be updated") + requirement(check, "the changed row")
        case .delete: clause(using, "rows may be deleted")
        case .all: clause(using, "rows may be read, updated and deleted") + requirement(check, "new and changed rows")
        }
        return "`\(policy.name)` (\(kind)), for \(policy.command.rawValue), to \(roles): \(rule)."
    }

    /// "rows are readable when `expr`"; "rows are readable: all of them" for no condition or
    /// `true`; "rows are readable: none" for `false`.
    private static func clause(_ expression: String?, _ what: String) -> String {
        switch expression?.lowercased() {
        case nil, "true": "\(what): all of them"
        case "false": "\(what): none"
        default: "\(what) when \(DocumentNames.code(DocumentNames.oneLine(expression ?? "")))"
        }
    }

    /// ", and the changed row must satisfy `expr`" (nothing when any row will do).
    private static func requirement(_ expression: String?, _ what: String) -> String {
        switch expression?.lowercased() {
        case nil, "true": ""
        case "false": ", and \(what) are always refused"
        default: ", and \(what) must satisfy \(DocumentNames.code(DocumentNames.oneLine(expression ?? "")))"
        }
    }

    /// What `role` may do once grants and permissive policies are combined: "SELECT, INSERT",
    /// or "nothing".
    static func allowed(_ role: String, _ security: TableSecurity) -> String {
        let granted = security.privileges[role] ?? []
        let commands = ["SELECT", "INSERT", "UPDATE", "DELETE"].filter { command in
            granted.contains(command)
                && security.policies.contains { policy in
                    policy.permissive && (policy.command == .all || policy.command.rawValue == command)
                        && (policy.roles.contains("public") || policy.roles.contains(role))
                        && policy.using?.lowercased() != "false"
                }
        }
        return commands.isEmpty ? "nothing" : commands.joined(separator: ", ") + " (rows the policies let through)"
    }

    /// "Grants: anon SELECT, INSERT; authenticated …."
    static func grants(_ security: TableSecurity) -> String {
        let parts = (requestRoles + ["service_role"]).compactMap { role -> String? in
            guard let privileges = security.privileges[role] else { return nil }
            return "`\(role)` " + (privileges.isEmpty ? "none" : privileges.joined(separator: ", "))
        }
        return parts.isEmpty ? "" : "Grants: " + parts.joined(separator: "; ") + "."
    }
}
