import BranchPostgres
import BranchBackup
import BranchCatalog
package import BranchCore
import BranchStorage
import BranchSystem
package import Foundation
import Logging

/// What a backup carries besides the data, sealed in its manifest: enough to recreate the
/// project in an empty pool (its role and password, its database, its limits).
struct BackupSecrets: Codable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    var role: String
    var password: String
    var verifier: String
    var database: String
    var memoryLimit: UInt64?
    var cpuLimit: Double?
    var maxConnections: Int?

    /// Never the password or its verifier, whoever interpolates it.
    var description: String { "BackupSecrets(role: \(role), database: \(database))" }
    var debugDescription: String { description }
    var customMirror: Mirror { Mirror(self, children: ["role": role, "database": database], displayStyle: .struct) }
}

/// A backup as users see it: from this pool's catalog, or from a manifest in the target.
package struct BackupSummary: Sendable {
    package var id: String
    package var project: String
    package var branch: String
    package var snapshotID: String
    /// The backup this one is incremental to; nil for a full backup.
    package var parentID: String?
    package var kind: BackupKind
    package var target: String
    package var status: BackupStatus
    package var startedAt: Date
    package var finishedAt: Date?
    /// Bytes of the send stream, and stored after compression and encryption.
    package var rawBytes: UInt64
    package var storedBytes: UInt64
    package var postgresVersion: String?
    package var error: String?
    /// The fingerprint of the key it is encrypted with; nil when the catalog did not record it.
    package var keyID: String?
}

extension BackupSummary {
    init(_ record: BackupRecord) {
        self.init(
            id: record.id, project: record.project.rawValue, branch: record.branch.rawValue, snapshotID: record.snapshotID,
            parentID: record.parentID, kind: record.kind, target: record.target, status: record.status, startedAt: record.startedAt,
            finishedAt: record.finishedAt, rawBytes: record.rawBytes, storedBytes: record.storedBytes, error: record.error, keyID: record.keyID)
    }

    init(_ manifest: BackupManifest, target: String) {
        self.init(
            id: manifest.id, project: manifest.project, branch: manifest.branch, snapshotID: manifest.snapshotID, parentID: manifest.parentID,
            kind: manifest.kind == .full ? .full : .incremental, target: target, status: .complete, startedAt: manifest.startedAt,
            finishedAt: manifest.finishedAt, rawBytes: UInt64(manifest.rawBytes), storedBytes: UInt64(manifest.storedBytes),
            postgresVersion: manifest.postgresVersion, keyID: manifest.keyID)
    }
}

