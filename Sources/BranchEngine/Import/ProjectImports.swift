import BranchCatalog
import BranchCore
import BranchPostgres
import BranchStorage
import BranchSystem
import Foundation
import Synchronization

/// `branch project import NAME --from URL`: a new project made from a running Postgres (a
/// Supabase project's included), read in one consistent snapshot with read-only credentials.
///
/// The project is made as `project create` makes it, and filled before it turns ready: a
/// failure or a kill leaves no project behind (see `Projects.create`). The schema comes through
/// `pg_dump --schema-only` (in the source's exported snapshot) and `pg_restore`, split around the
/// data: definitions first, then the rows by parallel COPY workers that adopt the same snapshot,
/// then indexes, constraints and triggers with `pg_restore -j`.
package struct ProjectImports: EnginePart {
    let context: EngineContext

    package struct Request: Sendable {
        package var name: String
        package var from: String
        /// Parallel COPY workers (and `pg_restore -j` for the indexes); nil: two per core, 2 to 8.
        package var workers: Int?
        package var backups = true
        package var startedBy: String?
        /// A user (not the instance admin) to make the new project's owner.
        package var owner: String?
        /// Keep main in sync with the source by logical replication (`--mirror`).
        package var mirror = false
        /// The source's publication to subscribe to; nil: Branch makes one.
        package var publication: String?

        package init(name: String, from: String, workers: Int? = nil, backups: Bool = true, startedBy: String? = nil, owner: String? = nil) {
            self.name = name
            self.from = from
            self.workers = workers
            self.backups = backups
            self.startedBy = startedBy
            self.owner = owner
        }
    }

    /// Checks the name, the URL, the sign-in, the source's version and its read rights at once
    /// (so those mistakes answer the request itself), then imports as a job.
    package func start(_ request: Request) async throws -> Job {
        let name = try ResourceName(validating: request.name, kind: "project name")
        if try await catalog.project(name) != nil { throw EngineError.projectExists(name) }
        if let workers = request.workers, !(1...16).contains(workers) {
            throw EngineError(.invalidRequest, "workers must be 1 to 16, not \(workers).")
        }
        let source = try ExternalDatabase(url: request.from)
        let connection = try await source.connect()
        defer { connection.close() }
        try await connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        let inspected = try await inspect(connection, source: source)
        try check(inspected, source: source)
        let publication = request.mirror
            ? try await MirrorSetup.preflight(connection, source: source, inspected: inspected, publication: request.publication, project: name)
            : nil
        try await diskUsage.requireSpaceToGrow()
        let workers = request.workers ?? min(8, max(2, ProcessInfo.processInfo.activeProcessorCount * 2))
        return context.jobs.start(kind: .projectImport, project: name.rawValue, startedBy: request.startedBy) { progress in
            let report = try await run(
                name: name, source: source, workers: workers, backups: request.backups, publication: publication, progress: progress)
            if let owner = request.owner {
                try await Identities(context: context).setMember(email: owner, project: name.rawValue, role: .owner)
            }
            return .imported(report)
        }
    }

    /// Reads the source's catalog; a right the user lacks (a schema it may not use) is the user's
    /// to fix, not an internal failure.
    func inspect(_ connection: PGConnection, source: ExternalDatabase) async throws -> ImportSource {
        do {
            return try await ImportSource.read(connection)
        } catch let error as PostgresError where error.sqlState == "42501" {
            throw EngineError(
                .externalDatabasePermissionDenied, "\(source.connection.user) may not read the source's catalog: \(error.message)",
                hint: "Import as a user that may read every schema, e.g. GRANT pg_read_all_data TO \(SQL.identifier(source.connection.user)); (Postgres 14+), with BYPASSRLS.")
        }
    }

    /// Refuses sources this server cannot take whole.
    func check(_ inspected: ImportSource, source: ExternalDatabase) throws {
        if let problem = Self.versionProblem(source: (inspected.major, inspected.version), local: (installation.major, installation.version), url: source.redactedURL) {
            throw problem
        }
        if !inspected.unreadableTables.isEmpty {
            let shown = inspected.unreadableTables.prefix(5).joined(separator: ", ")
            let schemas = Set(inspected.unreadableTables.map { String($0.split(separator: ".").first ?? "public") }).sorted()
            throw EngineError(
                .externalDatabasePermissionDenied,
                "\(source.connection.user) may not read \(inspected.unreadableTables.count) table\(inspected.unreadableTables.count == 1 ? "" : "s") of the source: \(shown)\(inspected.unreadableTables.count > 5 ? ", …" : "").",
                hint: "Grant it on the source: " + schemas.map { "GRANT SELECT ON ALL TABLES IN SCHEMA \(SQL.identifier($0)) TO \(SQL.identifier(source.connection.user));" }.joined(separator: " "))
        }
        if !inspected.filteredTables.isEmpty {
            let user = SQL.identifier(source.connection.user)
            throw EngineError(
                .externalDatabasePermissionDenied,
                "\(source.connection.user) would read \(inspected.filteredTables.count) table\(inspected.filteredTables.count == 1 ? "" : "s") through row-level security, so only some of the rows: \(inspected.filteredTables.prefix(5).joined(separator: ", ")).",
                hint: "Import as a user that bypasses row-level security: ALTER ROLE \(user) BYPASSRLS; (Supabase's postgres user does).")
        }
    }

    /// Why a source of this version cannot be imported here, if it cannot: pg_dump reads servers
    /// of its own major and older (back to 9.2), not newer ones; imports need Postgres 10's catalog.
    static func versionProblem(source: (major: Int, version: String), local: (major: Int, version: String), url: String) -> EngineError? {
        if source.major > local.major {
            return EngineError(
                .sourceVersionUnsupported,
                "\(url) runs Postgres \(source.version), newer than this server's \(local.version): its pg_dump \(local.major) cannot read a Postgres \(source.major) database.",
                hint: "Install Postgres \(source.major) on this machine and restart branch serve, or import from a server of Postgres \(local.major) or older.")
        }
        if source.major < 10 {
            return EngineError(.sourceVersionUnsupported, "\(url) runs Postgres \(source.version); imports need Postgres 10 or newer.",
                               hint: "Upgrade the source, or move it with pg_dump and psql.")
        }
        return nil
    }

    // MARK: The import

    private func run(
        name: ResourceName, source: ExternalDatabase, workers: Int, backups: Bool, publication: MirrorSetup.Publication?, progress: JobProgress
    ) async throws -> ImportReport {
        let clock = ContinuousClock.now
        progress.step("reading the source")
        let exporter = try await source.connect()
        defer { exporter.close() }
        // The exported snapshot lives as long as this transaction: pg_dump and every worker adopt it.
        try await exporter.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        guard let snapshot = try await exporter.query("SELECT pg_export_snapshot()").scalar else {
            throw EngineError(.importFailed, "The source did not export a snapshot.")
        }
        let inspected = try await inspect(exporter, source: source)
        try check(inspected, source: source)
        let report = ImportReportDraft(ImportReport(source: source.redactedURL, sourceVersion: inspected.version, supabase: inspected.isSupabase))

        progress.step("dumping the schema")
        let dump = SchemaDump(file: layout.work("import", "\(name)-\(Identifiers.shortID(length: 8)).dump"), installation: installation)
        defer { dump.remove() }
        try await dump.make(from: source, snapshot: snapshot, excluding: inspected.platformSchemas)

        let creation = try await projects.create(name: name.rawValue, backups: backups, operation: "project.import") { target in
            let owner = target.project.role
            try await withConnection(target.superuser) { database in
                progress.step("roles and extensions")
                try await createRoles(inspected.roles, in: database, report: report)
                try await createExtensions(inspected.extensions, carried: inspected.schemas, owner: owner, in: database, report: report)

                progress.step("restoring the schema")
                let existing = Set(try await database.query("SELECT nspname FROM pg_namespace").rows.compactMap { $0.first ?? nil })
                let failures = try await dump.restore(section: "pre-data", into: target.superuser, role: owner, existingSchemas: existing, workers: 1)
                try await requireTables(inspected.tables, in: database, failures: failures)
                if let publication {
                    let later = try await dump.restore(section: "post-data", into: target.superuser, role: owner, existingSchemas: existing, workers: workers)
                    try await follow(
                        source, publication: publication, project: target.project, schemas: inspected.schemas, database: database, progress: progress)
                    try await database.execute("ANALYZE")
                    let rows = try await database.query("""
                        SELECT coalesce(sum(greatest(c.reltuples, 0)), 0)::bigint, coalesce(sum(pg_relation_size(c.oid)), 0)::bigint
                        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname = ANY($1::text[])
                        """, [SQL.textArray(inspected.schemas)]).rows.first
                    report.change { report in
                        report.schemas = inspected.schemas
                        report.tables = inspected.tables.count
                        report.rows = UInt64(rows?[0] ?? "0") ?? 0
                        report.bytes = UInt64(rows?[1] ?? "0") ?? 0
                        report.mirror = publication.name
                        for failure in failures + later { report.leave("definition", failure.object, failure.message) }
                        if inspected.isSupabase {
                            report.leave("auth", "users", "a mirror follows the app's schemas; Supabase Auth's users stay on the source")
                        }
                    }
                    return
                }

                progress.step("copying rows")
                let copier = TableCopier(
                    source: source, snapshot: snapshot, target: target.superuser, workers: workers,
                    progress: ImportProgress(tables: inspected.tables) { counts, eta in
                        progress.counts(
                            Job.Counts(tablesDone: counts.tablesDone, tablesTotal: counts.tablesTotal, rowsDone: counts.rows, bytesTotal: counts.bytesTotal, etaSeconds: eta),
                            bytes: counts.bytes)
                    })
                try await copier.copy(inspected.tables)
                let copied = copier.progress.snapshot
                if inspected.isSupabase {
                    progress.step("copying auth users")
                    try await SupabaseAuthImport(source: source, snapshot: snapshot, target: target.superuser)
                        .run(inspected, owner: owner, database: database, report: report)
                }
                try await setSequences(inspected.sequences, in: database)

                progress.step("building indexes and constraints")
                let later = try await dump.restore(section: "post-data", into: target.superuser, role: owner, existingSchemas: existing, workers: workers)
                try await refreshMaterializedViews(in: database, report: report)
                let unprotected = try await tablesOpenToAnon(in: database)
                report.change { report in
                    report.schemas = inspected.schemas
                    report.tables = inspected.tables.count
                    report.rows = copied.rows
                    report.bytes = copied.bytes
                    report.migrations = inspected.supabaseMigrations
                    for failure in failures + later { report.leave("definition", failure.object, failure.message) }
                    if !unprotected.isEmpty {
                        report.warnings.append(
                            "\(unprotected.count) table\(unprotected.count == 1 ? "" : "s") without row-level security that the anon key can reach through the data API: \(unprotected.prefix(8).joined(separator: ", ")). Enable RLS (ALTER TABLE … ENABLE ROW LEVEL SECURITY) or revoke anon's grants.")
                    }
                }
            }
        }
        _ = try? await exporter.execute("COMMIT")
        return report.change { report in
            report.project = creation.project
            report.keys = creation.keys
            for schema in inspected.platformSchemas { report.leave("schema", schema, Self.platformReason(schema)) }
            if inspected.isSupabase {
                report.leave("auth", "sessions and refresh tokens", "users sign in again (their passwords still work)")
            }
            report.durationMs = (ContinuousClock.now - clock) / .milliseconds(1)
            return report
        }
    }

    static func platformReason(_ schema: String) -> String {
        switch schema {
        case "auth": "its users and identities were copied into this project's auth; the rest is Supabase Auth's own"
        case "storage": "Supabase Storage (buckets and files) is not supported yet: copy the files separately"
        case "realtime", "_realtime": "Supabase Realtime is not supported yet"
        case "supabase_functions": "Supabase database webhooks are not supported yet"
        case "graphql", "graphql_public": "pg_graphql is not supported yet"
        case "vault", "pgsodium", "pgsodium_masks": "Supabase Vault's secrets are encrypted with Supabase's key and cannot be read here"
        default: "a Supabase platform schema"
        }
    }

    // MARK: Steps

    /// Subscribes main to the source's publication (made first when Branch is to make it), waits
    /// for the initial copy, guards main and records the mirror. A failure drops what it made on
    /// the source, so no replication slot is left holding back the source's WAL.
    private func follow(
        _ source: ExternalDatabase, publication: MirrorSetup.Publication, project: ProjectRecord, schemas: [String], database: PGConnection,
        progress: JobProgress
    ) async throws {
        let slot = "branch_\(project.name.rawValue.replacingOccurrences(of: "-", with: "_"))_\(Identifiers.shortID(length: 6).lowercased())"
        let setup = MirrorSetup(source: source, subscription: slot)
        var created: Bool { if case .create = publication { true } else { false } }
        // Recorded first: should the service die from here on, the reconciler finds the mirror
        // and drops what it made on the source (a slot left there holds back its WAL).
        let record = MirrorRecord(
            project: project.name.rawValue, sourceURL: source.connection.url, displayURL: source.redactedURL, publication: publication.name,
            createdPublication: created, subscription: slot, createdAt: Date())
        try await catalog.write { try $0.insert(record) }
        progress.step("creating the publication")
        try await setup.createPublication(publication)
        do {
            progress.step("copying rows (initial sync)")
            try await setup.subscribe(database, publication: publication.name)
            try await setup.waitForInitialCopy(database) { ready, total in
                progress.counts(Job.Counts(tablesDone: ready, tablesTotal: total), bytes: 0)
            }
            progress.step("guarding main")
            try await MirrorGuards.install(schemas: schemas, owner: project.role, in: database)
            await FaultInjection.point("mirror.create.after-subscribe")
        } catch {
            _ = await setup.unsubscribe(database)
            if created { await setup.dropPublication(publication.name) }
            throw error
        }
    }

    /// Roles that grants and policies name, missing here, made without login: the grants then hold.
    private func createRoles(_ roles: [String], in database: PGConnection, report: ImportReportDraft) async throws {
        let existing = Set(try await database.query("SELECT rolname FROM pg_roles").rows.compactMap { $0.first ?? nil })
        for role in roles where !existing.contains(role) && !role.hasPrefix("pg_") {
            try await database.execute("CREATE ROLE \(SQL.identifier(role)) NOLOGIN NOINHERIT")
            report.change { $0.rolesCreated.append(role) }
        }
    }

    /// The source's extensions that this server has, in the schema they were in.
    private func createExtensions(
        _ extensions: [ImportSource.Extension], carried: [String], owner: String, in database: PGConnection, report: ImportReportDraft
    ) async throws {
        let available = Set(try await database.query("SELECT name FROM pg_available_extensions").rows.compactMap { $0.first ?? nil })
        let installed = Set(try await database.query("SELECT extname FROM pg_extension").rows.compactMap { $0.first ?? nil })
        for item in extensions {
            if installed.contains(item.name) {
                report.change { $0.extensions.append(item.name) }
                continue
            }
            guard available.contains(item.name) else {
                report.change { $0.leave("extension", item.name, "not installed on this server (objects that use it are reported below)") }
                continue
            }
            let schema = SQL.identifier(item.schema)
            let failure = await Self.failure(of: """
                CREATE SCHEMA IF NOT EXISTS \(schema) AUTHORIZATION \(SQL.identifier(owner));
                CREATE EXTENSION IF NOT EXISTS \(SQL.identifier(item.name)) WITH SCHEMA \(schema) CASCADE
                """, in: database)
            report.change { report in
                if let failure { report.leave("extension", item.name, failure) } else { report.extensions.append(item.name) }
            }
        }
    }

    /// Runs `sql`; Postgres' message if it failed (for steps whose failure is reported, not fatal).
    static func failure(of sql: String, in database: PGConnection) async -> String? {
        do {
            try await database.execute(sql)
            return nil
        } catch {
            return error.message
        }
    }

    /// Every table whose rows are to come must exist now; otherwise its definition failed, and
    /// the import stops (and leaves nothing) rather than lose its rows.
    private func requireTables(_ tables: [ImportSource.Table], in database: PGConnection, failures: [SchemaDump.Failure]) async throws {
        var missing: [String] = []
        for table in tables where try await database.query("SELECT to_regclass($1) IS NULL", [table.qualified]).scalar == "t" {
            missing.append("\(table.schema).\(table.name)")
        }
        guard !missing.isEmpty else { return }
        let causes = failures.prefix(3).map { "\($0.object): \($0.message)" }.joined(separator: "; ")
        throw EngineError(
            .importFailed, "\(missing.count) table\(missing.count == 1 ? "" : "s") could not be created here (\(missing.prefix(5).joined(separator: ", "))): \(causes)",
            hint: "Nothing was kept. Most often a type or function comes from an extension this server lacks: install it, then import again.")
    }

    private func setSequences(_ sequences: [(name: String, lastValue: String)], in database: PGConnection) async throws {
        for sequence in sequences {
            try await database.query("SELECT setval($1::regclass, $2::bigint, true)", [sequence.name, sequence.lastValue])
        }
    }

    /// `pg_dump --schema-only` makes materialized views empty; fill the ones the source had filled.
    private func refreshMaterializedViews(in database: PGConnection, report: ImportReportDraft) async throws {
        let views = try await database.query("""
            SELECT format('%I.%I', schemaname, matviewname) FROM pg_matviews WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1
            """).rows.compactMap { $0.first ?? nil }
        for view in views {
            if let failure = await Self.failure(of: "REFRESH MATERIALIZED VIEW \(view)", in: database) {
                report.change { $0.leave("materialized view data", view, failure) }
            }
        }
    }

    /// Tables in `public` that anon may read with row-level security off.
    private func tablesOpenToAnon(in database: PGConnection) async throws -> [String] {
        try await database.query("""
            SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p') AND n.nspname = 'public' AND NOT c.relrowsecurity
              AND has_table_privilege('anon', c.oid, 'SELECT')
            ORDER BY 1
            """).rows.compactMap { $0.first ?? nil }
    }
}
