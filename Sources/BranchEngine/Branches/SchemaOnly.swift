import BranchCatalog
import BranchPostgres
import BranchRuntime

/// A schema-only branch (`branch create --schema-only`): its source's tables, views, functions,
/// policies, grants and migration history without a row of data, for work on a copy of production
/// that must not hold its users' data. Once the branch has started, every table of the project's
/// database is emptied in one `TRUNCATE … RESTART IDENTITY CASCADE` (sequences start again),
/// except Branch's own (`_branch`: the migration history), an imported Supabase migration history
/// (`supabase_migrations`) and extensions' tables. The rows stay in the base snapshot the branch
/// shares with its source, so this costs no copy.
enum SchemaOnly {
    static let emptyingSQL = """
        DO $empty$
        DECLARE tables text;
        BEGIN
          SELECT string_agg(format('%I.%I', n.nspname, c.relname), ', ') INTO tables
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relkind IN ('r', 'p') AND c.relpersistence IN ('p', 'u')
             AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_branch', 'supabase_migrations')
             AND n.nspname NOT LIKE 'pg\\_%'
             AND NOT EXISTS (
               SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e');
          IF tables IS NOT NULL THEN
            EXECUTE 'TRUNCATE ' || tables || ' RESTART IDENTITY CASCADE';
          END IF;
        END $empty$;
        """

    /// Empties the tables of the branch server `spec` serves, in the project's database.
    static func empty(_ spec: ServerSpec, project: ProjectRecord) async throws {
        var connection = spec.superuserConnection
        connection.database = project.database
        try await withConnection(connection) { try await $0.execute(emptyingSQL) }
    }
}
