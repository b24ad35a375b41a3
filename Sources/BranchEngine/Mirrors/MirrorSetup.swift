import BranchCatalog
import BranchCore
import BranchPostgres
import Foundation

/// How an import with `--mirror` subscribes its `main` to the source: what the source must
/// allow (checked before anything is made), the publication Branch uses or makes there, and the
/// subscription whose initial copy fills main.
struct MirrorSetup: Sendable {
    /// The publication to use on the source.
    enum Publication: Sendable, Equatable {
        /// One that exists already (`--publication NAME`).
        case existing(String)
        /// One Branch makes: for all tables when the user is a superuser (new tables then come by
        /// themselves), else for the carried tables, which the user owns.
        case create(name: String, allTables: Bool, tables: [String])

        var name: String {
            switch self {
            case .existing(let name): name
            case .create(let name, _, _): name
            }
        }
    }

    let source: ExternalDatabase
    let subscription: String

    /// What a mirror needs of its source and its user; refuses with the SQL that would fix it.
    static func preflight(
        _ connection: PGConnection, source: ExternalDatabase, inspected: ImportSource, publication requested: String?, project: ResourceName
    ) async throws -> Publication {
        let user = source.connection.user
        if let level = try await connection.query("SHOW wal_level").scalar, level != "logical" {
            throw EngineError(
                .externalDatabasePermissionDenied, "The source's wal_level is '\(level)': a mirror needs 'logical' to follow its changes.",
                hint: "On the source: ALTER SYSTEM SET wal_level = logical; then restart it (on a managed service, turn logical replication on).")
        }
        let rights = try await connection.query(
            "SELECT rolsuper, rolreplication FROM pg_roles WHERE rolname = current_user").rows.first ?? []
        let superuser = rights.first == "t", replication = rights.count > 1 && rights[1] == "t"
        guard superuser || replication else {
            throw EngineError(
                .externalDatabasePermissionDenied, "\(user) may not replicate from the source (it lacks the REPLICATION attribute).",
                hint: "On the source: ALTER ROLE \(SQL.identifier(user)) REPLICATION; then run the import again.")
        }
        if let requested {
            guard try await connection.query("SELECT count(*) FROM pg_publication WHERE pubname = $1", [requested]).scalar == "1" else {
                throw EngineError(.externalDatabasePermissionDenied, "The source has no publication '\(requested)'.",
                                  hint: "Create it on the source: CREATE PUBLICATION \(SQL.identifier(requested)) FOR ALL TABLES;")
            }
            return .existing(requested)
        }
        let name = "branch_\(project.rawValue.replacingOccurrences(of: "-", with: "_"))"
        let tables = inspected.tables.map(\.qualified)
        if superuser && !inspected.isSupabase { return .create(name: name, allTables: true, tables: tables) }
        let notOwned = try await connection.query("""
            SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = 'r' AND n.nspname = ANY($1::text[]) AND NOT pg_has_role(c.relowner, 'USAGE') ORDER BY 1
            """, [SQL.textArray(inspected.schemas)]).rows.compactMap { $0.first ?? nil }
        guard notOwned.isEmpty || superuser else {
            throw EngineError(
                .externalDatabasePermissionDenied,
                "\(user) may not publish \(notOwned.count) table\(notOwned.count == 1 ? "" : "s") it does not own (\(notOwned.prefix(5).joined(separator: ", "))).",
                hint: "As a superuser on the source: CREATE PUBLICATION \(name) FOR ALL TABLES; then import again with --publication \(name).")
        }
        return .create(name: name, allTables: false, tables: tables)
    }

    /// Makes the publication on the source when Branch is to make it.
    func createPublication(_ publication: Publication) async throws {
        guard case .create(let name, let allTables, let tables) = publication else { return }
        let connection = try await source.connect()
        defer { connection.close() }
        let what = allTables ? "FOR ALL TABLES" : (tables.isEmpty ? "" : "FOR TABLE \(tables.joined(separator: ", "))")
        try await connection.execute("DROP PUBLICATION IF EXISTS \(SQL.identifier(name)); CREATE PUBLICATION \(SQL.identifier(name)) \(what)")
    }

