package import BranchPostgres
import BranchCore
import Foundation

/// Reads the row-level security of a branch's exposed relations from its catalog, in one
/// statement: whether RLS is enabled and forced, the policies with their expressions, and what the
/// data API's roles are granted. Any role may run it (`pg_class` and `pg_policy` are readable by
/// all), so it runs on the data API's own `authenticator` connections.
package enum PolicyLoader {
    /// The data API's roles whose privileges the brief reports.
    package static let apiRoles = ["anon", "authenticated", "service_role"]

    /// By relation, for every table, view and partitioned table of `schemas` (`_branch` never).
    package static func load(connection: PGConnection, schemas: [String]) async throws(PostgresError) -> [QualifiedName: TableSecurity] {
        let schemas = schemas.filter { $0 != SchemaLoader.internalSchema }
        let literal = "{" + schemas.map(arrayElement).joined(separator: ",") + "}"
        let rows = try await connection.query(query, [literal])
        guard let text = rows.scalar else { return [:] }
        let decoded: [Row]
        do {
            decoded = try JSONDecoder().decode([Row].self, from: Data(text.utf8))
        } catch {
            throw PostgresError(.postgresQueryFailed, "The row-level security catalog could not be decoded: \(error)", sqlState: "XX000")
        }
        var result: [QualifiedName: TableSecurity] = [:]
        for row in decoded {
            let name = QualifiedName(row.schema, row.name)
            var security = TableSecurity(
                relation: name, rowLevelSecurity: row.rls, forced: row.forced,
                policies: row.policies.map {
                    Policy(
                        name: $0.name, command: Self.command($0.command), permissive: $0.permissive, roles: $0.roles,
                        using: $0.using, check: $0.check)
                },
                privileges: row.privileges ?? [:])
            security.securityInvoker = row.securityInvoker
            result[name] = security
        }
        return result
    }

    /// One relation of the query's JSON answer.
    private struct Row: Decodable {
        /// One policy of it.
        struct PolicyRow: Decodable {
            var name, command: String
            var permissive: Bool
            var roles: [String]
            var using, check: String?
        }

        var schema, name: String
        var rls, forced, securityInvoker: Bool
        var policies: [PolicyRow]
        var privileges: [String: [String]]?
    }

    private static func command(_ polcmd: String) -> Policy.Command {
        switch polcmd {
        case "r": .select
        case "a": .insert
        case "w": .update
        case "d": .delete
        default: .all
        }
    }

    /// `"name"` as an element of a text array literal.
    private static func arrayElement(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    /// `$1` is the schemas (`text[]`). One row, one column: a JSON array (null when there is nothing).
    /// Privileges are asked only of roles that exist (`has_table_privilege` fails on others).
    private static let query = """
        select json_agg(json_build_object(
          'schema', n.nspname, 'name', c.relname,
          'rls', c.relrowsecurity, 'forced', c.relforcerowsecurity,
          'securityInvoker', exists (select from unnest(c.reloptions) o where o ~* '^security_invoker=(true|on|yes|1)$'),
          'policies', coalesce((
            select json_agg(json_build_object(
              'name', p.polname, 'command', p.polcmd, 'permissive', p.polpermissive,
              'roles', coalesce((
                select json_agg(case when r.oid = 0 then 'public' else pg_get_userbyid(r.oid) end order by r.ord)
                from unnest(p.polroles) with ordinality r(oid, ord)), '[]'),
              'using', pg_get_expr(p.polqual, p.polrelid),
              'check', pg_get_expr(p.polwithcheck, p.polrelid)
            ) order by p.polname)
            from pg_policy p where p.polrelid = c.oid), '[]'),
          'privileges', (
            select json_object_agg(role.rolname, (
              select coalesce(json_agg(privilege order by position), '[]')
              from unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE']) with ordinality x(privilege, position)
              where has_table_privilege(role.oid, c.oid, privilege)))
            from pg_roles role where role.rolname in ('anon', 'authenticated', 'service_role'))
        ) order by n.nspname, c.relname)
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('r', 'p', 'v', 'm', 'f') and not c.relispartition and n.nspname = any($1)
        """
}
