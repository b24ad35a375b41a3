import BranchAPI
import BranchCatalog
import BranchCore
import BranchDiff
import BranchEngine
import Foundation

// The engine's domain results as the API's wire types (Components.Schemas, generated from
// Sources/BranchAPI/openapi.json). The only place the two meet.

typealias Schemas = Components.Schemas

extension Schemas.OperationTiming {
    init(_ timing: BranchEngine.OperationTiming) {
        self.init(durationMs: timing.durationMs, id: timing.id, steps: timing.steps.map { .init(ms: $0.ms, name: $0.name) })
    }
}

extension Schemas.ProjectInfo {
    init(_ view: ProjectView) {
        let record = view.record
        self.init(
            allowlist: Allowlist(stored: record.allowlist).entries, backupSchedule: view.backupSchedule,
            branches: view.branchCount, checkedOut: record.checkedOut.rawValue, cpus: record.cpuLimit, createdAt: record.createdAt,
            database: record.database, earliestRestorableAt: view.earliestRestorableAt, exclusiveBytes: view.exclusiveBytes.map(Int.init),
            lastVerification: view.lastVerification.map(Schemas.BackupVerification.init),
            maxConnections: record.maxConnections, memoryBytes: record.memoryLimit.map(Int.init), name: record.name.rawValue,
            newBranchTtlSeconds: record.newBranchTimeToLive, poolerHost: view.poolerHost, poolerPort: view.poolerPort,
            postgresMajor: record.pgMajor, protectNewBranches: record.protectNewBranches, retentionDays: view.retentionDays,
            role: record.role, runningBranches: view.runningBranches, snapshots: view.snapshotCount,
            suspendAfterSeconds: view.suspendAfterSeconds, suspendMainAfterSeconds: view.suspendMainAfterSeconds,
            suspendedBranches: view.suspendedBranches)
    }
}

extension Schemas.BranchInfo {
    init(_ view: BranchView) {
        let record = view.record
        self.init(
            baseSnapshot: record.baseSnapshot, checkedOut: view.checkedOut, createdAt: record.createdAt,
            createdFrom: record.origin.map { Schemas.BranchOrigin($0, schemaOnly: record.schemaOnly) }, earliestRestorableAt: view.earliestRestorableAt,
            exclusiveBytes: view.exclusiveBytes.map(Int.init), expiresAt: record.expiresAt, lastActiveAt: view.lastActiveAt,
            name: record.name.rawValue,
            parent: record.parent?.rawValue, poolerDatabase: FrontDoor.entryName(record.project, record.name), port: record.port,
            project: record.project.rawValue, protected: record.protected, restarts: record.restarts, state: record.state.rawValue,
            status: view.status.rawValue)
    }
}

extension Schemas.BranchOrigin {
    init(_ origin: BranchOrigin, schemaOnly: Bool = false) {
        switch origin {
        case .head: self.init(kind: .head)
        case .instant(let date): self.init(at: date, kind: .instant)
        case .position(let position): self.init(kind: .position, position: position.description)
        case .snapshot(let id): self.init(kind: .snapshot, snapshot: id)
        case .backup(let id): self.init(backup: id, kind: .backup)
        }
        if schemaOnly { self.schemaOnly = true }
    }
}

extension Schemas.SnapshotInfo {
    init(_ view: SnapshotView) {
        let record = view.record
        self.init(
            baseOf: view.baseOf, createdAt: record.createdAt, exclusiveBytes: view.exclusiveBytes.map(Int.init), id: record.id,
            kind: record.kind.rawValue, name: record.name?.rawValue, pinned: record.pinned, project: record.project.rawValue,
            sourceBranch: record.sourceBranch.rawValue)
    }
}

extension Schemas.ConnectionResponse {
    init(_ details: ConnectionDetails) {
        self.init(
            branch: details.branch, database: details.database, host: details.host, password: details.password, pooled: details.pooled,
            port: details.port, url: details.url, user: details.user)
    }
}

extension Schemas.ProjectKeys {
    init(_ keys: ProjectAPIKeys) {
        self.init(
            anonKey: keys.anonKey, issuedAt: keys.issuedAt, path: keys.path, serviceRoleKey: keys.serviceRoleKey,
            url: (RequestOrigin.current ?? "") + keys.path)
    }
}

extension Schemas.BranchResult {
    init(_ change: BranchChange) {
        self.init(
            branch: Schemas.BranchInfo(change.branch), operation: Schemas.OperationTiming(change.operation),
            replacedStateSnapshot: change.replacedState.map { Schemas.SnapshotInfo($0) })
    }
}

extension Schemas.DeleteResult {
    init(_ deletion: Deletion) { self.init(deleted: deletion.deleted, operation: Schemas.OperationTiming(deletion.operation)) }
}

