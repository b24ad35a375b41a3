import BranchBackup
import BranchCatalog
import BranchCore
import BranchPostgres
import BranchRuntime
import BranchStorage
import Foundation
import Logging

/// Brings the catalog and the pool back into agreement at start-up, after a crash or a kill -9:
/// no subvolume without a catalog row, no row without its subvolume, nothing left `creating`.
///
/// The rule: what an interrupted operation was *creating* is rolled back; what it was *deleting*
/// is deleted; an in-place replacement is completed if its atomic swap happened (its marker is in
/// the branch) and rolled back otherwise; a rename is finished once the catalog or the subvolume
/// has the new name, and undone otherwise.
struct Reconciler: EnginePart {
    let context: EngineContext

    func run() async throws {
        var notes: [String: [String]] = [:]  // by operation id
        var general: [String] = []
        func note(_ operation: String?, _ text: String) {
            if let operation { notes[operation, default: []].append(text) } else { general.append(text) }
            logger.warning("reconcile", metadata: ["operation": "\(operation ?? "-")", "action": "\(text)"])
        }

        // 1. In-place replacements whose swap happened: finish them.
        for branch in try await catalog.allBranches() {
            let path = layout.branch(branch.project, branch.name)
            guard let marker = ReplacementMarker.read(in: path) else { continue }
            let switched = try await lineages.completeSwitch(branch, marker)
            if let newBase = marker.newBase,
                try await catalog.read({ try $0.snapshot(branch.project, idOrName: newBase) })?.state == .ready
            {
                _ = try await Restores(context: context).adoptNewBase(switched, newBase)
            }
            try await storage.deleteSubvolume(at: layout.work(marker.operation, "new"))
            try ReplacementMarker.remove(in: path)
            note(marker.operation, "completed the data swap of \(branch.project)/\(branch.name)")
        }

        // 1b. Renames: whichever of catalog and subvolume has the new name, the other follows
        // (before step 6, which would take a renamed subvolume for one the catalog does not know).
        for (operation, text) in try await BranchRenames(context: context).recoverInterrupted() { note(operation, text) }

        // 2. The work area only ever holds what operations in flight made (subvolumes, and
        // directories of received backups): anything there now is debris.
        for name in (try? FileManager.default.contentsOfDirectory(atPath: layout.work)) ?? [] {
            let path = "\(layout.work)/\(name)"
            // A scratch server (a diff's, a merge's, a verification's) may still run on it.
            let scratch = PostgresServer(installation: installation, dataDirectory: PoolLayout.dataDirectory(in: path), logFile: "/dev/null")
            if scratch.runningPID() != nil {
                try? await scratch.stop()
                note(nil, "stopped the throw-away server of \(name)")
            }
            if storage.isSubvolume(path) {
                try await storage.deleteSubvolume(at: path)
            } else {
                await backups.removeReceived(path)
            }
            note(nil, "deleted unfinished work \(name)")
        }
        // Backups that were being written did not finish; their snapshots are not needed.
        let backupRows = try await catalog.read { try $0.backups(nil) }
        for var backup in ReconcileDecisions.interruptedBackups(backupRows) {
            backup.status = .failed
            backup.error = "the service stopped while it ran"
            backup.finishedAt = Date()
            try await catalog.write { [backup] in try $0.update(backup) }
            if let target = context.backupTarget {
                try? await target.delete(Backups.dataKey(backup.project.rawValue, backup.id))
            }
            note(nil, "marked interrupted backup \(backup.id) failed")
        }
        for project in try await catalog.projects() {
            let snapshots = try await catalog.snapshots(project.name)
            for snapshot in ReconcileDecisions.unneededBackupSnapshots(snapshots, backups: backupRows) {
                try await storage.deleteSubvolume(at: layout.snapshot(project.name, snapshot.id))
                try await catalog.write { try $0.deleteSnapshot(snapshot.id) }
                note(nil, "deleted snapshot \(snapshot.id) of a backup that did not finish")
            }
        }

        // 3. Projects half made or half deleted.
        for project in ReconcileDecisions.unfinished(try await catalog.projects(), state: \.state) {
            let branches = try await catalog.branches(project.name)
            for branch in branches { try await servers.stop(branch) }
            await forgetMirror(of: project)
            try await projects.removeFiles(project.name)
            try await catalog.write { try $0.deleteProject(project.name) }
            note(project.operationID, project.state == .creating
                ? "rolled back the creation of project \(project.name)" : "finished deleting project \(project.name)")
        }

        // 4. Branches half made or half deleted.
        for branch in ReconcileDecisions.unfinished(try await catalog.allBranches(), state: \.state) {
            try await servers.stop(branch)
            try await storage.deleteSubvolume(at: layout.branch(branch.project, branch.name))
            try await branches.finishRemoval(branch)
            try await lineages.remove(of: branch)
            note(branch.operationID, branch.state == .creating
                ? "rolled back the creation of branch \(branch.project)/\(branch.name)"
                : "finished deleting branch \(branch.project)/\(branch.name)")
        }

        // 5. Snapshots half made or half deleted.
        let projects = try await catalog.projects()
        for project in projects {
            for snapshot in ReconcileDecisions.unfinished(try await catalog.snapshots(project.name), state: \.state) {
                try await storage.deleteSubvolume(at: layout.snapshot(project.name, snapshot.id))
                try await catalog.write { try $0.deleteSnapshot(snapshot.id) }
                note(snapshot.operationID, snapshot.state == .creating
                    ? "rolled back snapshot \(snapshot.id)" : "finished deleting snapshot \(snapshot.id)")
            }
        }

        // 6. Subvolumes the catalog does not know.
        let onDisk = (try? FileManager.default.contentsOfDirectory(atPath: layout.projects)) ?? []
        for directory in ReconcileDecisions.unknown(onDisk: onDisk, known: Set(projects.map(\.name.rawValue))) {
            if let name = try? ResourceName(validating: directory) {
                for branch in storage.subvolumes(in: layout.branches(name)) {
                    if let branchName = try? ResourceName(validating: branch) { try await stopStrayServer(name, branchName) }
                }
                try await self.projects.removeFiles(name)
            } else {
                try FileManager.default.removeItem(atPath: "\(layout.projects)/\(directory)")
            }
            note(nil, "deleted project directory \(directory) that the catalog does not know")
        }
        for project in projects {
            let branchNames = Set(try await catalog.branches(project.name).map(\.name.rawValue))
            for name in ReconcileDecisions.unknown(onDisk: storage.subvolumes(in: layout.branches(project.name)), known: branchNames) {
                let path = "\(layout.branches(project.name))/\(name)"
                if let branchName = try? ResourceName(validating: name) { try await stopStrayServer(project.name, branchName) }
                try await storage.deleteSubvolume(at: path)
                note(nil, "deleted branch subvolume \(project.name)/\(name) that the catalog does not know")
            }
            let snapshotIDs = Set(try await catalog.snapshots(project.name).map(\.id))
            for id in ReconcileDecisions.unknown(onDisk: storage.subvolumes(in: layout.snapshots(project.name)), known: snapshotIDs) {
                try await storage.deleteSubvolume(at: layout.snapshot(project.name, id))
                note(nil, "deleted snapshot subvolume \(project.name)/\(id) that the catalog does not know")
            }
        }

        // 7. Rows whose subvolume is gone, and automatic bases nothing uses any more.
        for project in projects {
            let present = Set(storage.subvolumes(in: layout.branches(project.name)))
            for branch in ReconcileDecisions.branchesWithoutData(try await catalog.branches(project.name), subvolumes: present) {
                try await catalog.write { tx in
                    guard let current = try tx.project(project.name) else { return }
                    let (children, updated) = ReconcileDecisions.afterRemoving(
                        branch, children: try tx.children(project.name, of: branch.name), project: current, remaining: try tx.branches(project.name))
                    for child in children { try tx.update(child) }
                    try tx.deleteBranch(project.name, branch.name)
                    if updated != current { try tx.update(updated) }
                }
                note(nil, "removed branch \(project.name)/\(branch.name): its subvolume is missing")
            }
            let branches = try await catalog.branches(project.name)
            for snapshot in try await catalog.snapshots(project.name) {
                let hasSubvolume = storage.isSubvolume(layout.snapshot(project.name, snapshot.id))
                guard let removal = ReconcileDecisions.snapshotRemoval(snapshot, hasSubvolume: hasSubvolume, branches: branches) else { continue }
                try await storage.deleteSubvolume(at: layout.snapshot(project.name, snapshot.id))
                try await catalog.write { try $0.deleteSnapshot(snapshot.id) }
                note(snapshot.operationID, removal == .missing
                    ? "removed snapshot \(snapshot.id): its subvolume is missing" : "deleted unused base snapshot \(snapshot.id)")
            }
        }

        // 8. Archived WAL of lineages the catalog does not know (their branch was deleted or never made).
        for project in try await catalog.projects() {
            let known = Set(try await catalog.read { try $0.lineages(project.name) }.map(\.id))
            let directory = layout.wal(project.name)
            for name in ReconcileDecisions.unknown(onDisk: (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [], known: known) {
                try FileManager.default.removeItem(atPath: "\(directory)/\(name)")
                note(nil, "deleted archived WAL of unknown lineage \(project.name)/\(name)")
            }
        }

        // 9. Close the journal entries of operations the crash interrupted.
        let interrupted = try await catalog.read { try $0.runningOperations() }
        for operation in interrupted {
            let text = ReconcileDecisions.recoveryText(own: notes[operation.id] ?? [], general: general, interruptedCount: interrupted.count)
            try await catalog.write { tx in
                var entry = operation
                entry.state = .interrupted
                entry.finishedAt = Date()
                entry.recovery = text
                try tx.update(entry)
            }
        }
    }

    /// A mirror cut off while being made or deleted: its slot and publication on the source go too.
    private func forgetMirror(of project: ProjectRecord) async {
        let name = project.name.rawValue
        guard let mirror = try? await catalog.read({ try $0.mirror(name) }), let leftover = await MirrorSetup.forget(mirror) else { return }
        logger.warning("mirror slot left on the source", metadata: ["project": "\(name)", "detail": "\(leftover)"])
    }

    /// Stops a Postgres left running on a branch subvolume the catalog does not know.
    private func stopStrayServer(_ project: ResourceName, _ branch: ResourceName) async throws {
        let subvolume = layout.branch(project, branch)
        let spec = ServerSpec(
            project: project, branch: branch, subvolume: subvolume, dataDirectory: PoolLayout.dataDirectory(in: subvolume),
            logDirectory: layout.logDirectory(project, branch), port: 0, socketDirectory: layout.socketDirectory(port: 0))
        try await runtime.stop(spec)
    }
}
