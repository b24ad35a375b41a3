package import BranchCore
import Foundation
import GRDB

/// The SQLite catalog inside the pool: projects, branches, snapshots, the operations journal
/// and service settings. Every method is one transaction; `write` groups several.
///
/// One serialized connection with a rollback journal, not WAL: WAL's index is a memory-mapped
/// file, and when the pool's filesystem is full, touching a page of it that cannot be allocated
/// kills the process with SIGBUS. A rollback journal fails with SQLITE_FULL instead, which the
/// operation in progress turns into a clean `pool_full` error.
package final class Catalog: Sendable {
    private let database: DatabaseQueue
    /// Frees space when the disk is full (the pool's emergency reserve); true when it did.
    private let freeSpace: @Sendable () -> Bool
    /// Ready projects' JWT secrets, which the data API needs on every request; every write empties it.
    let jwtSecrets = JWTSecretCache()
    /// Every project's IP allowlist, which the HTTP API checks on every request (see `allowlist(of:)`).
    let allowlists = AllowlistCache()
    /// Seals the secrets the catalog stores (see `SealedColumn`); records read through
    /// `CatalogTransaction` carry them in plain text.
    let secrets: SecretBox
    /// How many plain values the start-up pass sealed (values written before secrets were sealed).
    package let sealedAtOpen: Int

    /// Opens (creating if needed) the catalog at `path`, migrates it to the current schema and
    /// seals any secret still in plain text with `secrets` (a `master_key_mismatch` when the
    /// catalog was sealed with another key). The default box has a new random key: for catalogs
    /// that live only as long as a test.
    /// `freeSpace` is called when SQLite finds the disk full; when it frees some (true), the
    /// transaction is tried once more (see `EmergencyReserve`).
    package init(path: String, secrets: SecretBox = .ephemeral(), freeSpace: @escaping @Sendable () -> Bool = { false }) throws {
        self.freeSpace = freeSpace
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        configuration.busyMode = .timeout(10)
        // A secret replaced by its sealed form (or deleted) is overwritten on disk, not left in a free block.
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA secure_delete = ON") }
        self.secrets = secrets
        do {
            database = try DatabaseQueue(path: path, configuration: configuration)
            try Self.migrator.migrate(database)
        } catch {
            throw CatalogError(.catalogUnavailable, "Could not open the catalog at \(path): \(error)")
        }
        chmod(path, 0o600)
        do {
            sealedAtOpen = try database.write { db in try Self.sealPlainSecrets(db, box: secrets) }
        } catch let error as CatalogError {
            throw error
        } catch {
            throw CatalogError(.catalogUnavailable, "Could not seal the secrets of the catalog at \(path): \(error)")
        }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "project") { t in
                t.column("name", .text).primaryKey()
                t.column("state", .text).notNull()
                t.column("pg_major", .integer).notNull()
                t.column("role", .text).notNull()
                t.column("database", .text).notNull()
                t.column("password", .text).notNull()
                t.column("verifier", .text).notNull()
                t.column("checked_out", .text).notNull()
                t.column("created_at", .datetime).notNull()
                t.column("operation_id", .text)
            }
            try db.create(table: "branch") { t in
                t.column("project", .text).notNull().references("project", onDelete: .cascade)
                t.column("name", .text).notNull()
                t.column("parent", .text)
                t.column("base_snapshot", .text)
                t.column("port", .integer).notNull().unique()
                t.column("state", .text).notNull()
                t.column("desired", .text).notNull()
                t.column("created_at", .datetime).notNull()
                t.column("operation_id", .text)
                t.primaryKey(["project", "name"])
            }
            try db.create(table: "snapshot") { t in
                t.column("id", .text).primaryKey()
                t.column("project", .text).notNull().references("project", onDelete: .cascade)
                t.column("name", .text)
                t.column("source_branch", .text).notNull()
                t.column("kind", .text).notNull()
                t.column("state", .text).notNull()
                t.column("created_at", .datetime).notNull()
                t.column("operation_id", .text)
                t.uniqueKey(["project", "name"])
            }
            try db.create(table: "operation") { t in
                t.column("id", .text).primaryKey()
                t.column("kind", .text).notNull()
                t.column("project", .text)
                t.column("target", .text)
                t.column("state", .text).notNull()
                t.column("started_at", .datetime).notNull()
                t.column("finished_at", .datetime)
                t.column("duration_ms", .double)
                t.column("error_code", .text)
                t.column("error_message", .text)
                t.column("recovery", .text)
            }
            try db.create(index: "operation_started", on: "operation", columns: ["started_at"])
            try db.create(table: "setting") { t in
                t.column("key", .text).primaryKey()
                t.column("value", .text).notNull()
            }
        }
        migrator.registerMigration("v2: limits, scale to zero, events") { db in
            try db.alter(table: "project") { t in
                t.add(column: "memory_limit", .integer)
                t.add(column: "cpu_limit", .double)
                t.add(column: "max_connections", .integer)
                t.add(column: "suspend_after", .integer)
                t.add(column: "suspend_main_after", .integer)
            }
            try db.alter(table: "branch") { t in
                t.add(column: "suspended", .boolean).notNull().defaults(to: false)
                t.add(column: "restarts", .integer).notNull().defaults(to: 0)
            }
            try db.create(table: "event") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("at", .datetime).notNull()
                t.column("project", .text).notNull()
                t.column("branch", .text)
                t.column("kind", .text).notNull()
                t.column("detail", .text).notNull()
            }
            try db.create(index: "event_at", on: "event", columns: ["at"])
        }
        migrator.registerMigration("v3: WAL lineages, schedules, backups") { db in
            try db.alter(table: "project") { t in t.add(column: "retention_days", .integer) }
            try db.alter(table: "branch") { t in t.add(column: "lineage", .text) }
            try db.alter(table: "snapshot") { t in
                t.add(column: "lineage", .text)
                t.add(column: "wal_start", .text)
            }
            try db.create(table: "lineage") { t in
                t.column("id", .text).primaryKey()
                t.column("project", .text).notNull().references("project", onDelete: .cascade)
                t.column("branch", .text).notNull()
                t.column("started_at", .datetime).notNull()
                t.column("ended_at", .datetime)
                t.column("start_snapshot", .text)
            }
            try db.create(table: "schedule") { t in
                t.column("project", .text).notNull().references("project", onDelete: .cascade)
                t.column("kind", .text).notNull()
                t.column("expression", .text).notNull()
                t.column("enabled", .boolean).notNull()
                t.column("keep_last", .integer).notNull()
                t.column("hourly", .integer).notNull()
                t.column("daily", .integer).notNull()
                t.column("weekly", .integer).notNull()
                t.column("monthly", .integer).notNull()
                t.column("last_run_at", .datetime)
                t.column("webhook_url", .text)
                t.column("webhook_slack", .boolean).notNull().defaults(to: false)
                t.primaryKey(["project", "kind"])
            }
            try db.create(table: "backup") { t in
                t.column("id", .text).primaryKey()
                t.column("project", .text).notNull()
                t.column("branch", .text).notNull()
                t.column("snapshot_id", .text).notNull()
                t.column("parent_id", .text)
                t.column("kind", .text).notNull()
                t.column("target", .text).notNull()
                t.column("status", .text).notNull()
                t.column("started_at", .datetime).notNull()
                t.column("finished_at", .datetime)
                t.column("raw_bytes", .integer).notNull()
                t.column("stored_bytes", .integer).notNull()
                t.column("error", .text)
            }
        }
        migrator.registerMigration("v4: project JWT secrets") { db in
            // Both NULL for projects made before: the engine gives each a secret at start (`ensureJWTSecrets`).
            try db.alter(table: "project") { t in
                t.add(column: "jwt_secret", .text)
                t.add(column: "jwt_issued_at", .datetime)
            }
        }
        migrator.registerMigration("v5: users, memberships, tokens, audit") { db in try IdentityTables.migrate(db) }
        migrator.registerMigration("v6: project IP allowlists") { db in
            // Comma-separated CIDRs; NULL: open to every address (every project made before).
            try db.alter(table: "project") { t in t.add(column: "allowlist", .text) }
        }
        migrator.registerMigration("v7: data API keys re-issued one at a time") { db in
            // NULL: the key was issued with the secret (`jwt_issued_at`).
            try db.alter(table: "project") { t in
                t.add(column: "anon_key_issued_at", .datetime)
                t.add(column: "service_role_key_issued_at", .datetime)
            }
        }
        migrator.registerMigration("v8: last verified restore per project") { db in try VerificationTable.migrate(db) }
        migrator.registerMigration("v9: alert channels, settings and size baselines") { db in try AlertTables.migrate(db) }
        migrator.registerMigration("v10: SQL snippets and SQL editor history") { db in try SnippetTable.migrate(db) }
        migrator.registerMigration("v11: alert outbox") { db in try AlertOutboxTable.migrate(db) }
        migrator.registerMigration("v12: mirrors of databases outside Branch") { db in try MirrorTable.migrate(db) }
        migrator.registerMigration("v13: snippet folders") { db in try SnippetTable.addFolders(db) }
        migrator.registerMigration("v14: auth settings per project") { db in try AuthSettingsTable.migrate(db) }
        migrator.registerMigration("v15: auth mail links and limits") { db in try AuthSettingsTable.addLinksAndLimits(db) }
        migrator.registerMigration("v16: auth mail templates") { db in try AuthSettingsTable.addMailTemplates(db) }
        migrator.registerMigration("v17: secure email change") { db in try AuthSettingsTable.addSecureEmailChange(db) }
        migrator.registerMigration("v18: what each branch was made from, protection, time to live") { db in
            try db.alter(table: "branch") { t in
                t.add(column: "origin", .text)
                t.add(column: "protected", .boolean).notNull().defaults(to: false)
                t.add(column: "expires_at", .datetime)
            }
        }
        migrator.registerMigration("v19: branch defaults") { db in
            try db.alter(table: "project") { t in
                t.add(column: "new_branch_time_to_live", .integer)
                t.add(column: "protect_new_branches", .boolean).notNull().defaults(to: false)
            }
        }
        migrator.registerMigration("v20: sign-in providers per project") { db in try AuthProviderTable.migrate(db) }
        migrator.registerMigration("v21: schema-only branches") { db in
            try db.alter(table: "branch") { t in t.add(column: "schema_only", .boolean).notNull().defaults(to: false) }
        }
        migrator.registerMigration("v22: pinned snapshots") { db in
            try db.alter(table: "snapshot") { t in t.add(column: "pinned", .boolean).notNull().defaults(to: false) }
        }
        migrator.registerMigration("v23: backup key fingerprints") { db in
            try db.alter(table: "backup") { t in t.add(column: "key_id", .text) }
        }
        return migrator
    }

    /// Writes a consistent copy of the catalog to `path` (`VACUUM INTO`, which refuses to overwrite
    /// a file): what an upgrade keeps to roll back to.
    package func backup(to path: String) async throws {
        do {
            try await database.writeWithoutTransaction { db in try db.execute(sql: "VACUUM INTO ?", arguments: [path]) }
        } catch {
            throw CatalogError(.catalogFailed, "Could not copy the catalog to \(path): \(error)")
        }
    }

    // MARK: Transactions

    /// Bumped when each write ends: what was read before it may be stale. Readers that keep what
    /// they read (the data API's routes) compare it before trusting their copy.
    package var writeGeneration: UInt64 { jwtSecrets.generation }

    /// Runs `body` in one write transaction.
    package func write<T: Sendable>(_ body: @Sendable @escaping (CatalogTransaction) throws -> T) async throws -> T {
        // After the commit (or the rollback): a secret read before it is not kept (see JWTSecretCache).
        defer { jwtSecrets.invalidate() }
        do {
            return try await retryingWhenFull { [database, secrets] in
                try await database.write { db in try body(CatalogTransaction(db: db, secrets: secrets)) }
            }
        } catch let error as any ReportableError {
            throw error
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
            throw CatalogError(.catalogConflict, "The catalog refused a change: \(error.message ?? "constraint violated")")
        } catch let error as DatabaseError where error.resultCode == .SQLITE_FULL {
            throw CatalogError(.poolFull, "The pool is full: the catalog could not record a change.")
        } catch {
            throw CatalogError(.catalogFailed, "Catalog write failed: \(error)")
        }
    }

    /// `attempt`, and once more if it found the disk full and `freeSpace` gave some back. A read
    /// can need space too: the first read after a write that could not finish must undo it.
    private func retryingWhenFull<T: Sendable>(_ attempt: @Sendable () async throws -> T) async throws -> T {
        do {
            return try await attempt()
        } catch let error as DatabaseError where error.resultCode == .SQLITE_FULL && freeSpace() {
            return try await attempt()
        }
    }

    /// Runs `body` on a consistent read snapshot.
    package func read<T: Sendable>(_ body: @Sendable @escaping (CatalogTransaction) throws -> T) async throws -> T {
        do {
            return try await retryingWhenFull { [database, secrets] in
                try await database.read { db in try body(CatalogTransaction(db: db, secrets: secrets)) }
            }
        } catch let error as any ReportableError {
            throw error
        } catch let error as DatabaseError where error.resultCode == .SQLITE_FULL {
            throw CatalogError(.poolFull, "The pool is full: the catalog cannot be read until space is freed (\(error.message ?? "disk full")).")
        } catch {
            throw CatalogError(.catalogFailed, "Catalog read failed: \(error)")
        }
    }

    // MARK: Conveniences (each its own transaction)

    package func projects() async throws -> [ProjectRecord] { try await read { try $0.projects() } }
    package func project(_ name: ResourceName) async throws -> ProjectRecord? { try await read { try $0.project(name) } }
    package func branches(_ project: ResourceName) async throws -> [BranchRecord] { try await read { try $0.branches(project) } }
    package func allBranches() async throws -> [BranchRecord] { try await read { try $0.allBranches() } }
    package func branch(_ project: ResourceName, _ name: ResourceName) async throws -> BranchRecord? {
        try await read { try $0.branch(project, name) }
    }
    package func snapshots(_ project: ResourceName) async throws -> [SnapshotRecord] { try await read { try $0.snapshots(project) } }
    package func setting(_ key: String) async throws -> String? { try await read { try $0.setting(key) } }
    package func setSetting(_ key: String, _ value: String) async throws { try await write { try $0.setSetting(key, value) } }
    package func record(_ event: EventRecord) async throws { try await write { try $0.insert(event) } }
    package func events(project: String? = nil, limit: Int = 100) async throws -> [EventRecord] {
        try await read { try $0.events(project: project, limit: limit) }
    }
    package func operations(project: String? = nil, limit: Int = 50) async throws -> [OperationRecord] {
        try await read { try $0.operations(project: project, limit: limit) }
    }
}

