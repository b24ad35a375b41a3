import BranchPostgres

/// What keeps a mirror's `main` read-only, and what a branch of it sheds to become writable.
///
/// On main the mirrored tables belong to the superuser (the owner role may only read them, and
/// cannot drop what guards them), a trigger on each refuses writes, and an event trigger refuses
/// DDL from anyone but the superuser. The subscription's apply worker writes as the superuser
/// with `session_replication_role = replica`, where ordinary triggers do not fire: it alone writes.
enum MirrorGuards {
    static let trigger = "branch_mirror_read_only"
    static let eventTrigger = "branch_mirror_no_ddl"

    /// Installs the guards on every table of `schemas` (as the superuser, after the restore).
    static func install(schemas: [String], owner: String, in database: PGConnection) async throws {
        try await database.execute("""
            CREATE SCHEMA IF NOT EXISTS _branch;
            CREATE OR REPLACE FUNCTION _branch.mirror_read_only() RETURNS trigger LANGUAGE plpgsql AS $function$
            BEGIN
              RAISE EXCEPTION USING ERRCODE = 'read_only_sql_transaction',
                MESSAGE = format('%I.%I is read-only: main of a mirror follows its source', TG_TABLE_SCHEMA, TG_TABLE_NAME),
                HINT = 'Create a branch of the mirror (branch create NAME) and write there, or write to the source.';
            END
            $function$;
            CREATE OR REPLACE FUNCTION _branch.mirror_no_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $function$
            BEGIN
              IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = session_user) THEN
                RAISE EXCEPTION USING ERRCODE = 'read_only_sql_transaction',
                  MESSAGE = 'main of a mirror is read-only: its schema follows the source',
                  HINT = 'Change the schema on the source (Branch applies it here), or create a branch of the mirror and change it there.';
              END IF;
            END
            $function$;
            """)
        let tables = try await database.query("""
            SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY($1::text[]) ORDER BY 1
            """, [SQL.textArray(schemas)]).rows.compactMap { $0.first ?? nil }
        for table in tables { try await guardTable(table, owner: owner, in: database) }
        for schema in schemas {
            try await database.execute("GRANT USAGE ON SCHEMA \(SQL.identifier(schema)) TO \(SQL.identifier(owner))")
        }
        try await database.execute("""
            DO $do$ BEGIN
              IF NOT EXISTS (SELECT FROM pg_event_trigger WHERE evtname = '\(eventTrigger)') THEN
                CREATE EVENT TRIGGER \(eventTrigger) ON ddl_command_start EXECUTE FUNCTION _branch.mirror_no_ddl();
              END IF;
            END $do$
            """)
    }

    /// One table: the superuser's, readable by the owner role, writes refused. Row triggers, so a
    /// write through a partitioned table is refused by its partition's.
    static func guardTable(_ table: String, owner: String, in database: PGConnection) async throws {
        let kind = try await database.query("SELECT relkind FROM pg_class WHERE oid = $1::regclass", [table]).scalar
        try await database.execute("""
            ALTER TABLE \(table) OWNER TO \(SQL.identifier(ClusterFiles.superuser));
            GRANT SELECT ON \(table) TO \(SQL.identifier(owner));
            """)
        guard kind == "r" else { return }
        try await database.execute("""
            DROP TRIGGER IF EXISTS \(trigger) ON \(table);
            DROP TRIGGER IF EXISTS \(trigger)_truncate ON \(table);
            CREATE TRIGGER \(trigger) BEFORE INSERT OR UPDATE OR DELETE ON \(table) FOR EACH ROW EXECUTE FUNCTION _branch.mirror_read_only();
            CREATE TRIGGER \(trigger)_truncate BEFORE TRUNCATE ON \(table) FOR EACH STATEMENT EXECUTE FUNCTION _branch.mirror_read_only();
            """)
    }

    /// Makes a copy of a mirror's data an ordinary writable database: its subscription dropped
    /// without touching the source's slot (that is main's), the guards removed, the tables given
    /// back to the owner role. Idempotent; runs as the superuser on a server started with no
    /// logical replication workers, so the copy never consumed the slot.
    static func detach(owner: String, in database: PGConnection) async throws {
        let subscriptions = try await database.query(
            "SELECT subname FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).rows.compactMap { $0.first ?? nil }
        for name in subscriptions {
            let subscription = SQL.identifier(name)
            try await database.execute("ALTER SUBSCRIPTION \(subscription) DISABLE")
            try await database.execute("ALTER SUBSCRIPTION \(subscription) SET (slot_name = NONE)")
            try await database.execute("DROP SUBSCRIPTION \(subscription)")
        }
        try await database.execute("DROP EVENT TRIGGER IF EXISTS \(eventTrigger)")
        let guarded = try await database.query("""
            SELECT DISTINCT format('%I.%I', n.nspname, c.relname) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace WHERE t.tgname = '\(trigger)'
            UNION
            SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = 'p' AND c.relowner = (SELECT oid FROM pg_roles WHERE rolname = '\(ClusterFiles.superuser)')
              AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_branch')
            """).rows.compactMap { $0.first ?? nil }
        for table in guarded {
            try await database.execute("""
                DROP TRIGGER IF EXISTS \(trigger) ON \(table);
                DROP TRIGGER IF EXISTS \(trigger)_truncate ON \(table);
                ALTER TABLE \(table) OWNER TO \(SQL.identifier(owner));
                """)
        }
    }
}
