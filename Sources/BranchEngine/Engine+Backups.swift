public import BranchAPI
import BranchBackup
import BranchCatalog
import BranchCore
import BranchSystem
import BranchPostgres
import BranchRuntime
import BranchStorage
import Foundation
import Logging

/// What a backup carries besides the data, sealed in its manifest: enough to recreate the
/// project in an empty pool (its role and password, its database, its limits).
struct BackupSecrets: Codable {
    var role: String
    var password: String
    var verifier: String
    var database: String
    var memoryLimit: UInt64?
    var cpuLimit: Double?
    var maxConnections: Int?
}

extension Engine {
    // MARK: Setup

    /// The configured key, or why there is none.
    func requireBackupKey() throws -> BackupKey {
        if let backupKey { return backupKey }
        throw BackupError(.keyMissing, "No backup key is configured for this service.")
    }

    static func manifestKey(_ project: String, _ id: String) -> String { "\(project)/\(id)/manifest.json" }
    static func dataKey(_ project: String, _ id: String) -> String { "\(project)/\(id)/data" }

    /// `20261122T015630-3f9a`: sorts by time, unique enough, safe as a path component.
    static func newBackupID() -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss"
        return "\(formatter.string(from: Date()))-\(Identifiers.shortID(length: 4))"
    }

    // MARK: Create

    /// Starts a backup of a branch (default: the checked-out one) and returns its job at once.
    public func createBackup(project projectName: String, _ request: CreateBackupRequest) async throws -> JobInfo {
        _ = try requireBackupKey()
        let (project, branch) = try await catalog.read { tx in
            let project = try self.requireProject(projectName, in: tx)
            return (project, try self.requireBranch(project.name, request.branch ?? project.checkedOut.rawValue, in: tx))
        }
        let id = Self.newBackupID()
        let job = await jobs.start(id: id, kind: "backup.create", project: project.name.rawValue)
        Task {
            do {
                let record = try await self.runBackup(id: id, project: project, branch: branch)
                await self.jobs.update(id) { $0.backup = Self.backupInfo(record) }
                await self.jobs.finish(id)
            } catch {
                await self.jobs.finish(id, error: error)
            }
        }
        return job
    }

    /// Snapshots the branch, streams `btrfs send` (incremental to the branch's previous backup
    /// while its snapshot is still here and the chain is short) through compression and
    /// encryption to the target, then stores the signed manifest. Memory stays bounded: a few
    /// pieces of the stream read ahead, one chunk, one upload part at a time.
    func runBackup(id: String, project: ProjectRecord, branch: BranchRecord) async throws -> BackupRecord {
        let key = try requireBackupKey()
        guard let target = backupTarget else { throw BackupError(.target, "No backup target is configured.") }
        try storage.requireFreeSpace(configuration.freeSpaceReserve)
        let startedAt = Date()
        await jobs.progress(id, step: "snapshot")
        let (snapshot, parent) = try await withProjectLock(project.name.rawValue) { () -> (SnapshotRecord, BackupRecord?) in
            let (snapshot, _) = try await journal.run("backup.snapshot", project: project.name, target: branch.name.rawValue) { op in
                try await self.takeSnapshot(of: branch, kind: .backup, name: nil, op: op)
            }
            return (snapshot, try await incrementalParent(for: branch))
        }
        var record = BackupRecord(
            id: id, project: project.name, branch: branch.name, snapshotID: snapshot.id, parentID: parent?.id,
            kind: parent == nil ? "full" : "incremental", target: target.description, status: "running", startedAt: startedAt,
            finishedAt: nil, rawBytes: 0, storedBytes: 0, error: nil)
        try await catalog.write { [record] in try $0.insert(record) }
        await jobs.update(id) { $0.backup = Self.backupInfo(record) }
        do {
            let writer = try ArchiveWriter(backupID: id, key: key)
            let upload = try await target.openUpload(Self.dataKey(project.name.rawValue, id))
            var arguments = ["send", "-q"]
            if let parent { arguments += ["-p", layout.snapshot(project.name, parent.snapshotID)] }
            arguments.append(layout.snapshot(project.name, snapshot.id))
            let send = try StreamingProcess("btrfs", arguments)
            await jobs.progress(id, step: parent == nil ? "sending a full backup" : "sending an incremental backup")
            var raw: UInt64 = 0
            do {
                for try await piece in send.output() {
                    if raw == 0 { await FaultInjection.point("backup.create.streaming") }
                    raw += UInt64(piece.count)
                    let framed = try writer.write(piece)
                    if !framed.isEmpty { try await upload.write(framed) }
                    await jobs.progress(id, bytes: raw)
                }
                let (status, errors) = await send.wait()
                guard status == 0 else { throw BackupError(.failed, "btrfs send failed (status \(status)): \(errors)") }
                try await upload.write(try writer.finish())
                record.storedBytes = try await upload.complete()
            } catch {
                send.terminate()
                await upload.abort()
                throw error
            }
            guard let summary = writer.summary else { throw BackupError(.failed, "The archive of backup \(id) did not finish.") }
            var manifest = BackupManifest(
                id: id, project: project.name.rawValue, branch: branch.name.rawValue, snapshotID: snapshot.id, parentID: parent?.id,
                postgresVersion: installation.version, createdAt: snapshot.createdAt, startedAt: startedAt, finishedAt: Date(), archive: summary)
            let secrets = BackupSecrets(
                role: project.role, password: project.password, verifier: project.verifier, database: project.database,
                memoryLimit: project.memoryLimit, cpuLimit: project.cpuLimit, maxConnections: project.maxConnections)
            try manifest.sealSecrets(try JSONEncoder().encode(secrets), key: key)
            try await target.put(Self.manifestKey(project.name.rawValue, id), data: try manifest.signed(with: key))
            record.status = "complete"
            record.finishedAt = Date()
            record.rawBytes = raw
            try await catalog.write { [record] in try $0.update(record) }
            await pruneBackupSnapshots(branch, keeping: snapshot.id)
            logger.info("backup complete", metadata: [
                "backup": "\(id)", "kind": "\(record.kind)", "raw": "\(raw)", "stored": "\(record.storedBytes)",
            ])
            return record
        } catch {
            record.status = "failed"
            record.finishedAt = Date()
            record.error = (error as? any ReportableError)?.message ?? "\(error)"
            try? await catalog.write { [record] in try $0.update(record) }
            try? await withProjectLock(project.name.rawValue) {
                try await storage.deleteSubvolume(at: layout.snapshot(project.name, snapshot.id))
                try await catalog.write { try $0.deleteSnapshot(snapshot.id) }
            }
            throw error
        }
    }

    /// The backup a new one of `branch` can be incremental to: its newest complete backup whose
    /// snapshot is still in the pool, unless the chain behind it is already long (a restore
    /// replays the whole chain, so a full backup starts a new one every `maxIncrementals`).
    func incrementalParent(for branch: BranchRecord) async throws -> BackupRecord? {
        let backups = try await catalog.read { try $0.backups(branch.project) }
            .filter { $0.branch == branch.name && $0.status == "complete" }
        guard let newest = backups.max(by: { $0.startedAt < $1.startedAt }),
            storage.isSubvolume(layout.snapshot(branch.project, newest.snapshotID))
        else { return nil }
        var length = 0
        var cursor: BackupRecord? = newest
        while let current = cursor, let parentID = current.parentID {
            length += 1
            cursor = backups.first { $0.id == parentID }
        }
        return length < configuration.maxIncrementals ? newest : nil
    }

    /// Local backup snapshots are only needed as the parent of the next incremental: keep the newest.
    func pruneBackupSnapshots(_ branch: BranchRecord, keeping newest: String) async {
        guard let snapshots = try? await catalog.snapshots(branch.project) else { return }
        for snapshot in snapshots where snapshot.kind == .backup && snapshot.sourceBranch == branch.name && snapshot.id != newest {
            try? await withProjectLock(branch.project.rawValue) {
                try await storage.deleteSubvolume(at: layout.snapshot(snapshot.project, snapshot.id))
                try await catalog.write { try $0.deleteSnapshot(snapshot.id) }
            }
        }
    }

    // MARK: List, show, delete

    public func listBackups(project: String?, remote: Bool) async throws -> BackupList {
        if remote {
            let key = try requireBackupKey()
            guard let target = backupTarget else { throw BackupError(.target, "No backup target is configured.") }
            let prefix = project.map { "\($0)/" } ?? ""
            var infos: [BackupInfo] = []
            for manifestKey in try await target.list(prefix: prefix) where manifestKey.hasSuffix("/manifest.json") {
                guard let data = try? await target.get(manifestKey) else { continue }
                let manifest: BackupManifest
                do {
                    manifest = try BackupManifest.verified(data, key: key)
                } catch {
                    logger.warning("skipping a manifest that does not verify", metadata: ["key": "\(manifestKey)", "error": "\(error)"])
                    continue
                }
                infos.append(Self.backupInfo(manifest, target: target.description))
            }
            return BackupList(backups: infos.sorted { $0.startedAt > $1.startedAt })
        }
        let projectName = try project.map { try ResourceName(validating: $0, kind: "project name") }
        let records = try await catalog.read { try $0.backups(projectName) }
        return BackupList(backups: records.map(Self.backupInfo))
    }

    public func backup(_ id: String) async throws -> BackupInfo {
        if let record = try await catalog.read({ try $0.backup(id) }) { return Self.backupInfo(record) }
        let key = try requireBackupKey()
        let (manifest, _) = try await locateManifest(id, key: key)
        return Self.backupInfo(manifest, target: backupTarget?.description ?? "")
    }

    /// Deletes a backup from the target (and the catalog); refused while another builds on it.
    public func deleteBackup(_ id: String) async throws -> DeleteResult {
        let watch = Stopwatch()
        guard let target = backupTarget else { throw BackupError(.target, "No backup target is configured.") }
        let key = try requireBackupKey()
        let (manifest, _) = try await locateManifest(id, key: key)
        let children = try await listBackups(project: manifest.project, remote: true).backups.filter { $0.parentID == id }
        if !children.isEmpty {
            throw EngineError(
                "backup_in_use", 409, "Backup \(id) is the parent of \(children.map(\.id).joined(separator: ", ")).",
                hint: "Delete the backups that build on it first (newest first).")
        }
        try await target.delete(Self.dataKey(manifest.project, id))
        try await target.delete(Self.manifestKey(manifest.project, id))
        try await catalog.write { try $0.deleteBackup(id) }
        return DeleteResult(deleted: [id], operation: OperationTiming(id: id, durationMs: watch.milliseconds, steps: []))
    }

    /// Finds and verifies a backup's manifest in the target.
    func locateManifest(_ id: String, key: BackupKey) async throws -> (BackupManifest, String) {
        guard let target = backupTarget else { throw BackupError(.target, "No backup target is configured.") }
        var candidates: [String] = []
        if let record = try await catalog.read({ try $0.backup(id) }) {
            candidates.append(Self.manifestKey(record.project.rawValue, id))
        } else {
            candidates = try await target.list(prefix: "").filter { $0.hasSuffix("/\(id)/manifest.json") }
        }
        guard let manifestKey = candidates.first, try await target.exists(manifestKey) else {
            throw BackupError(.notFound, "There is no backup '\(id)' in \(target.description).")
        }
        let manifest = try BackupManifest.verified(try await target.get(manifestKey), key: key)
        guard manifest.id == id else { throw BackupError(.integrity, "The manifest at \(manifestKey) is for backup \(manifest.id), not \(id).") }
        return (manifest, manifestKey)
    }

    /// A backup and the ones it builds on, full backup first; every manifest verified.
    func chain(for id: String, key: BackupKey) async throws -> [BackupManifest] {
        var chain: [BackupManifest] = []
        var next: String? = id
        while let current = next {
            let (manifest, _) = try await locateManifest(current, key: key)
            chain.insert(manifest, at: 0)
            next = manifest.parentID
            guard chain.count <= 1000 else { throw BackupError(.integrity, "The chain of backup \(id) does not end in a full backup.") }
        }
        guard chain.first?.kind == .full else { throw BackupError(.integrity, "The chain of backup \(id) does not start with a full backup.") }
        return chain
    }

    // MARK: Receiving

    /// Received bytes between two background flushes of the pool during a restore (see WriteBack).
    static let writeBackInterval = 64 << 20

    /// Streams each backup of `chain` from the target, authenticated and decrypted chunk by
    /// chunk, into `btrfs receive` in `directory`; returns the path of the last received subvolume.
    /// `durable` (a restore, which becomes a branch) flushes to disk as it goes and before it
    /// returns; a throw-away copy (verify, a diff side) is left to the kernel.
    func receive(_ chain: [BackupManifest], key: BackupKey, into directory: String, job: String, durable: Bool = false) async throws -> String {
        guard let target = backupTarget else { throw BackupError(.target, "No backup target is configured.") }
        // Traversable: verify runs Postgres (as postgres) on a copy of what is received here.
        try Files.ensureDirectory(directory, mode: 0o711)
        var done: UInt64 = 0
        let writeBack = durable ? WriteBack(storage, every: Self.writeBackInterval) : nil
        for (index, manifest) in chain.enumerated() {
            await jobs.progress(job, step: "receiving \(index + 1) of \(chain.count) (\(manifest.id))")
            let reader = try ArchiveReader(manifest: manifest, key: key)
            let receive = try StreamingProcess("btrfs", ["receive", "-e", directory])
            do {
                for try await piece in try await target.read(Self.dataKey(manifest.project, manifest.id)) {
                    reader.write(piece)
                    while let plaintext = try reader.read() {
                        try await receive.write(plaintext)
                        done += UInt64(plaintext.count)
                        writeBack?.wrote(plaintext.count)
                        await jobs.progress(job, bytes: done)
                    }
                }
                try reader.finish()
            } catch {
                receive.terminate()
                _ = await receive.wait()
                throw error
            }
            let (status, errors) = await receive.wait()
            guard status == 0 else { throw BackupError(.failed, "btrfs receive failed (status \(status)): \(errors)") }
        }
        // On disk before a branch is made of it: the catalog will record it as restored.
        try await writeBack?.finish()
        let last = "\(directory)/\(chain.last!.snapshotID)"
        guard storage.isSubvolume(last) else { throw BackupError(.integrity, "The backup stream did not contain snapshot \(chain.last!.snapshotID).") }
        return last
    }

    /// Deletes whatever subvolumes a receive left in `directory`, then the directory.
    func removeReceived(_ directory: String) async {
        for name in storage.subvolumes(in: directory) { try? await storage.deleteSubvolume(at: "\(directory)/\(name)") }
        try? FileManager.default.removeItem(atPath: directory)
    }

    // MARK: Restore

    /// Starts restoring a backup chain as a new branch; returns its job at once.
    public func restoreBackup(_ id: String, _ request: RestoreBackupRequest) async throws -> JobInfo {
        let key = try requireBackupKey()
        let name = try ResourceName(validating: request.as, kind: "branch name")
        let projectOverride = try request.project.map { try ResourceName(validating: $0, kind: "project name") }
        let chain = try await chain(for: id, key: key)
        let last = chain.last!
        let projectName = try projectOverride ?? ResourceName(validating: last.project, kind: "project name")
        guard let major = Int(last.postgresVersion.split(separator: ".").first ?? ""), major == installation.major else {
            throw EngineError(
                "postgres_version_mismatch", 409, "Backup \(id) is of Postgres \(last.postgresVersion); this service runs \(installation.version).",
                hint: "Restore it on a service with Postgres \(last.postgresVersion.split(separator: ".").first ?? "").")
        }
        guard let sealed = try last.openSecrets(key: key) else { throw BackupError(.integrity, "Backup \(id) carries no project metadata.") }
        let secrets = try JSONDecoder().decode(BackupSecrets.self, from: sealed)
        if let existing = try await catalog.project(projectName) {
            guard existing.role == secrets.role else {
                throw EngineError(
                    "backup_project_mismatch", 409,
                    "Project '\(projectName)' has the role '\(existing.role)', the backup's data has '\(secrets.role)'.",
                    hint: "Restore into a new project: --project NEW.")
            }
            if try await catalog.branch(projectName, name) != nil { throw EngineError.branchExists(projectName, name) }
        }
        let job = await jobs.start(id: Identifiers.shortID(length: 12), kind: "backup.restore", project: projectName.rawValue)
        Task {
            do {
                let branch = try await self.runRestore(chain: chain, key: key, secrets: secrets, project: projectName, branch: name, job: job.id)
                await self.jobs.update(job.id) { $0.branch = branch }
                await self.jobs.finish(job.id)
            } catch {
                await self.jobs.finish(job.id, error: error)
            }
        }
        return job
    }

    /// Receives the chain, then makes its last snapshot a new branch (and the project, when this
    /// pool has none of that name), all journaled: an integrity failure or a crash leaves nothing.
    func runRestore(
        chain: [BackupManifest], key: BackupKey, secrets: BackupSecrets, project projectName: ResourceName, branch name: ResourceName,
        job: String
    ) async throws -> BranchInfo {
        try storage.requireFreeSpace(configuration.freeSpaceReserve)
        return try await withProjectLock(projectName.rawValue) {
            let (branch, _) = try await journal.run("backup.restore", project: projectName, target: name.rawValue) { op in
                let directory = self.layout.work(op.id, "receive")
                op.onFailure("remove received data") { await self.removeReceived(directory) }
                let received = try await self.receive(chain, key: key, into: directory, job: job, durable: true)
                await FaultInjection.point("backup.restore.after-receive")
                await self.jobs.progress(job, step: "starting the branch")
                let branch = try await self.makeRestoredBranch(
                    from: received, manifest: chain.last!, secrets: secrets, project: projectName, branch: name, op: op)
                await self.removeReceived(directory)
                return branch
            }
            let project = try await catalog.project(projectName)!
            return try await branchInfo(branch, project: project)
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
            id: try await unusedSnapshotID(), project: projectName, name: nil, sourceBranch: name, kind: .restored, state: .creating,
            createdAt: Date(), operationID: op.id)
        var branch = BranchRecord(
            project: projectName, name: name, parent: nil, baseSnapshot: snapshot.id, port: try await allocatePort(), state: .creating,
            desired: .running, createdAt: Date(), operationID: op.id)
        let lineage = newLineage(project: projectName, branch: name, startSnapshot: snapshot.id)
        branch.lineage = lineage.id
        snapshot.lineage = lineage.id
        try await catalog.write { [project, snapshot, branch] tx in
            if isNewProject, let project {
                try tx.insert(project)
                try tx.save(Self.defaultSnapshotSchedule(projectName))
            }
            try tx.insert(snapshot)
            try tx.insert(branch)
            try tx.insert(lineage)
        }
        let snapshotID = snapshot.id
        op.onFailure("remove catalog rows") {
            try await self.catalog.write { tx in
                if isNewProject {
                    try tx.deleteProject(projectName)
                } else {
                    try tx.deleteBranch(projectName, name)
                    try tx.deleteSnapshot(snapshotID)
                    try tx.deleteLineage(lineage.id)
                }
            }
        }
        if isNewProject { op.onFailure("remove project files") { try await self.removeProjectFiles(projectName) } }
        try ensureProjectDirectories(projectName)
        let snapshotPath = layout.snapshot(projectName, snapshot.id)
        op.onFailure("delete restored snapshot") { try await self.storage.deleteSubvolume(at: snapshotPath) }
        try await op.step("keep restored snapshot") { try await self.storage.snapshot(from: received, to: snapshotPath, readOnly: true) }
        let branchPath = layout.branch(projectName, name)
        op.onFailure("delete branch subvolume") { try await self.storage.deleteSubvolume(at: branchPath) }
        try await op.step("snapshot") { try await self.storage.snapshot(from: snapshotPath, to: branchPath, readOnly: false) }
        let spec = spec(branch)
        op.onFailure("stop server") { try await self.runtime.stop(spec) }
        try await op.step("start") {
            try self.prepareClone(dataDirectory: spec.dataDirectory, branch: branch, project: project)
            try await self.startServer(branch)
        }
        snapshot.walStart = await walStart(of: branch)
        snapshot.state = .ready
        branch.state = .ready
        try await op.step("catalog") {
            try await self.catalog.write { [snapshot, branch] tx in
                if isNewProject, var project = try tx.project(projectName) {
                    project.state = .ready
                    try tx.update(project)
                }
                try tx.update(snapshot)
                try tx.update(branch)
            }
        }
        try await op.step("pooler") { try await self.syncPooler() }
        return branch
    }

    // MARK: Verify

    /// Starts verifying a backup; returns its job at once.
    public func verifyBackup(_ id: String) async throws -> JobInfo {
        let key = try requireBackupKey()
        let chain = try await chain(for: id, key: key)
        let job = await jobs.start(id: Identifiers.shortID(length: 12), kind: "backup.verify", project: chain.last?.project)
        Task {
            do {
                let report = try await self.runVerify(chain: chain, key: key, job: job.id)
                await self.jobs.update(job.id) { $0.verify = report }
                await self.jobs.finish(job.id, error: report.ok ? nil : BackupError(.integrity, "Backup \(id) restored, but its data did not check out."))
            } catch {
                await self.jobs.finish(job.id, error: error)
            }
        }
        return job
    }

    /// Downloads and authenticates every chunk (by receiving the chain), starts a throw-away
    /// Postgres on a copy, reads every table and checks every B-tree index with amcheck, then
    /// removes it all.
    func runVerify(chain: [BackupManifest], key: BackupKey, job: String) async throws -> VerifyReport {
        let work = layout.work(job, "verify")
        // Removed whatever happens (a `defer` cannot await the subvolume deletions).
        do {
            let report = try await verify(chain: chain, key: key, job: job, work: work)
            await removeReceived(work)
            return report
        } catch {
            await removeReceived(work)
            throw error
        }
    }

    private func verify(chain: [BackupManifest], key: BackupKey, job: String, work: String) async throws -> VerifyReport {
        let watch = Stopwatch()
        let received = try await receive(chain, key: key, into: work, job: job)
        await jobs.progress(job, step: "starting a scratch server")
        let scratch = try await ScratchServer.start(engine: self, from: received, name: "\(job)-verify", writable: true)
        defer { Task { await scratch.stop() } }
        let probe = scratch.connection(database: "postgres")
        await jobs.progress(job, step: "reading every table")
        var tables = 0
        var rows: UInt64 = 0
        var indexes: Int?
        let databases = try await PGConnection.connect(probe).query("SELECT datname FROM pg_database WHERE datallowconn ORDER BY datname")
        for database in databases.rows.compactMap({ $0.first ?? nil }) {
            var info = probe
            info.database = database
            let connection = try await PGConnection.connect(info)
            let relations = try await connection.query("""
                SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind IN ('r', 'm', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
                """)
            for relation in relations.rows.compactMap({ $0.first ?? nil }) {
                let count = try await connection.query("SELECT count(*) FROM \(relation)").scalar
                rows += UInt64(count ?? "0") ?? 0
                tables += 1
            }
            if (try? await connection.execute("CREATE EXTENSION IF NOT EXISTS amcheck")) != nil {
                let checked = try await connection.query("""
                    SELECT count(bt_index_check(c.oid)) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                    JOIN pg_am a ON a.oid = c.relam WHERE a.amname = 'btree' AND i.indisvalid
                    """)
                indexes = (indexes ?? 0) + (Int(checked.scalar ?? "0") ?? 0)
            }
        }
        await scratch.stop()
        return VerifyReport(
            backup: chain.last!.id, chain: chain.map(\.id), chunksVerified: chain.reduce(0) { $0 + $1.chunks.count },
            bytesVerified: chain.reduce(0) { $0 + UInt64($1.storedBytes) }, tables: tables, rows: rows, indexesChecked: indexes, ok: true,
            durationMs: watch.milliseconds)
    }

    // MARK: Schedules

    /// Backs up the project's checked-out branch, prunes its backups, and reports to the webhook.
    func runBackupSchedule(_ schedule: ScheduleRecord) async {
        guard let project = try? await catalog.project(schedule.project), project.state == .ready,
            let branch = try? await catalog.branch(project.name, project.checkedOut)
        else { return }
        let id = Self.newBackupID()
        _ = await jobs.start(id: id, kind: "backup.create", project: project.name.rawValue)
        do {
            let record = try await runBackup(id: id, project: project, branch: branch)
            await jobs.finish(id)
            await pruneBackups(schedule)
            await notify(schedule, event: "backup.succeeded", backup: record, error: nil)
        } catch {
            await jobs.finish(id, error: error)
            logger.error("scheduled backup failed", metadata: ["project": "\(project.name)", "error": "\(error)"])
            await notify(schedule, event: "backup.failed", backup: nil, error: error)
        }
    }

    /// Deletes backups the schedule's policy no longer keeps, never one a kept backup builds on.
    func pruneBackups(_ schedule: ScheduleRecord, now: Date = Date()) async {
        guard let backups = try? await catalog.read({ try $0.backups(schedule.project) }).filter({ $0.status == "complete" }) else { return }
        let policy = RetentionPolicy(
            keepLast: schedule.keepLast, hourly: schedule.hourly, daily: schedule.daily, weekly: schedule.weekly, monthly: schedule.monthly)
        for branch in Set(backups.map(\.branch)) {
            let own = backups.filter { $0.branch == branch }
            var keep = policy.keep(own.map { ($0.id, $0.startedAt) }, now: now)
            for id in keep {
                var parent = own.first { $0.id == id }?.parentID
                while let current = parent {
                    keep.insert(current)
                    parent = own.first { $0.id == current }?.parentID
                }
            }
            for backup in own.sorted(by: { $0.startedAt > $1.startedAt }) where !keep.contains(backup.id) {
                do {
                    _ = try await deleteBackup(backup.id)
                } catch {
                    logger.warning("could not prune backup", metadata: ["backup": "\(backup.id)", "error": "\(error)"])
                }
            }
        }
    }

    func notify(_ schedule: ScheduleRecord, event: String, backup: BackupRecord?, error: (any Error)?) async {
        guard let url = schedule.webhookURL else { return }
        var json = ["event": event, "project": schedule.project.rawValue, "service": configuration.publicHost]
        if let backup {
            json["backup"] = backup.id
            json["branch"] = backup.branch.rawValue
            json["kind"] = backup.kind
            json["rawBytes"] = String(backup.rawBytes)
            json["storedBytes"] = String(backup.storedBytes)
            json["durationSeconds"] = String(format: "%.1f", (backup.finishedAt ?? Date()).timeIntervalSince(backup.startedAt))
        }
        if let error { json["error"] = (error as? any ReportableError)?.message ?? "\(error)" }
        let slack = schedule.webhookSlack
            ? (backup.map { "Branch backup of \(schedule.project)/\($0.branch) succeeded: \($0.kind), \(ByteCount.format($0.storedBytes)) stored (\($0.id))." }
                ?? "Branch backup of \(schedule.project) FAILED: \(json["error"] ?? "unknown error")")
            : nil
        let delivered = await Webhook.send(to: url, json: json, slackText: slack)
        if !delivered { logger.error("webhook delivery failed", metadata: ["url": "\(url)", "event": "\(event)"]) }
    }

    // MARK: Presentation

    static func backupInfo(_ record: BackupRecord) -> BackupInfo {
        BackupInfo(
            id: record.id, project: record.project.rawValue, branch: record.branch.rawValue, snapshotID: record.snapshotID,
            parentID: record.parentID, kind: record.kind, target: record.target, status: record.status, startedAt: record.startedAt,
            finishedAt: record.finishedAt, rawBytes: record.rawBytes, storedBytes: record.storedBytes, error: record.error)
    }

    static func backupInfo(_ manifest: BackupManifest, target: String) -> BackupInfo {
        BackupInfo(
            id: manifest.id, project: manifest.project, branch: manifest.branch, snapshotID: manifest.snapshotID, parentID: manifest.parentID,
            kind: manifest.kind.rawValue, target: target, status: manifest.status.rawValue, startedAt: manifest.startedAt,
            finishedAt: manifest.finishedAt, rawBytes: UInt64(manifest.rawBytes), storedBytes: UInt64(manifest.storedBytes),
            postgresVersion: manifest.postgresVersion)
    }

    public func job(_ id: String) async throws -> JobInfo {
        guard let job = await jobs.get(id) else {
            throw EngineError("job_not_found", 404, "There is no job '\(id)' (finished jobs are kept an hour).")
        }
        return job
    }
}
