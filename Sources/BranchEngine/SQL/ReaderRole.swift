import BranchCatalog
import BranchPostgres
import Crypto
import Foundation

/// The login role viewers' read-only SQL (`querySQL`) runs as, in every project's cluster.
///
/// Not the owner role: Postgres lets a role signal the backends of any role whose privileges it
/// has, so SQL running as the owner could `pg_terminate_backend()` the app's own sessions. Not a
/// `SET ROLE` on a superuser session either: the SQL could `RESET ROLE`. The reader logs in itself
/// and is a member of no role. It may read what the owner may read, and no more: SELECT on every
/// relation the owner can SELECT and USAGE on every schema the owner can use, copied over before
/// each query (tables made since get theirs; what the owner lost, the reader loses), and
/// BYPASSRLS, since the owner owns its tables and sees all their rows. (`pg_read_all_data` would
/// be simpler but reads everything, `auth.users`' password hashes included.)
///
/// The role lives in the cluster's data, so snapshots, branches, restores and imports carry
/// whatever it was then, or nothing; `ensureSQL` (idempotent, run as the superuser before each
/// query) makes it right for this project, writing nothing when it already is. Its password is
/// derived from the owner's, so Branch stores nothing new and a copied cluster's reader, made for
/// another project, does not log in until it has been made right.
enum ReaderRole {
    static let name = "branch_reader"

    /// The reader's password: an HMAC of the project's owner password.
    static func password(_ project: ProjectRecord) -> String {
        hex(HMAC<SHA256>.authenticationCode(for: Data("branch reader role".utf8), using: SymmetricKey(data: Data(project.password.utf8))))
    }

    /// The SCRAM verifier of `password`, with a salt derived from it: the same every time, so
    /// `ensureSQL` can compare it with the role's and leave an equal one alone.
    static func verifier(_ project: ProjectRecord) throws -> String {
        let password = password(project)
        let salt = HMAC<SHA256>.authenticationCode(for: Data("salt".utf8), using: SymmetricKey(data: Data(password.utf8)))
        return try Scram.verifier(password: password, salt: Array(Data(salt).prefix(16)))
    }

    /// Makes the reader right in the project's database: created or reset, its password, no
    /// memberships, and the owner's read privileges. Run as the superuser.
    static func ensureSQL(owner: String, verifier: String) -> String {
        let reader = SQL.identifier(name), readerName = SQL.literal(name), owner = SQL.literal(owner)
        let attributes = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION INHERIT BYPASSRLS"
        // The schemas and relations to look at: everything but the system's own.
        let userSchemas = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'"
        // Read-write even on a server whose sessions default to read-only.
        return """
            SET default_transaction_read_only = off;
            DO $reader$
            DECLARE
              reader oid;
              item record;
            BEGIN
              -- Concurrent queries: one makes the role right, the others then find it so.
              PERFORM pg_advisory_xact_lock(hashtext('branch reader role'));
              IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = \(readerName)) THEN
                CREATE ROLE \(reader) \(attributes);
              ELSIF EXISTS (SELECT FROM pg_roles WHERE rolname = \(readerName)
                            AND (NOT rolcanlogin OR rolsuper OR rolcreatedb OR rolcreaterole OR rolreplication OR NOT rolinherit OR NOT rolbypassrls
                                 OR rolconnlimit <> -1 OR rolvaliduntil <> 'infinity')) THEN
                ALTER ROLE \(reader) \(attributes) CONNECTION LIMIT -1 VALID UNTIL 'infinity';
              END IF;
              IF (SELECT rolpassword FROM pg_authid WHERE rolname = \(readerName)) IS DISTINCT FROM \(SQL.literal(verifier)) THEN
                ALTER ROLE \(reader) PASSWORD \(SQL.literal(verifier));
              END IF;
              reader := (SELECT oid FROM pg_roles WHERE rolname = \(readerName));
              -- A member of no role: of the owner's, it could signal the owner's sessions.
              FOR item IN SELECT roleid::regrole AS role FROM pg_auth_members WHERE member = reader LOOP
                EXECUTE format('REVOKE %s FROM %I', item.role, \(readerName));
              END LOOP;
              -- The owner's database, schemas and readable relations, and nothing the owner may not read.
              FOR item IN
                SELECT format('CONNECT ON DATABASE %I', current_database()) AS privilege,
                       has_database_privilege(\(owner), current_database(), 'CONNECT') AS wanted,
                       has_database_privilege(reader, current_database(), 'CONNECT') AS held
                UNION ALL
                SELECT format('USAGE ON SCHEMA %I', n.nspname), has_schema_privilege(\(owner), n.oid, 'USAGE'),
                       has_schema_privilege(reader, n.oid, 'USAGE')
                FROM pg_namespace n WHERE \(userSchemas)
                UNION ALL
                SELECT format('SELECT ON %s', c.oid::regclass), has_table_privilege(\(owner), c.oid, 'SELECT'),
                       has_table_privilege(reader, c.oid, 'SELECT')
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND \(userSchemas)
              LOOP
                IF item.wanted AND NOT item.held THEN
                  EXECUTE format('GRANT %s TO %I', item.privilege, \(readerName));
                ELSIF item.held AND NOT item.wanted THEN
                  EXECUTE format('REVOKE %s FROM %I', item.privilege, \(readerName));
                END IF;
              END LOOP;
            END
            $reader$;
            """
    }

    private static func hex(_ code: some Sequence<UInt8>) -> String {
        code.map { String(format: "%02x", $0) }.joined()
    }
}

extension OwnerSessions {
    /// Runs `body` on a new connection to `branch` as the project's reader, made right first.
    func withReaderConnection<T: Sendable>(
        _ project: ProjectRecord, _ branch: BranchRecord, purpose: String, _ body: (PGConnection) async throws -> T
    ) async throws -> T {
        let ensure = ReaderRole.ensureSQL(owner: project.role, verifier: try ReaderRole.verifier(project))
        try await withSuperuserConnection(project, branch, purpose: "\(purpose) reader role") { _ = try await $0.execute(ensure) }
        return try await connect(project, branch, login: (ReaderRole.name, ReaderRole.password(project)), purpose: purpose, body)
    }
}
