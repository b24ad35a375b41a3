import BranchAPI
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
/// the branch) and rolled back otherwise.
struct Reconciler {
    let engine: Engine

    private var catalog: Catalog { engine.catalog }
    private var storage: PoolStorage { engine.storage }
    private var layout: PoolLayout { engine.layout }

    func run() async throws {
        var notes: [String: [String]] = [:]  // by operation id
        var general: [String] = []
        func note(_ operation: String?, _ text: String) {
            if let operation { notes[operation, default: []].append(text) } else { general.append(text) }
            engine.logger.warning("reconcile", metadata: ["operation": "\(operation ?? "-")", "action": "\(text)"])
        }

        // 1. In-place replacements whose swap happened: finish them.
        for branch in try await catalog.allBranches() {
            let path = layout.branch(branch.project, branch.name)
            guard let marker = ReplacementMarker.read(in: path) else { continue }
            let switched = try await engine.completeLineageSwitch(branch, marker)
            if let newBase = marker.newBase,
                try await catalog.read({ try $0.snapshot(branch.project, idOrName: newBase) })?.state == .ready
            {
                _ = try await engine.adoptNewBase(switched, newBase)
            }
            try await storage.deleteSubvolume(at: layout.work(marker.operation, "new"))
            try ReplacementMarker.remove(in: path)
            note(marker.operation, "completed the data swap of \(branch.project)/\(branch.name)")
        }

        // 2. The work area only ever holds what operations in flight made (subvolumes, and
        // directories of received backups): anything there now is debris.
        for name in (try? FileManager.default.contentsOfDirectory(atPath: layout.work)) ?? [] {
            let path = "\(layout.work)/\(name)"
            if storage.isSubvolume(path) {
                try await storage.deleteSubvolume(at: path)
            } else {
                await engine.removeReceived(path)
            }
            note(nil, "deleted unfinished work \(name)")
        }
        // Backups that were being written did not finish; their snapshots are not needed.
        let backupRows = try await catalog.read { try $0.backups(nil) }
        for var backup in backupRows where backup.status == "running" {
            backup.status = "failed"
            backup.error = "the service stopped while it ran"
            backup.finishedAt = Date()
            try await catalog.write { [backup] in try $0.update(backup) }
            if let target = engine.backupTarget {
                try? await target.delete(Engine.dataKey(backup.project.rawValue, backup.id))
            }
            note(nil, "marked interrupted backup \(backup.id) failed")
        }
        let neededForIncrementals = Set(backupRows.filter { $0.status == "complete" }.map(\.snapshotID))
        for project in try await catalog.projects() {
            for snapshot in try await catalog.snapshots(project.name) where snapshot.kind == .backup && !neededForIncrementals.contains(snapshot.id) {
                try await storage.deleteSubvolume(at: layout.snapshot(project.name, snapshot.id))
                try await catalog.write { try $0.deleteSnapshot(snapshot.id) }
                note(nil, "deleted snapshot \(snapshot.id) of a backup that did not finish")
            }
        }

        // 3. Projects half made or half deleted.
        for project in try await catalog.projects() where project.state != .ready {
            let branches = try await catalog.branches(project.name)
            for branch in branches { try await engine.stopServer(branch) }
            try await engine.removeProjectFiles(project.name)
            try await catalog.write { try $0.deleteProject(project.name) }
            note(project.operationID, project.state == .creating
                ? "rolled back the creation of project \(project.name)" : "finished deleting project \(project.name)")
        }

        // 4. Branches half made or half deleted.
        for branch in try await catalog.allBranches() where branch.state != .ready {
            try await engine.stopServer(branch)
            try await storage.deleteSubvolume(at: layout.branch(branch.project, branch.name))
            try await engine.finishBranchRemoval(branch)
            try await engine.removeLineages(of: branch)
            note(branch.operationID, branch.state == .creating
                ? "rolled back the creation of branch \(branch.project)/\(branch.name)"
                : "finished deleting branch \(branch.project)/\(branch.name)")
        }

        // 5. Snapshots half made or half deleted.
        let projects = try await catalog.projects()
        for project in projects {
            for snapshot in try await catalog.snapshots(project.name) where snapshot.state != .ready {
                try await storage.deleteSubvolume(at: layout.snapshot(project.name, snapshot.id))
                try await catalog.write { try $0.deleteSnapshot(snapshot.id) }
                note(snapshot.operationID, snapshot.state == .creating
                    ? "rolled back snapshot \(snapshot.id)" : "finished deleting snapshot \(snapshot.id)")
            }
        }

        // 6. Subvolumes the catalog does not know.
        let known = Set(projects.map(\.name.rawValue))
        for directory in (try? FileManager.default.contentsOfDirectory(atPath: layout.projects)) ?? [] where !known.contains(directory) {
            if let name = try? ResourceName(validating: directory) {
                for branch in storage.subvolumes(in: layout.branches(name)) {
                    if let branchName = try? ResourceName(validating: branch) { try await stopStrayServer(name, branchName) }
                }
                try await engine.removeProjectFiles(name)
            } else {
                try FileManager.default.removeItem(atPath: "\(layout.projects)/\(directory)")
            }
            note(nil, "deleted project directory \(directory) that the catalog does not know")
        }
        for project in projects {
            let branches = Set(try await catalog.branches(project.name).map(\.name.rawValue))
            for name in storage.subvolumes(in: layout.branches(project.name)) where !branches.contains(name) {
                let path = "\(layout.branches(project.name))/\(name)"
                if let branchName = try? ResourceName(validating: name) { try await stopStrayServer(project.name, branchName) }
                try await storage.deleteSubvolume(at: path)
                note(nil, "deleted branch subvolume \(project.name)/\(name) that the catalog does not know")
            }
            let snapshots = Set(try await catalog.snapshots(project.name).map(\.id))
            for id in storage.subvolumes(in: layout.snapshots(project.name)) where !snapshots.contains(id) {
                try await storage.deleteSubvolume(at: layout.snapshot(project.name, id))
                note(nil, "deleted snapshot subvolume \(project.name)/\(id) that the catalog does not know")
            }
        }

        // 7. Rows whose subvolume is gone, and automatic bases nothing uses any more.
        for project in projects {
            for branch in try await catalog.branches(project.name) where !storage.isSubvolume(layout.branch(project.name, branch.name)) {
                try await catalog.write { tx in
                    for var child in try tx.children(project.name, of: branch.name) {
                        child.parent = branch.parent
                        try tx.update(child)
                    }
                    try tx.deleteBranch(project.name, branch.name)
                    if var current = try tx.project(project.name), current.checkedOut == branch.name {
                        current.checkedOut = try tx.branches(project.name).first?.name ?? Engine.mainBranch
                        try tx.update(current)
                    }
                }
                note(nil, "removed branch \(project.name)/\(branch.name): its subvolume is missing")
            }
            let branches = try await catalog.branches(project.name)
            for snapshot in try await catalog.snapshots(project.name) {
                let missing = !storage.isSubvolume(layout.snapshot(project.name, snapshot.id))
                let unusedBase = snapshot.kind == .base && !branches.contains { $0.baseSnapshot == snapshot.id }
                guard missing || unusedBase else { continue }
                try await storage.deleteSubvolume(at: layout.snapshot(project.name, snapshot.id))
                try await catalog.write { try $0.deleteSnapshot(snapshot.id) }
                note(snapshot.operationID, missing
                    ? "removed snapshot \(snapshot.id): its subvolume is missing" : "deleted unused base snapshot \(snapshot.id)")
            }
        }

        // 8. Archived WAL of lineages the catalog does not know (their branch was deleted or never made).
        for project in try await catalog.projects() {
            let known = Set(try await catalog.read { try $0.lineages(project.name) }.map(\.id))
            let directory = layout.wal(project.name)
            for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where !known.contains(name) {
                try FileManager.default.removeItem(atPath: "\(directory)/\(name)")
                note(nil, "deleted archived WAL of unknown lineage \(project.name)/\(name)")
            }
        }

        // 9. Close the journal entries of operations the crash interrupted.
        let interrupted = try await catalog.read { try $0.runningOperations() }
        for operation in interrupted {
            let text = (notes[operation.id] ?? []) + (interrupted.count == 1 ? general : [])
            try await catalog.write { tx in
                var entry = operation
                entry.state = .interrupted
                entry.finishedAt = Date()
                entry.recovery = text.isEmpty ? "nothing to repair" : text.joined(separator: "; ")
                try tx.update(entry)
            }
        }
    }

    /// Stops a Postgres left running on a branch subvolume the catalog does not know.
    private func stopStrayServer(_ project: ResourceName, _ branch: ResourceName) async throws {
        let subvolume = layout.branch(project, branch)
        let spec = ServerSpec(
            project: project, branch: branch, subvolume: subvolume, dataDirectory: PoolLayout.dataDirectory(in: subvolume),
            logDirectory: layout.logDirectory(project, branch), port: 0, socketDirectory: layout.socketDirectory(port: 0))
        try await engine.runtime.stop(spec)
    }
}
