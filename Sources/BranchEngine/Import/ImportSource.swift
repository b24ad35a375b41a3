import BranchPostgres
import Foundation

/// What an import reads from its source, all of it inside the source's exported snapshot so
/// the schema dump, the table list and the rows agree.
struct ImportSource: Sendable {
    struct Table: Sendable, Hashable {
        let schema: String
        let name: String
        /// Quoted, comma-separated: the columns COPY carries (generated ones are recomputed).
        let columns: String
        let bytes: UInt64
        let estimatedRows: UInt64
        var qualified: String { "\(SQL.identifier(schema)).\(SQL.identifier(name))" }
    }

    struct Extension: Sendable, Hashable {
        let name: String
        let schema: String
    }

    let version: String
    let major: Int
    /// A Supabase project's database: an `auth.users` table and Supabase's own roles.
    let isSupabase: Bool
    /// The schemas carried over: every user schema but Supabase's platform ones (and `auth`,
    /// whose users are copied into this project's own `auth` tables).
    let schemas: [String]
    /// Supabase platform schemas present in the source that are not carried over.
    let platformSchemas: [String]
    let tables: [Table]
    let unreadableTables: [String]
    /// Tables with row-level security that the source's user would read filtered: it neither
    /// owns them nor has BYPASSRLS. The copy reads with `row_security = off`, which refuses them.
    let filteredTables: [String]
    let extensions: [Extension]
    /// Roles named in grants and policies of the carried schemas.
    let roles: [String]
    /// `schema.sequence` (quoted) and its last value, for sequences that were used.
    let sequences: [(name: String, lastValue: String)]
    /// Supabase only: the columns of `auth.users` and `auth.identities` (non-generated), and
    /// triggers on `auth.users` that call functions outside `auth` (an app's "on sign-up" hook).
    let authUserColumns: [String]
    let authIdentityColumns: [String]
    let authTriggers: [String]
    let supabaseMigrations: Int

    /// Schemas Supabase runs its platform in; their contents belong to services Branch replaces
    /// (auth), does not run (storage, realtime, edge functions, GraphQL, vault) or manages itself.
    static let supabasePlatformSchemas: Set<String> = [
        "auth", "storage", "realtime", "_realtime", "supabase_functions", "graphql", "graphql_public", "pgsodium",
        "pgsodium_masks", "vault", "net", "pgbouncer", "_analytics", "cron", "pgtle", "_supavisor",
    ]

