import BranchCatalog
package import BranchCore
package import BranchDiff
import BranchPostgres
import BranchRuntime
import BranchREST
import Foundation
import Logging

/// A migration to apply: SQL that runs in one transaction, and optionally SQL that undoes it.
package struct MigrationInput: Sendable {
    package var name: String
    package var sql: String
    package var down: String?
    /// Digits that order migrations; nil: the current UTC time (YYYYMMDDHHMMSS).
    package var version: String?

    package init(name: String, sql: String, down: String? = nil, version: String? = nil) {
        self.name = name
        self.sql = sql
        self.down = down
        self.version = version
    }
}

/// An applied migration and what it did.
package struct MigrationApplication: Sendable {
    package var migration: MigrationRecord
    package var rowsAffected: Int
    package var statements: Int
    package var durationMs: Double
}

/// What a migration would do, found by applying it to a throw-away branch of the target.
package struct MigrationCheckReport: Sendable {
    package var ok: Bool
    /// Why it failed there (the same error an apply would give).
    package var error: SQLFailure?
    package var schemaChanges: [SchemaChange]
    package var endpoints: [EndpointChange]
    package var rowsAffected: Int
    package var statements: Int
    package var durationMs: Double

    /// `none`, `additive` or `breaking`: the most severe of the schema changes.
    package var classification: String {
        schemaChanges.isEmpty ? "none" : schemaChanges.contains(where: \.isBreaking) ? "breaking" : "additive"
    }
}

/// Writes to one table since a migration, which restoring the state before it would undo.
package struct LostWrites: Sendable, Equatable {
    package var table: String
    package var inserted: Int
    package var updated: Int
    package var deleted: Int
}

/// A rollback, done or (a dry run) described.
package struct MigrationRollbackReport: Sendable {
    package enum Method: String, Sendable { case down, restore }

    package var version: String
    package var method: Method
    package var applied: Bool
    package var lostWrites: [LostWrites]
    /// With `restore`: the snapshot restored (taken just before the migration).
    package var snapshot: String?
}