/// Typed access to the catalog inside one transaction. Secrets are sealed on the way in and
/// opened on the way out, so records carry them in plain text.
package struct CatalogTransaction {
    let db: Database
    let secrets: SecretBox

    // MARK: Projects

    package func projects() throws -> [ProjectRecord] {
        try ProjectRecord.order(Column("name")).fetchAll(db).map(opened)
    }

    package func project(_ name: ResourceName) throws -> ProjectRecord? {
        try ProjectRecord.fetchOne(db, key: name.rawValue).map(opened)
    }

    package func insert(_ project: ProjectRecord) throws { try sealed(project).insert(db) }
    package func update(_ project: ProjectRecord) throws { try sealed(project).update(db) }
    package func deleteProject(_ name: ResourceName) throws { _ = try ProjectRecord.deleteOne(db, key: name.rawValue) }

    // MARK: Branches

    package func allBranches() throws -> [BranchRecord] {
        try BranchRecord.order(Column("project"), Column("created_at")).fetchAll(db)
    }

    package func branches(_ project: ResourceName) throws -> [BranchRecord] {
        try BranchRecord.filter(Column("project") == project.rawValue).order(Column("created_at"), Column("name")).fetchAll(db)
    }

    package func branch(_ project: ResourceName, _ name: ResourceName) throws -> BranchRecord? {
        try BranchRecord.fetchOne(db, key: ["project": project.rawValue, "name": name.rawValue])
    }

    package func children(_ project: ResourceName, of parent: ResourceName) throws -> [BranchRecord] {
        try BranchRecord.filter(Column("project") == project.rawValue && Column("parent") == parent.rawValue).fetchAll(db)
    }

    package func usedPorts() throws -> Set<Int> {
        Set(try Int.fetchAll(db, sql: "SELECT port FROM branch"))
    }

    package func insert(_ branch: BranchRecord) throws { try branch.insert(db) }
    package func update(_ branch: BranchRecord) throws { try branch.update(db) }
    package func deleteBranch(_ project: ResourceName, _ name: ResourceName) throws {
        _ = try BranchRecord.deleteOne(db, key: ["project": project.rawValue, "name": name.rawValue])
    }

    // MARK: Snapshots

    package func snapshots(_ project: ResourceName) throws -> [SnapshotRecord] {
        try SnapshotRecord.filter(Column("project") == project.rawValue).order(Column("created_at"), Column("id")).fetchAll(db)
    }

    package func allSnapshots() throws -> [SnapshotRecord] { try SnapshotRecord.fetchAll(db) }

    /// A snapshot of `project` by id or by name.
    package func snapshot(_ project: ResourceName, idOrName: String) throws -> SnapshotRecord? {
        try SnapshotRecord
            .filter(Column("project") == project.rawValue && (Column("id") == idOrName || Column("name") == idOrName))
            .fetchOne(db)
    }

    /// Branches whose base is this snapshot.
    package func branches(basedOn snapshotID: String) throws -> [BranchRecord] {
        try BranchRecord.filter(Column("base_snapshot") == snapshotID).fetchAll(db)
    }

    package func insert(_ snapshot: SnapshotRecord) throws { try snapshot.insert(db) }
    package func update(_ snapshot: SnapshotRecord) throws { try snapshot.update(db) }
    package func deleteSnapshot(_ id: String) throws { _ = try SnapshotRecord.deleteOne(db, key: id) }

    // MARK: Operations journal

    package func insert(_ operation: OperationRecord) throws { try operation.insert(db) }
    package func update(_ operation: OperationRecord) throws { try operation.update(db) }
    package func operation(_ id: String) throws -> OperationRecord? { try OperationRecord.fetchOne(db, key: id) }

    package func runningOperations() throws -> [OperationRecord] {
        try OperationRecord.filter(Column("state") == OperationState.running.rawValue).order(Column("started_at")).fetchAll(db)
    }

    package func operations(project: String?, limit: Int) throws -> [OperationRecord] {
        var request = OperationRecord.order(Column("started_at").desc, Column("id"))
        if let project { request = request.filter(Column("project") == project) }
        return try request.limit(limit).fetchAll(db)
    }

    // MARK: Lineages

    package func insert(_ lineage: LineageRecord) throws { try lineage.insert(db) }
    package func update(_ lineage: LineageRecord) throws { try lineage.update(db) }
    package func lineage(_ id: String) throws -> LineageRecord? { try LineageRecord.fetchOne(db, key: id) }
    package func lineages(_ project: ResourceName) throws -> [LineageRecord] {
        try LineageRecord.filter(Column("project") == project.rawValue).order(Column("started_at")).fetchAll(db)
    }
    package func allLineages() throws -> [LineageRecord] { try LineageRecord.order(Column("started_at")).fetchAll(db) }
    package func lineages(_ project: ResourceName, branch: ResourceName) throws -> [LineageRecord] {
        try LineageRecord.filter(Column("project") == project.rawValue && Column("branch") == branch.rawValue)
            .order(Column("started_at")).fetchAll(db)
    }
    package func deleteLineage(_ id: String) throws { _ = try LineageRecord.deleteOne(db, key: id) }

    // MARK: Schedules

    package func schedules() throws -> [ScheduleRecord] { try ScheduleRecord.fetchAll(db).map(opened) }
    package func schedule(_ project: ResourceName, _ kind: ScheduleKind) throws -> ScheduleRecord? {
        try ScheduleRecord.fetchOne(db, key: ["project": project.rawValue, "kind": kind.rawValue]).map(opened)
    }
    package func save(_ schedule: ScheduleRecord) throws { try sealed(schedule).save(db) }
    package func deleteSchedule(_ project: ResourceName, _ kind: ScheduleKind) throws {
        _ = try ScheduleRecord.deleteOne(db, key: ["project": project.rawValue, "kind": kind.rawValue])
    }

    // MARK: Backups

    package func insert(_ backup: BackupRecord) throws { try backup.insert(db) }
    package func update(_ backup: BackupRecord) throws { try backup.update(db) }
    package func backup(_ id: String) throws -> BackupRecord? { try BackupRecord.fetchOne(db, key: id) }
    package func backups(_ project: ResourceName?) throws -> [BackupRecord] {
        var request = BackupRecord.order(Column("started_at").desc)
        if let project { request = request.filter(Column("project") == project.rawValue) }
        return try request.fetchAll(db)
    }
    package func deleteBackup(_ id: String) throws { _ = try BackupRecord.deleteOne(db, key: id) }

    // MARK: Events

    package func insert(_ event: EventRecord) throws {
        var event = event
        try event.insert(db)
    }

    package func events(project: String?, limit: Int) throws -> [EventRecord] {
        var request = EventRecord.order(Column("id").desc)
        if let project { request = request.filter(Column("project") == project) }
        return try request.limit(limit).fetchAll(db)
    }

    /// Keeps the newest `keep` events.
    package func pruneEvents(keep: Int) throws {
        try db.execute(sql: "DELETE FROM event WHERE id <= (SELECT MAX(id) FROM event) - ?", arguments: [keep])
    }

    // MARK: Settings

    /// A setting's value; those in `Catalog.secretSettings` are stored sealed and returned plain.
    package func setting(_ key: String) throws -> String? {
        let value = try String.fetchOne(db, sql: "SELECT value FROM setting WHERE key = ?", arguments: [key])
        guard let value, Catalog.secretSettings.contains(key) else { return value }
        return try secrets.open(value, purpose: SealedColumn.secretSettings.purpose)
    }

    package func setSetting(_ key: String, _ value: String) throws {
        let stored = Catalog.secretSettings.contains(key) ? secrets.seal(value, purpose: SealedColumn.secretSettings.purpose) : value
        try db.execute(
            sql: "INSERT INTO setting(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", arguments: [key, stored])
    }
}