    /// Reads everything the import needs through `connection`, which is inside the snapshot.
    static func read(_ connection: PGConnection) async throws -> ImportSource {
        let versionRow = try await connection.query("SELECT current_setting('server_version'), current_setting('server_version_num')::int")
        let version = versionRow.rows.first?[0] ?? "?"
        let major = (versionRow.rows.first?[1].flatMap { Int($0) } ?? 0) / 10000
        let isSupabase = try await connection.query("""
            SELECT to_regclass('auth.users') IS NOT NULL
               AND EXISTS (SELECT FROM pg_roles WHERE rolname IN ('supabase_admin', 'supabase_auth_admin'))
            """).scalar == "t"

        let allSchemas = try await connection.query("""
            SELECT n.nspname FROM pg_namespace n
            WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', '_branch')
              AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
              AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_namespace'::regclass AND d.objid = n.oid AND d.deptype = 'e')
            ORDER BY 1
            """).rows.compactMap { $0.first ?? nil }
        let platform = isSupabase ? allSchemas.filter { supabasePlatformSchemas.contains($0) } : []
        let schemas = allSchemas.filter { !platform.contains($0) }
        let schemaArray = SQL.textArray(schemas)

        let generatedFilter = major >= 12 ? "AND a.attgenerated = ''" : ""
        let tableRows = try await connection.query("""
            SELECT n.nspname, c.relname, pg_relation_size(c.oid), greatest(c.reltuples, 0)::bigint, has_table_privilege(c.oid, 'SELECT'),
                   array_to_string(ARRAY(SELECT quote_ident(a.attname) FROM pg_attribute a
                                         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \(generatedFilter)
                                         ORDER BY a.attnum), ', ')
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = 'r' AND c.relpersistence <> 't' AND n.nspname = ANY($1::text[])
              AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
            ORDER BY 3 DESC, 1, 2
            """, [schemaArray]).rows
        var tables: [Table] = []
        var unreadable: [String] = []
        for row in tableRows {
            let table = Table(
                schema: row[0] ?? "", name: row[1] ?? "", columns: row[5] ?? "", bytes: UInt64(row[2] ?? "0") ?? 0,
                estimatedRows: UInt64(row[3] ?? "0") ?? 0)
            if row[4] == "t" { tables.append(table) } else { unreadable.append("\(table.schema).\(table.name)") }
        }

        let filtered = try await connection.query("""
            SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = 'r' AND c.relrowsecurity AND (n.nspname = ANY($1::text[]) OR ($2 AND n.nspname = 'auth' AND c.relname IN ('users', 'identities')))
              AND NOT pg_has_role(c.relowner, 'USAGE')
              AND NOT (SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user)
            ORDER BY 1
            """, [schemaArray, isSupabase ? "t" : "f"]).rows.compactMap { $0.first ?? nil }

        let extensions = try await connection.query("""
            SELECT e.extname, n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
            WHERE e.extname <> 'plpgsql' ORDER BY 1
            """).rows.map { Extension(name: $0[0] ?? "", schema: $0[1] ?? "public") }

        let roles = try await connection.query("""
            WITH carried AS (SELECT oid FROM pg_namespace WHERE nspname = ANY($1::text[])),
            grantees AS (
              SELECT (aclexplode(c.relacl)).grantee AS role FROM pg_class c WHERE c.relnamespace IN (SELECT oid FROM carried) AND c.relacl IS NOT NULL
              UNION SELECT (aclexplode(a.attacl)).grantee FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                    WHERE c.relnamespace IN (SELECT oid FROM carried) AND a.attacl IS NOT NULL
              UNION SELECT (aclexplode(n.nspacl)).grantee FROM pg_namespace n WHERE n.oid IN (SELECT oid FROM carried) AND n.nspacl IS NOT NULL
              UNION SELECT (aclexplode(p.proacl)).grantee FROM pg_proc p WHERE p.pronamespace IN (SELECT oid FROM carried) AND p.proacl IS NOT NULL
              UNION SELECT unnest(pol.polroles) FROM pg_policy pol JOIN pg_class c ON c.oid = pol.polrelid
                    WHERE c.relnamespace IN (SELECT oid FROM carried)
            )
            SELECT DISTINCT r.rolname FROM grantees g JOIN pg_roles r ON r.oid = g.role ORDER BY 1
            """, [schemaArray]).rows.compactMap { $0.first ?? nil }

        let sequences = try await connection.query("""
            SELECT format('%I.%I', schemaname, sequencename), last_value::text FROM pg_sequences
            WHERE schemaname = ANY($1::text[]) AND last_value IS NOT NULL ORDER BY 1
            """, [schemaArray]).rows.map { (name: $0[0] ?? "", lastValue: $0[1] ?? "1") }

        var userColumns: [String] = [], identityColumns: [String] = [], triggers: [String] = []
        var migrations = 0
        if isSupabase {
            userColumns = try await columns(of: "auth.users", connection, generatedFilter: generatedFilter)
            identityColumns = try await columns(of: "auth.identities", connection, generatedFilter: generatedFilter)
            triggers = try await connection.query("""
                SELECT pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_namespace fn ON fn.oid = p.pronamespace
                WHERE t.tgrelid = 'auth.users'::regclass AND NOT t.tgisinternal AND fn.nspname <> 'auth' ORDER BY t.tgname
                """).rows.compactMap { $0.first ?? nil }
            if try await connection.query("SELECT to_regclass('supabase_migrations.schema_migrations') IS NOT NULL").scalar == "t" {
                migrations = Int(try await connection.query("SELECT count(*) FROM supabase_migrations.schema_migrations").scalar ?? "0") ?? 0
            }
        }
        return ImportSource(
            version: version, major: major, isSupabase: isSupabase, schemas: schemas, platformSchemas: platform, tables: tables,
            unreadableTables: unreadable, filteredTables: filtered, extensions: extensions, roles: roles, sequences: sequences, authUserColumns: userColumns,
            authIdentityColumns: identityColumns, authTriggers: triggers, supabaseMigrations: migrations)
    }

    private static func columns(of table: String, _ connection: PGConnection, generatedFilter: String) async throws -> [String] {
        guard try await connection.query("SELECT to_regclass($1) IS NOT NULL", [table]).scalar == "t" else { return [] }
        return try await connection.query("""
            SELECT a.attname FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped \(generatedFilter)
            ORDER BY a.attnum
            """, [table]).rows.compactMap { $0.first ?? nil }
    }
}