/// Backups: encrypted, compressed, incremental Btrfs send streams of a branch's snapshots in a
/// directory or S3 (see docs/architecture.md, Backups).
package struct Backups: EnginePart {
    let context: EngineContext

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
    package func create(project projectName: String, branch branchName: String? = nil) async throws -> Job {
        _ = try context.requireBackupKey()
        let (project, branch) = try await catalog.read { tx in
            let project = try tx.requireProject(projectName)
            return (project, try tx.requireBranch(project.name, branchName ?? project.checkedOut.rawValue))
        }
        let id = Self.newBackupID()
        return context.jobs.start(id: id, kind: .backupCreate, project: project.name.rawValue) { progress in
            .backup(BackupSummary(try await run(id: id, project: project, branch: branch, progress: progress)))
        }
    }

    /// Snapshots the branch, streams `btrfs send` (incremental to the branch's previous backup
    /// while its snapshot is still here and the chain is short) through compression and
    /// encryption to the target, then stores the signed manifest. Memory stays bounded: a few
    /// pieces of the stream read ahead, one chunk, one upload part at a time.
    func run(id: String, project: ProjectRecord, branch: BranchRecord, progress: JobProgress) async throws -> BackupRecord {
        let key = try context.requireBackupKey()
        let target = try context.requireBackupTarget()
        try await diskUsage.requireSpaceToGrow()
        let startedAt = Date()
        progress.step("snapshot")
        let (snapshot, parent) = try await context.withProjectLock(project.name.rawValue) { () -> (SnapshotRecord, BackupRecord?) in
            let (snapshot, _) = try await journal.run("backup.snapshot", project: project.name, target: branch.name.rawValue) { op in
                try await snapshots.take(of: branch, kind: .backup, name: nil, op: op)
            }
            return (snapshot, try await incrementalParent(for: branch, keyID: key.id))
        }
        var record = BackupRecord(
            id: id, project: project.name, branch: branch.name, snapshotID: snapshot.id, parentID: parent?.id,
            kind: parent == nil ? .full : .incremental, target: target.description, status: .running, startedAt: startedAt,
            finishedAt: nil, rawBytes: 0, storedBytes: 0, error: nil, keyID: key.id)
        try await catalog.write { [record] in try $0.insert(record) }
        progress.outcome(.backup(BackupSummary(record)))
        do {
            let writer = try ArchiveWriter(backupID: id, key: key)
            let upload = try await target.openUpload(Self.dataKey(project.name.rawValue, id))
            var arguments = ["send", "-q"]
            if let parent { arguments += ["-p", layout.snapshot(project.name, parent.snapshotID)] }
            arguments.append(layout.snapshot(project.name, snapshot.id))
            let send = try StreamingProcess("btrfs", arguments)
            progress.step(parent == nil ? "sending a full backup" : "sending an incremental backup")
            var raw: UInt64 = 0
            do {
                for try await piece in send.output() {
                    if raw == 0 { await FaultInjection.point("backup.create.streaming") }
                    raw += UInt64(piece.count)
                    let framed = try writer.write(piece)
                    if !framed.isEmpty { try await upload.write(framed) }
                    progress.bytes(raw)
                }
                let (status, errors) = await send.wait()
                guard status == 0 else { throw BackupError(.backupFailed, "btrfs send failed (status \(status)): \(errors)") }
                try await upload.write(try writer.finish())
                record.storedBytes = try await upload.complete()
            } catch {
                send.terminate()
                await upload.abort()
                throw error
            }
            guard let summary = writer.summary else { throw BackupError(.backupFailed, "The archive of backup \(id) did not finish.") }
            var manifest = BackupManifest(
                id: id, project: project.name.rawValue, branch: branch.name.rawValue, snapshotID: snapshot.id, parentID: parent?.id,
                postgresVersion: installation.version, createdAt: snapshot.createdAt, startedAt: startedAt, finishedAt: Date(), archive: summary)
            let secrets = BackupSecrets(
                role: project.role, password: project.password, verifier: project.verifier, database: project.database,
                memoryLimit: project.memoryLimit, cpuLimit: project.cpuLimit, maxConnections: project.maxConnections)
            try manifest.sealSecrets(try JSONEncoder().encode(secrets), key: key)
            try await target.put(Self.manifestKey(project.name.rawValue, id), data: try manifest.signed(with: key))
            record.status = .complete
            record.finishedAt = Date()
            record.rawBytes = raw
            try await catalog.write { [record] in try $0.update(record) }
            await pruneBackupSnapshots(branch, keeping: snapshot.id)
            logger.info("backup complete", metadata: [
                "backup": "\(id)", "kind": "\(record.kind)", "raw": "\(raw)", "stored": "\(record.storedBytes)",
            ])
            return record
        } catch {
            // Nothing half-made stays on the target (a data object whose manifest did not fit), and
            // its space comes back before the catalog records the failure.
            try? await target.delete(Self.manifestKey(project.name.rawValue, id))
            try? await target.delete(Self.dataKey(project.name.rawValue, id))
            record.status = .failed
            record.finishedAt = Date()
            record.error = (error as? any ReportableError)?.message ?? "\(error)"
            try? await catalog.write { [record] in try $0.update(record) }
            try? await context.withProjectLock(project.name.rawValue) {
                try await storage.deleteSubvolume(at: layout.snapshot(project.name, snapshot.id))
                try await catalog.write { try $0.deleteSnapshot(snapshot.id) }
            }
            throw await poolFull(error, target: target, backup: id)
        }
    }

    /// A directory target on the pool's own filesystem that runs out of space means the pool is
    /// full: the answer is `pool_full`, with what can be freed, rather than a target error.
    func poolFull(_ error: any Error, target: any BackupTarget, backup id: String) async -> any Error {
        guard let full = error as? BackupError, full.code == .backupTargetFull, let directory = target as? DirectoryTarget else { return error }
        let root = layout.root
        guard (try? await BlockingWork.run { DirectorySize.sameFilesystem(directory.root, root) }) == true else { return error }
        let usage = await diskUsage.usage(maxAge: 5)
        return EngineError(
            .poolFull, "The pool is full: backup \(id) did not fit in \(directory.root), on the pool's filesystem.",
            hint: DiskUsage.hint(usage.largest) + " Old backups there take the pool's space too (`branch backup delete ID`).")
    }

    /// The backup a new one of `branch` can be incremental to: its newest complete backup whose
    /// snapshot is still in the pool, unless the chain behind it is already long (a restore
    /// replays the whole chain, so a full backup starts a new one every `maxIncrementals`). A
    /// backup made with another key than `keyID` is no parent: a chain is read with one key.
    func incrementalParent(for branch: BranchRecord, keyID: String) async throws -> BackupRecord? {
        let backups = try await catalog.read { try $0.backups(branch.project) }
            .filter { $0.branch == branch.name && $0.status == .complete && ($0.keyID ?? keyID) == keyID }
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
            try? await context.withProjectLock(branch.project.rawValue) {
                try await storage.deleteSubvolume(at: layout.snapshot(snapshot.project, snapshot.id))
                try await catalog.write { try $0.deleteSnapshot(snapshot.id) }
            }
        }
    }

    // MARK: List, show, delete

    /// The fingerprint of the key this service encrypts and reads backups with.
    package var keyID: String? { context.backupKey?.id }

    /// The fingerprints of the keys a rotation retired, which still read the backups made with them.
    package var retiredKeyIDs: [String] { context.backupKeys?.all.retired.map(\.key.id) ?? [] }

    package func list(project: String?, remote: Bool) async throws -> [BackupSummary] {
        // Checked first: on the remote path the name becomes a key prefix in the target.
        let projectName = try project.map { try ResourceName(validating: $0, kind: "project name") }
        if remote {
            let keyring = try context.requireBackupKeyring()
            let target = try context.requireBackupTarget()
            let prefix = projectName.map { "\($0.rawValue)/" } ?? ""
            var infos: [BackupSummary] = []
            for manifestKey in try await target.list(prefix: prefix) where manifestKey.hasSuffix("/manifest.json") {
                guard let data = try? await target.get(manifestKey) else { continue }
                let manifest: BackupManifest
                do {
                    manifest = try BackupManifest.verified(data, keyring: keyring)
                } catch {
                    logger.warning("skipping a manifest that does not verify", metadata: ["key": "\(manifestKey)", "error": "\(error)"])
                    continue
                }
                infos.append(BackupSummary(manifest, target: target.description))
            }
            return infos.sorted { $0.startedAt > $1.startedAt }
        }
        return try await catalog.read { try $0.backups(projectName) }.map(BackupSummary.init)
    }

    package func get(_ id: String) async throws -> BackupSummary {
        if let record = try await catalog.read({ try $0.backup(id) }) { return BackupSummary(record) }
        let (manifest, _) = try await locateManifest(id, keyring: try context.requireBackupKeyring())
        return BackupSummary(manifest, target: context.backupTarget?.description ?? "")
    }

    /// Deletes a backup from the target (and the catalog); refused while another builds on it.
    package func delete(_ id: String) async throws -> Deletion {
        let watch = Stopwatch()
        let target = try context.requireBackupTarget()
        let (manifest, _) = try await locateManifest(id, keyring: try context.requireBackupKeyring())
        let children = try await list(project: manifest.project, remote: true).filter { $0.parentID == id }
        if !children.isEmpty {
            throw EngineError(
                .backupInUse, "Backup \(id) is the parent of \(children.map(\.id).joined(separator: ", ")).",
                hint: "Delete the backups that build on it first (newest first).")
        }
        try await target.delete(Self.dataKey(manifest.project, id))
        try await target.delete(Self.manifestKey(manifest.project, id))
        try await catalog.write { try $0.deleteBackup(id) }
        return Deletion(deleted: [id], operation: OperationTiming(id: id, durationMs: watch.milliseconds, steps: []))
    }

    /// Finds and verifies a backup's manifest in the target.
    func locateManifest(_ id: String, keyring: BackupKeyring) async throws -> (BackupManifest, String) {
        let target = try context.requireBackupTarget()
        var candidates: [String] = []
        if let record = try await catalog.read({ try $0.backup(id) }) {
            candidates.append(Self.manifestKey(record.project.rawValue, id))
        } else {
            candidates = try await target.list(prefix: "").filter { $0.hasSuffix("/\(id)/manifest.json") }
        }
        guard let manifestKey = candidates.first, try await target.exists(manifestKey) else {
            throw BackupError(.backupNotFound, "There is no backup '\(id)' in \(target.description).")
        }
        let manifest = try BackupManifest.verified(try await target.get(manifestKey), keyring: keyring)
        guard manifest.id == id else { throw BackupError(.backupIntegrityFailed, "The manifest at \(manifestKey) is for backup \(manifest.id), not \(id).") }
        return (manifest, manifestKey)
    }

    /// A backup and the ones it builds on, full backup first, every manifest verified, and the key
    /// they were made with (the current key or a retired one; a chain never mixes keys).
    func chain(for id: String) async throws -> (manifests: [BackupManifest], key: BackupKey) {
        let keyring = try context.requireBackupKeyring()
        var chain: [BackupManifest] = []
        var next: String? = id
        while let current = next {
            let (manifest, _) = try await locateManifest(current, keyring: keyring)
            chain.insert(manifest, at: 0)
            next = manifest.parentID
            guard chain.count <= 1000 else { throw BackupError(.backupIntegrityFailed, "The chain of backup \(id) does not end in a full backup.") }
        }
        guard chain.first?.kind == .full else { throw BackupError(.backupIntegrityFailed, "The chain of backup \(id) does not start with a full backup.") }
        guard let key = keyring.key(id: chain[0].keyID), chain.allSatisfy({ $0.keyID == key.id }) else {
            throw BackupError(.backupIntegrityFailed, "The chain of backup \(id) was made with more than one key.")
        }
        return (chain, key)
    }
}
