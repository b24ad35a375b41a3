import BranchRuntime
import BranchBackup
import BranchCatalog
import BranchCore
import BranchPostgres
import BranchStorage
import BranchSystem
import Foundation
import Logging

extension Backups {
    /// Starts restoring a backup chain as a new branch; returns its job at once.
    package func restore(_ id: String, as newName: String, project: String? = nil) async throws -> Job {
        let name = try ResourceName(validating: newName, kind: "branch name")
        let projectOverride = try project.map { try ResourceName(validating: $0, kind: "project name") }
        let (chain, key) = try await chain(for: id)
        let last = chain.last!
        let projectName = try projectOverride ?? ResourceName(validating: last.project, kind: "project name")
        try requireSameMajor(last, doing: "Restore")
        let secrets = try secrets(of: last, key: key)
        if let existing = try await catalog.project(projectName) {
            guard existing.role == secrets.role else {
                throw EngineError(
                    .backupProjectMismatch,
                    "Project '\(projectName)' has the role '\(existing.role)', the backup's data has '\(secrets.role)'.",
                    hint: "Restore into a new project: --project NEW.")
            }
            if try await catalog.branch(projectName, name) != nil { throw EngineError.branchExists(projectName, name) }
        }
        return context.jobs.start(kind: .backupRestore, project: projectName.rawValue) { progress in
            .branch(try await runRestore(chain: chain, key: key, secrets: secrets, project: projectName, branch: name, progress: progress))
        }
    }

    /// Throws unless `manifest` is of this service's Postgres major version; `doing` starts the
    /// hint ("Restore it on a service with Postgres 16.").
    func requireSameMajor(_ manifest: BackupManifest, doing: String) throws {
        let major = manifest.postgresVersion.split(separator: ".").first ?? ""
        guard Int(major) == installation.major else {
            throw EngineError(
                .postgresVersionMismatch, "Backup \(manifest.id) is of Postgres \(manifest.postgresVersion); this service runs \(installation.version).",
                hint: "\(doing) it on a service with Postgres \(major).")
        }
    }

    /// The project metadata sealed in a backup's manifest (its role, password, database, limits).
    func secrets(of manifest: BackupManifest, key: BackupKey) throws -> BackupSecrets {
        guard let sealed = try manifest.openSecrets(key: key) else {
            throw BackupError(.backupIntegrityFailed, "Backup \(manifest.id) carries no project metadata.")
        }
        return try JSONDecoder().decode(BackupSecrets.self, from: sealed)
    }

    /// Receives the chain, then makes its last snapshot a new branch (and the project, when this
    /// pool has none of that name), all journaled: an integrity failure or a crash leaves nothing.
    func runRestore(
        chain: [BackupManifest], key: BackupKey, secrets: BackupSecrets, project projectName: ResourceName, branch name: ResourceName,
        progress: JobProgress
    ) async throws -> BranchView {
        try await diskUsage.requireSpaceToGrow()
        return try await context.withProjectLock(projectName.rawValue) {
            let (branch, _) = try await journal.run("backup.restore", project: projectName, target: name.rawValue) { op in
                let directory = layout.work(op.id, "receive")
                op.onFailure("remove received data") { await removeReceived(directory) }
                let received = try await receive(chain, key: key, into: directory, progress: progress, durable: true)
                await FaultInjection.point("backup.restore.after-receive")
                progress.step("starting the branch")
                let branch = try await makeRestoredBranch(
                    from: received, manifest: chain.last!, secrets: secrets, project: projectName, branch: name, op: op)
                await removeReceived(directory)
                return branch
            }
            let project = try await catalog.project(projectName)!
            return try await presenter.branch(branch, project: project)
        }
    }

    /// Keeps the received snapshot as the new branch's base (kind `restored`) and starts the branch
    /// on a writable copy of it; creates the project first when it is new to this pool.
    func makeRestoredBranch(
        from received: String, manifest: BackupManifest, secrets: BackupSecrets, project projectName: ResourceName, branch name: ResourceName,
        op: OperationContext
    ) async throws -> BranchRecord {
        var project = try await catalog.project(projectName)
        let isNewProject = project == nil
        if project == nil {
            var created = ProjectRecord(
                name: projectName, state: .creating, pgMajor: installation.major, role: secrets.role, database: secrets.database,
                password: secrets.password, verifier: secrets.verifier, checkedOut: name, createdAt: Date(), operationID: op.id)
            created.memoryLimit = secrets.memoryLimit
            created.cpuLimit = secrets.cpuLimit
            created.maxConnections = secrets.maxConnections
            project = created
        }
        var snapshot = SnapshotRecord(
            id: try await snapshots.unusedID(), project: projectName, name: nil, sourceBranch: name, kind: .restored, state: .creating,
            createdAt: Date(), operationID: op.id)
        var branch = BranchRecord(
            project: projectName, name: name, parent: nil, baseSnapshot: snapshot.id, port: try await context.allocatePort(), state: .creating,
            desired: .running, createdAt: Date(), operationID: op.id)
        branch.origin = .backup(manifest.id)
        let lineage = lineages.new(project: projectName, branch: name, startSnapshot: snapshot.id)
        branch.lineage = lineage.id
        snapshot.lineage = lineage.id
        try await catalog.write { [project, snapshot, branch] tx in
            if isNewProject, let project {
                try tx.insert(project)
                try tx.save(Scheduler.defaultSnapshotSchedule(projectName))
                // A project recreated from its backup keeps being backed up, as a new one would be.
                if configuration.defaultBackups { try tx.save(DefaultBackupSchedule.record(for: projectName)) }
            }
            try tx.insert(snapshot)
            try tx.insert(branch)
            try tx.insert(lineage)
        }
        let snapshotID = snapshot.id
        op.onFailure("remove catalog rows") {
            try await catalog.write { tx in
                if isNewProject {
                    try tx.deleteProject(projectName)
                } else {
                    try tx.deleteBranch(projectName, name)
                    try tx.deleteSnapshot(snapshotID)
                    try tx.deleteLineage(lineage.id)
                }
            }
        }
        if isNewProject { op.onFailure("remove project files") { try await projects.removeFiles(projectName) } }
        try projects.ensureDirectories(projectName)
        let snapshotPath = layout.snapshot(projectName, snapshot.id)
        op.onFailure("delete restored snapshot") { try await storage.deleteSubvolume(at: snapshotPath) }
        try await op.step("keep restored snapshot") { try await storage.snapshot(from: received, to: snapshotPath, readOnly: true) }
        let branchPath = layout.branch(projectName, name)
        op.onFailure("delete branch subvolume") { try await storage.deleteSubvolume(at: branchPath) }
        try await op.step("snapshot") { try await storage.snapshot(from: snapshotPath, to: branchPath, readOnly: false) }
        let spec = servers.spec(branch)
        op.onFailure("stop server") { try await runtime.stop(spec) }
        try await op.step("start") {
            try servers.prepareClone(dataDirectory: spec.dataDirectory, branch: branch, project: project)
            try await servers.start(branch)
        }
        snapshot.walStart = await lineages.walStart(of: branch)
        snapshot.state = .ready
        branch.state = .ready
        try await op.step("catalog") {
            try await catalog.write { [snapshot, branch] tx in
                if isNewProject, var project = try tx.project(projectName) {
                    project.state = .ready
                    try tx.update(project)
                }
                try tx.update(snapshot)
                try tx.update(branch)
            }
        }
        try await op.step("pooler") { try await frontDoor.sync() }
        return branch
    }
}
