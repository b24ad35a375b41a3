import BranchCatalog
import BranchPostgres

/// A project's owner role and database carry the project's names and password. They are made by
/// renaming the template's once main has started, so the project's origin snapshot (taken from
/// the template copy before that) still holds the template's names: a server started from it gets
/// the same renaming, which does nothing where the names are already the project's.
enum OwnerRole {
    static func adoptionSQL(_ project: ProjectRecord) -> String {
        let templateRole = SQL.literal(ClusterFiles.templateRole), templateDatabase = SQL.literal(ClusterFiles.templateDatabase)
        return """
            DO $adopt$ BEGIN
              IF EXISTS (SELECT FROM pg_roles WHERE rolname = \(templateRole))
                 AND NOT EXISTS (SELECT FROM pg_roles WHERE rolname = \(SQL.literal(project.role))) THEN
                ALTER ROLE \(SQL.identifier(ClusterFiles.templateRole)) RENAME TO \(SQL.identifier(project.role));
                ALTER ROLE \(SQL.identifier(project.role)) PASSWORD \(SQL.literal(project.verifier));
              END IF;
              IF EXISTS (SELECT FROM pg_database WHERE datname = \(templateDatabase))
                 AND NOT EXISTS (SELECT FROM pg_database WHERE datname = \(SQL.literal(project.database))) THEN
                ALTER DATABASE \(SQL.identifier(ClusterFiles.templateDatabase)) RENAME TO \(SQL.identifier(project.database));
              END IF;
            END $adopt$;
            """
    }

    /// Gives a started server the project's names (see above).
    static func adopt(_ connection: ConnectionInfo, project: ProjectRecord) async throws {
        try await withConnection(connection) { try await $0.execute(adoptionSQL(project)) }
    }
}