extension BranchEngine.ProjectSettings {
    init(_ settings: Schemas.ProjectSettings) {
        self.init(
            memoryBytes: settings.memoryBytes.map { UInt64(max(0, $0)) }, cpus: settings.cpus, maxConnections: settings.maxConnections,
            suspendAfterSeconds: settings.suspendAfterSeconds, suspendMainAfterSeconds: settings.suspendMainAfterSeconds,
            retentionDays: settings.retentionDays, allowlist: settings.allowlist, newBranchTtlSeconds: settings.newBranchTtlSeconds,
            protectNewBranches: settings.protectNewBranches)
    }
}

extension Schemas.ScheduleInfo {
    init(_ view: ScheduleView) {
        let record = view.record
        self.init(
            daily: record.daily, enabled: record.enabled, expression: record.expression, hourly: record.hourly, keepLast: record.keepLast,
            kind: record.kind.rawValue, lastRunAt: record.lastRunAt, monthly: record.monthly, nextRunAt: view.nextRunAt,
            webhookSlack: record.webhookSlack, webhookURL: record.webhookURL.map(Redaction.url), weekly: record.weekly)
    }
}

extension Schemas.BackupInfo {
    init(_ backup: BackupSummary) {
        self.init(
            branch: backup.branch, error: backup.error, finishedAt: backup.finishedAt, id: backup.id, keyID: backup.keyID, kind: backup.kind.rawValue,
            parentID: backup.parentID, postgresVersion: backup.postgresVersion, project: backup.project, rawBytes: Int(backup.rawBytes),
            snapshotID: backup.snapshotID, startedAt: backup.startedAt, status: backup.status.rawValue, storedBytes: Int(backup.storedBytes),
            target: backup.target)
    }
}

extension Schemas.VerifyReport {
    init(_ report: BranchEngine.VerifyReport) {
        self.init(
            backup: report.backup, bytesVerified: Int(report.bytesVerified), chain: report.chain, chunksVerified: report.chunksVerified,
            durationMs: report.durationMs, indexesChecked: report.indexesChecked, ok: report.ok, rows: Int(report.rows), tables: report.tables)
    }
}

extension Schemas.JobInfo {
    init(_ job: Job) {
        var backup: Schemas.BackupInfo?
        var branch: Schemas.BranchInfo?
        var verify: Schemas.VerifyReport?
        var imported: Schemas.ImportReport?
        switch job.outcome {
        case .imported(let report)?: imported = .init(report)
        case .backup(let summary)?: backup = .init(summary)
        case .branch(let view)?: branch = .init(view)
        case .verify(let report)?: verify = .init(report)
        case nil: break
        }
        self.init(
            backup: backup, branch: branch, bytesDone: Int(job.bytesDone), bytesPerSecond: job.bytesPerSecond,
            counts: job.counts.map(Schemas.ImportCounts.init), durationMs: job.durationMs,
            errorCode: job.error?.code, errorHint: job.error?.hint, errorMessage: job.error?.message, finishedAt: job.finishedAt, id: job.id,
            _import: imported, kind: job.kind.rawValue, project: job.project, startedAt: job.startedAt, status: job.status.rawValue, step: job.step,
            verify: verify)
    }
}

extension Schemas.MirrorInfo {
    init(_ state: MirrorState) {
        self.init(
            checkedAt: state.checkedAt, following: state.following, lagBytes: state.lagBytes.map(Int.init),
            lastMessageSecondsAgo: state.lastMessageSecondsAgo, pendingChanges: state.pendingChanges, problem: state.problem,
            publication: state.publication, source: state.source, subscription: state.subscription)
    }
}

extension Schemas.ImportCounts {
    init(_ counts: Job.Counts) {
        self.init(
            bytesTotal: Int(counts.bytesTotal), etaSeconds: counts.etaSeconds, rowsDone: Int(counts.rowsDone), tablesDone: counts.tablesDone,
            tablesTotal: counts.tablesTotal)
    }
}

extension Schemas.ImportReport {
    init(_ report: BranchEngine.ImportReport) {
        self.init(
            authIdentities: report.authIdentities, authUsers: report.authUsers, bytes: Int(report.bytes), durationMs: report.durationMs,
            extensions: report.extensions, keys: report.keys.map(Schemas.ProjectKeys.init), migrations: report.migrations, mirror: report.mirror,
            notCarried: report.notCarried.map { .init(kind: $0.kind, name: $0.name, reason: $0.reason) },
            project: report.project.map(Schemas.ProjectInfo.init), rolesCreated: report.rolesCreated, rows: Int(report.rows),
            schemas: report.schemas, source: report.source, sourceVersion: report.sourceVersion, supabase: report.supabase,
            tables: report.tables, warnings: report.warnings)
    }
}

extension Schemas.OperationInfo {
    init(_ record: OperationRecord) {
        self.init(
            durationMs: record.durationMs, errorCode: record.errorCode, errorMessage: record.errorMessage, finishedAt: record.finishedAt,
            id: record.id, kind: record.kind, project: record.project, recovery: record.recovery, startedAt: record.startedAt,
            state: record.state.rawValue, target: record.target)
    }
}

extension Schemas.EventInfo {
    init(_ record: EventRecord) {
        self.init(at: record.at, branch: record.branch, detail: record.detail, id: Int(record.id ?? 0), kind: record.kind, project: record.project)
    }
}