/// Migrations: SQL that changes a branch's schema applied whole or not at all, recorded in the
/// branch's own history, checked first on a throw-away branch if asked, and undone by its down
/// script or by restoring the snapshot taken just before it.
///
/// Applying, top to bottom: check the SQL (nothing that cannot run in a transaction); refuse a
/// branch that a restore, reset or merge is changing; then, one migration per branch at a time:
/// make sure the history table exists, refuse a version already applied; snapshot the branch;
/// run the SQL and the history row in one transaction as the project's owner (on failure,
/// nothing changed: the snapshot is deleted and the error names the statement); snapshot again,
/// so a rollback can say which writes came after it.
package struct Migrations: EnginePart {
    let context: EngineContext

    package func list(project projectName: String, branch branchName: String?) async throws -> [MigrationRecord] {
        let (_, branch) = try await sessions.target(project: projectName, branch: branchName)
        return try await withSuperuser(branch, purpose: "migration list") { try await MigrationHistory.list($0) }
    }

    package func apply(
        project projectName: String, branch branchName: String?, _ input: MigrationInput, appliedBy: String
    ) async throws -> MigrationApplication {
        try MigrationScript.validate(version: input.version ?? "0", name: input.name)
        let script = try MigrationScript(input.sql)
        if let down = input.down { _ = try MigrationScript(down, what: "down script") }
        let (project, branch) = try await sessions.target(project: projectName, branch: branchName)
        try await refuseIfBusy(branch)

        return try await context.locks.withLock("migrations:\(branch.project)/\(branch.name)") {
            let stopwatch = Stopwatch()
            let history = try await prepareHistory(project, branch)
            let version = input.version ?? MigrationScript.newVersion(after: history.map(\.version))
            if let applied = history.first(where: { $0.version == version }) {
                throw applied.checksum == script.checksum || applied.checksum.isEmpty
                    ? EngineError(
                        .migrationExists, "Migration \(version) (\(applied.name)) is already applied to branch '\(branch.name)'.",
                        hint: "Give a new migration a new version (or leave the version out).")
                    : EngineError(
                        .migrationChanged,
                        "Migration \(version) was applied to branch '\(branch.name)' with other SQL (checksum \(applied.checksum.prefix(12))…).",
                        hint: "Applied migrations are history: write a new migration for the change.")
            }
            let before = try await takeSnapshot(of: branch)
            let outcome: PGScriptOutcome
            do {
                outcome = try await sessions.withOwnerConnection(project, branch, purpose: "migration") { connection in
                    try await Self.runInTransaction(script, on: connection) { connection, outcome in
                        _ = try await connection.query(MigrationHistory.insertSQL, [
                            version, input.name, script.checksum, input.sql, input.down, String(stopwatch.milliseconds), appliedBy,
                            before.id,
                        ])
                    }
                }
            } catch {
                await discardSnapshot(before)
                throw error
            }
            let after = try? await takeSnapshot(of: branch)
            if let after {
                try? await withSuperuser(branch, purpose: "migration") {
                    _ = try await $0.query(MigrationHistory.setSnapshotAfterSQL, [version, after.id])
                }
            }
            let record = try await withSuperuser(branch, purpose: "migration") { try await MigrationHistory.list($0) }
                .first { $0.version == version }
            guard let record else { throw EngineError.internalError("Migration \(version) applied but missing from the history.") }
            logger.notice("migration applied", metadata: [
                "branch": "\(branch.project)/\(branch.name)", "version": "\(version)", "name": "\(input.name)", "by": "\(appliedBy)",
            ])
            return MigrationApplication(
                migration: record, rowsAffected: Self.rowsAffected(outcome), statements: script.statements.statements.count,
                durationMs: stopwatch.milliseconds)
        }
    }

    /// Applies the migration to a throw-away branch of the target and reports what it would do;
    /// the target is left untouched and the throw-away branch deleted, whatever happens.
    package func check(project projectName: String, branch branchName: String?, _ input: MigrationInput) async throws -> MigrationCheckReport {
        try MigrationScript.validate(version: input.version ?? MigrationScript.newVersion(), name: input.name)
        let script = try MigrationScript(input.sql)
        let (project, branch) = try await sessions.target(project: projectName, branch: branchName)
        let scratchName = "migration-check-" + Identifiers.shortID(length: 6)
        // Never protected, whatever the project's defaults: it is deleted right after.
        _ = try await branches.create(project: project.name.rawValue, name: scratchName, from: branch.name.rawValue, protected: false)
        do {
            let report = try await check(script, project: project, branch: branch, scratchName: scratchName)
            await deleteScratch(scratchName, project: project)
            return report
        } catch {
            await deleteScratch(scratchName, project: project)
            throw error
        }
    }

    private func check(_ script: MigrationScript, project: ProjectRecord, branch: BranchRecord, scratchName: String) async throws -> MigrationCheckReport {
        let scratch = try await catalog.read { try $0.requireBranch(project.name, scratchName) }
        let schemaBefore = try await withSuperuser(branch, purpose: "migration check") {
            try await SchemaLoader.load(connection: $0, schemas: ["public"])
        }
        let stopwatch = Stopwatch()
        var report = MigrationCheckReport(
            ok: true, schemaChanges: [], endpoints: [], rowsAffected: 0, statements: script.statements.statements.count, durationMs: 0)
        do {
            let outcome = try await sessions.withOwnerConnection(project, scratch, purpose: "migration check") { connection in
                try await Self.runInTransaction(script, on: connection) { _, _ in }
            }
            report.rowsAffected = Self.rowsAffected(outcome)
        } catch let failure as SQLFailure {
            report.ok = false
            report.error = failure
        }
        report.durationMs = stopwatch.milliseconds
        guard report.ok else { return report }

        let diff = try await diffs.start(project: project.name.rawValue, DiffOptions(from: branch.name.rawValue, to: scratchName, schemaOnly: true))
        for try await events in diff {
            for case .schema(let change) in events { report.schemaChanges.append(change) }
        }
        let schemaAfter = try await withSuperuser(scratch, purpose: "migration check") {
            try await SchemaLoader.load(connection: $0, schemas: ["public"])
        }
        report.endpoints = EndpointChanges.compare(before: schemaBefore, after: schemaAfter)
        return report
    }

    /// Rolls back migration `version`: its down script when it has one, else a restore of the
    /// snapshot taken just before it (which also undoes every later migration and write; those
    /// writes are listed). Without `confirm`, only says what it would do.
    package func rollback(project projectName: String, branch branchName: String?, version: String, confirm: Bool) async throws -> MigrationRollbackReport {
        let (project, branch) = try await sessions.target(project: projectName, branch: branchName)
        try await refuseIfBusy(branch)
        return try await context.locks.withLock("migrations:\(branch.project)/\(branch.name)") {
            let history = try await withSuperuser(branch, purpose: "migration rollback") { try await MigrationHistory.list($0) }
            guard let migration = history.first(where: { $0.version == version }) else {
                throw EngineError(
                    .migrationNotFound, "Branch '\(branch.name)' has no applied migration \(version).",
                    hint: "List them with `branch migrate list --branch \(branch.name)`.")
            }
            if migration.hasDown {
                var report = MigrationRollbackReport(version: version, method: .down, applied: false, lostWrites: [])
                guard confirm else { return report }
                let down = try await withSuperuser(branch, purpose: "migration rollback") {
                    try await $0.query(MigrationHistory.downSQL, [version]).scalar ?? ""
                }
                let script = try MigrationScript(down, what: "down script")
                _ = try await takeSnapshot(of: branch)
                _ = try await sessions.withOwnerConnection(project, branch, purpose: "migration rollback") { connection in
                    try await Self.runInTransaction(script, on: connection, code: .migrationFailed) { connection, _ in
                        _ = try await connection.query(MigrationHistory.deleteSQL, [version])
                    }
                }
                report.applied = true
                return report
            }
            guard let before = migration.snapshotBefore, try await catalog.read({ try $0.snapshot(project.name, idOrName: before) }) != nil else {
                throw EngineError(
                    .migrationNotFound, "Migration \(version) has no down script and the snapshot taken before it is gone.",
                    hint: "Write the reverse change as a new migration.")
            }
            let since = migration.snapshotAfter ?? before
            var report = MigrationRollbackReport(
                version: version, method: .restore, applied: false, lostWrites: try await writes(since: since, on: branch, project: project),
                snapshot: before)
            guard confirm else { return report }
            _ = try await restores.restore(project: project.name.rawValue, snapshot: before, inPlace: true, branch: branch.name.rawValue)
            report.applied = true
            return report
        }
    }

    // MARK: Steps

    /// Runs `script` in a transaction on `connection`, then `finish` (the history row) in the
    /// same transaction, and commits; on any failure rolls back and throws the statement's error.
    static func runInTransaction(
        _ script: MigrationScript, on connection: PGConnection, code: ErrorCode = .migrationFailed,
        _ finish: (PGConnection, PGScriptOutcome) async throws -> Void
    ) async throws -> PGScriptOutcome {
        _ = try await connection.execute("BEGIN")
        do {
            let outcome = try await connection.script(script.text, byteLimit: 1 << 20)
            if var failure = outcome.failure {
                if script.unwrapped { failure.completedStatements += 1 }
                throw AdminSQL.failure(failure, in: script.text, statements: script.statements, code: code)
            }
            try await finish(connection, outcome)
            _ = try await connection.execute("COMMIT")
            return outcome
        } catch {
            if connection.isHealthy { _ = try? await connection.execute("ROLLBACK") }
            if let failure = error as? SQLFailure { throw failure }
            if let postgres = error as? PostgresError, postgres.sqlState != nil {
                throw SQLFailure(
                    code: code, message: postgres.server?.message ?? postgres.message, hint: postgres.server?.hint,
                    failure: StatementFailure(sqlState: postgres.sqlState, detail: postgres.server?.detail))
            }
            throw error
        }
    }

    /// Rows the script's INSERT, UPDATE, DELETE, MERGE and COPY statements affected.
    static func rowsAffected(_ outcome: PGScriptOutcome) -> Int {
        outcome.results.filter { ["INSERT", "UPDATE", "DELETE", "MERGE", "COPY"].contains(SQLValues.command($0.tag)) }.reduce(0) { $0 + $1.rowCount }
    }

    /// The history table (created on first use), read as the superuser.
    private func prepareHistory(_ project: ProjectRecord, _ branch: BranchRecord) async throws -> [MigrationRecord] {
        try await withSuperuser(branch, purpose: "migration") { connection in
            if try await connection.query(MigrationHistory.existsSQL).scalar != "t" {
                _ = try await connection.execute(MigrationHistory.ensureSQL(owner: project.role))
            }
            return try await MigrationHistory.list(connection)
        }
    }

    /// A restore, reset or merge in progress on the branch makes its state a moving target.
    private func refuseIfBusy(_ branch: BranchRecord) async throws {
        let running = try await catalog.operations(project: branch.project.rawValue, limit: 50).filter { $0.state == .running }
        let changing = ["snapshot.restore", "branch.reset", "table.restore", "branch.merge", "branch.delete", "backup.restore"]
        if let operation = running.first(where: { changing.contains($0.kind) && ($0.target ?? "").contains(branch.name.rawValue) }) {
            throw EngineError(
                .branchBusy, "Branch '\(branch.name)' is being changed by a running \(operation.kind) (operation \(operation.id)).",
                hint: "Apply the migration once it has finished (`branch operations`).")
        }
    }

    private func takeSnapshot(of branch: BranchRecord) async throws -> SnapshotRecord {
        try await context.withProjectLock(branch.project.rawValue) {
            let current = try await catalog.read { try $0.requireBranch(branch.project, branch.name.rawValue) }
            let (snapshot, _) = try await journal.run("snapshot.create", project: branch.project, target: branch.name.rawValue) { op in
                try await snapshots.take(of: current, kind: .migration, name: nil, op: op)
            }
            return snapshot
        }
    }

    /// Deletes the snapshot of a migration that did not apply (nothing changed since it).
    private func discardSnapshot(_ snapshot: SnapshotRecord) async {
        do {
            _ = try await snapshots.delete(project: snapshot.project.rawValue, snapshot.id)
        } catch {
            logger.warning("could not delete the snapshot of a failed migration", metadata: ["snapshot": "\(snapshot.id)", "error": "\(error)"])
        }
    }

    private func deleteScratch(_ name: String, project: ProjectRecord) async {
        do {
            _ = try await branches.delete(project: project.name.rawValue, name, force: true)
        } catch {
            logger.warning("could not delete a migration check's branch", metadata: ["branch": "\(project.name)/\(name)", "error": "\(error)"])
        }
    }

    /// Rows inserted, updated and deleted per table between snapshot `since` and the branch now.
    private func writes(since snapshot: String, on branch: BranchRecord, project: ProjectRecord) async throws -> [LostWrites] {
        let diff = try await diffs.start(project: project.name.rawValue, DiffOptions(from: snapshot, to: branch.name.rawValue, summary: true))
        var lost: [LostWrites] = []
        for try await events in diff {
            for case .table(let table) in events where table.added + table.removed + table.changed > 0 {
                lost.append(LostWrites(table: table.table, inserted: table.added, updated: table.changed, deleted: table.removed))
            }
        }
        return lost
    }

    private func withSuperuser<T: Sendable>(_ branch: BranchRecord, purpose: String, _ body: (PGConnection) async throws -> T) async throws -> T {
        let project = try await catalog.read { try $0.requireProject(branch.project.rawValue) }
        return try await sessions.withSuperuserConnection(project, branch, purpose: purpose, body)
    }

    private var sessions: OwnerSessions { OwnerSessions(context: context) }
    private var diffs: Diffs { Diffs(context: context) }
    private var restores: Restores { Restores(context: context) }
}