    /// Drops the publication Branch made (a failed import, a deleted mirror); never throws.
    func dropPublication(_ name: String) async {
        guard let connection = try? await source.connect() else { return }
        defer { connection.close() }
        _ = try? await connection.execute("DROP PUBLICATION IF EXISTS \(SQL.identifier(name))")
    }

    /// Subscribes main's database; the initial copy of every table starts at once.
    func subscribe(_ database: PGConnection, publication: String) async throws {
        var info = source.connection
        info.applicationName = subscription
        try await database.execute("""
            CREATE SUBSCRIPTION \(SQL.identifier(subscription)) CONNECTION \(SQL.literal(info.conninfo))
            PUBLICATION \(SQL.identifier(publication)) WITH (copy_data = true, slot_name = \(SQL.literal(subscription)))
            """)
    }

    /// Waits until every table's initial copy is done (each `pg_subscription_rel` row `r`eady),
    /// reporting how many are.
    func waitForInitialCopy(_ database: PGConnection, progress: @Sendable (Int, Int) -> Void) async throws {
        while true {
            let row = try await database.query("""
                SELECT count(*) FILTER (WHERE r.srsubstate = 'r'), count(*) FROM pg_subscription_rel r
                JOIN pg_subscription s ON s.oid = r.srsubid WHERE s.subname = $1
                """, [subscription]).rows.first
            let ready = Int(row?[0] ?? "0") ?? 0, total = Int(row?[1] ?? "0") ?? 0
            progress(ready, total)
            if ready == total { return }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// `forgetOnSource` for a recorded mirror: its slot, and its publication if Branch made it.
    static func forget(_ mirror: MirrorRecord) async -> String? {
        guard let source = try? ExternalDatabase(url: mirror.sourceURL) else {
            return "The mirror's source URL no longer parses: drop the slot '\(mirror.subscription)' on the source by hand."
        }
        return await MirrorSetup(source: source, subscription: mirror.subscription)
            .forgetOnSource(publication: mirror.createdPublication ? mirror.publication : nil)
    }

    /// Drops the slot and the publication Branch made on the source, from the source's side: for
    /// a mirror whose main is gone or not running (an import cut off by a crash, a stopped main).
    /// The slot may stay active a moment after its subscriber stopped; tries for a few seconds.
    /// Answers what could not be dropped.
    func forgetOnSource(publication: String?) async -> String? {
        guard let connection = try? await source.connect(timeout: .seconds(10)) else {
            return "The source could not be reached to drop its replication slot '\(subscription)': drop it there with SELECT pg_drop_replication_slot('\(subscription)');"
        }
        defer { connection.close() }
        if let publication { _ = try? await connection.execute("DROP PUBLICATION IF EXISTS \(SQL.identifier(publication))") }
        for _ in 0..<50 {
            let left = try? await connection.query(
                "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", [subscription]).scalar
            if left == "0" { return nil }
            _ = try? await connection.query(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active", [subscription])
            try? await Task.sleep(for: .milliseconds(200))
        }
        return "The source's replication slot '\(subscription)' is still in use: drop it there with SELECT pg_drop_replication_slot('\(subscription)');"
    }

    /// Drops main's subscription and with it the source's slot (a failed import, a deleted
    /// mirror). When the source cannot be reached the slot stays there: the message says how to
    /// drop it, since it holds back the source's WAL.
    func unsubscribe(_ database: PGConnection) async -> String? {
        let name = SQL.identifier(subscription)
        if (try? await database.execute("DROP SUBSCRIPTION IF EXISTS \(name)")) != nil { return nil }
        _ = try? await database.execute("ALTER SUBSCRIPTION \(name) DISABLE")
        _ = try? await database.execute("ALTER SUBSCRIPTION \(name) SET (slot_name = NONE)")
        _ = try? await database.execute("DROP SUBSCRIPTION IF EXISTS \(name)")
        return "The source could not be reached to drop its replication slot '\(subscription)': drop it there with SELECT pg_drop_replication_slot('\(subscription)'); it holds back the source's WAL."
    }
}