extension Schemas.MetricSeries {
    init(_ series: BranchEngine.MetricSeries) {
        self.init(branch: series.branch, project: series.project, samples: series.samples.map { sample -> Schemas.MetricSample in
            Schemas.MetricSample(
                activeConnections: sample.activeConnections, at: sample.at, connections: sample.connections, cpuPercent: sample.cpuPercent,
                databaseBytes: sample.databaseBytes.map(Int.init), deadlocks: sample.deadlocks, exclusiveBytes: sample.exclusiveBytes.map(Int.init),
                idleConnections: sample.idleConnections, ioReadBytesPerSecond: sample.ioReadBytesPerSecond,
                ioWriteBytesPerSecond: sample.ioWriteBytesPerSecond, maxConnections: sample.maxConnections, memoryBytes: sample.memoryBytes.map(Int.init),
                restarts: sample.restarts, rowsDeletedPerSecond: sample.rowsDeletedPerSecond, rowsInsertedPerSecond: sample.rowsInsertedPerSecond,
                rowsUpdatedPerSecond: sample.rowsUpdatedPerSecond, status: sample.status.rawValue, walBytesPerSecond: sample.walBytesPerSecond)
        })
    }
}

extension Schemas.StatusResponse {
    init(_ status: ServiceStatus) {
        self.init(
            backupKey: status.backupKey.map(Schemas.BackupKeyStatus.init), backups: status.backups.map(Schemas.ProjectBackupStatus.init),
            branches: status.branches, branchesRunning: status.branchesRunning,
            pool: .init(
                freeBytes: Int(status.pool.freeBytes), mount: status.pool.mount, path: status.pool.path, quotas: status.pool.quotas,
                reserveBytes: Int(status.pool.reserveBytes), totalBytes: Int(status.pool.totalBytes), usage: .init(status.pool.usage)),
            pooler: .init(port: status.poolerPort, running: status.poolerRunning),
            postgres: .init(
                binDirectory: status.postgres.binDirectory, installedVersion: status.postgres.installedVersion, major: status.postgres.major,
                version: status.postgres.version),
            projects: status.projects, runtime: status.runtime.name,
            runtimeDetails: .init(
                cgroups: status.runtime.cgroups, limitsEnforced: status.runtime.limitsEnforced, name: status.runtime.name,
                notes: status.runtime.notes),
            startedAt: status.startedAt, verifyIntervalSeconds: status.verifyInterval.map { Int($0.components.seconds) }, version: status.version)
    }
}

extension Schemas.PoolUsage {
    init(_ usage: BranchEngine.PoolUsage) {
        self.init(
            backups: usage.backups.map(Int.init), backupsOnPool: usage.backupsOnPool, branches: usage.branches.map(Int.init),
            largest: usage.largest.map { item in
                Schemas.PoolUsageItem(
                    bytes: Int(item.bytes), command: item.command, kind: .init(rawValue: item.kind.rawValue)!, name: item.name,
                    project: item.project)
            },
            logs: Int(usage.logs), measuredAt: usage.measuredAt, snapshots: usage.snapshots.map(Int.init),
            templates: usage.templates.map(Int.init), wal: Int(usage.wal), work: Int(usage.work))
    }
}

extension Schemas.DiffSchemaChange {
    init(_ change: SchemaChange) {
        self.init(
            change: change.change.rawValue, classification: change.classification.rawValue, from: change.from, name: change.name,
            objectType: change.objectType, reason: change.reason, to: change.to)
    }
}

extension Schemas.MergeResult {
    init(_ outcome: MergeOutcome) {
        let conflicts: [Schemas.MergeConflict] = outcome.conflicts.map { Schemas.MergeConflict($0) }
        let tables: [Schemas.MergeTablePlan] = outcome.tables.map { plan in
            Schemas.MergeTablePlan(conflicts: plan.conflicts, deletes: plan.deletes, inserts: plan.inserts, table: plan.table, updates: plan.updates)
        }
        let changes: [Schemas.DiffSchemaChange] = outcome.schemaChanges.map { Schemas.DiffSchemaChange($0) }
        self.init(
            applied: outcome.applied, base: outcome.base, conflicts: conflicts, dryRun: outcome.dryRun,
            operation: outcome.operation.map { Schemas.OperationTiming($0) }, schemaChanges: changes, schemaStatements: outcome.schemaStatements,
            source: outcome.source, tables: tables, target: outcome.target, undoSnapshot: outcome.undoSnapshot)
    }
}

extension Schemas.MergeConflict {
    init(_ conflict: BranchEngine.MergeConflict) {
        self.init(
            base: conflict.base.map { Schemas.RowValues($0) }, key: Schemas.RowValues(conflict.key), kind: conflict.kind.rawValue,
            resolution: conflict.resolution?.rawValue, source: conflict.source.map { Schemas.RowValues($0) }, table: conflict.table,
            target: conflict.target.map { Schemas.RowValues($0) })
    }
}

extension Schemas.RowValues {
    init(_ values: [String: String?]) { self.init(additionalProperties: values) }
}
