import BranchCatalog
import BranchCore
import BranchSystem
import BranchPostgres
import BranchRuntime
import BranchStorage
import Foundation
import Logging

/// Snapshots: read-only copies of a branch at an instant, taken on demand, on a schedule, as
/// branches' bases, before in-place restores and for backups.
package struct Snapshots: EnginePart {
    let context: EngineContext

    /// A read-only snapshot of a branch (default: the checked-out one), after a CHECKPOINT.
    package func create(project projectName: String, branch branchName: String? = nil, name: String? = nil) async throws -> SnapshotCreation {
        let projectKey = try ResourceName(validating: projectName, kind: "project name")
        let snapshotName = try name.map { try ResourceName(validating: $0, kind: "snapshot name") }
        return try await context.withProjectLock(projectKey.rawValue, checking: { tx in
            let project = try tx.requireProject(projectName)
            let branch = try tx.requireBranch(project.name, branchName ?? project.checkedOut.rawValue)
            if let snapshotName, try tx.snapshot(project.name, idOrName: snapshotName.rawValue) != nil {
                throw EngineError.snapshotNameTaken(project.name, snapshotName)
            }
            return (project, branch)
        }) { (project, branch) in
            try await diskUsage.requireSpaceToGrow()
            let (snapshot, timing) = try await journal.run("snapshot.create", project: project.name, target: branch.name.rawValue) { op in
                try await take(of: branch, kind: .manual, name: snapshotName, op: op)
            }
            return SnapshotCreation(snapshot: try await presenter.snapshot(snapshot), operation: timing)
        }
    }

    /// A read-only snapshot of a branch after a CHECKPOINT, recorded with the WAL lineage and
    /// redo position a point-in-time recovery would replay from. Journaled by the caller.
    func take(of branch: BranchRecord, kind: SnapshotKind, name: ResourceName?, op: OperationContext) async throws -> SnapshotRecord {
        var snapshot = SnapshotRecord(
            id: try await unusedID(), project: branch.project, name: name, sourceBranch: branch.name, kind: kind,
            state: .creating, createdAt: Date(), operationID: op.id)
        snapshot.lineage = branch.lineage
        let path = layout.snapshot(branch.project, snapshot.id)
        try await op.step("catalog") { try await catalog.write { [snapshot] in try $0.insert(snapshot) } }
        op.onFailure("remove snapshot row") { try await catalog.write { [snapshot] in try $0.deleteSnapshot(snapshot.id) } }
        await FaultInjection.point("snapshot.create.after-catalog")
        try await op.step("checkpoint") { try await servers.checkpointIfRunning(branch) }
        op.onFailure("delete subvolume") { try await storage.deleteSubvolume(at: path) }
        try await op.step("snapshot") {
            try await storage.snapshot(from: layout.branch(branch.project, branch.name), to: path, readOnly: true)
        }
        await FaultInjection.point("snapshot.create.after-snapshot")
        snapshot.walStart = await lineages.walStart(of: branch)
        snapshot.state = .ready
        try await op.step("catalog") { try await catalog.write { [snapshot] in try $0.update(snapshot) } }
        return snapshot
    }

    package func list(project projectName: String) async throws -> [SnapshotView] {
        let (records, branchRecords) = try await catalog.read { tx in
            let project = try tx.requireProject(projectName)
            return (try tx.snapshots(project.name).filter { $0.state == .ready }, try tx.branches(project.name))
        }
        let sizes = await storage.exclusiveBytes(of: records.map { layout.snapshot($0.project, $0.id) })
        return records.map { presenter.snapshot($0, branches: branchRecords, sizes: sizes) }
    }

    package func get(project projectName: String, _ idOrName: String) async throws -> SnapshotView {
        let snapshot = try await catalog.read { tx in
            let project = try tx.requireProject(projectName)
            return try tx.requireSnapshot(project.name, idOrName)
        }
        return try await presenter.snapshot(snapshot)
    }

    /// Pins a snapshot (schedules' retention keeps it, whatever their rules) or unpins it.
    package func setPinned(project projectName: String, _ idOrName: String, pinned: Bool) async throws -> SnapshotView {
        let projectKey = try ResourceName(validating: projectName, kind: "project name")
        let updated = try await context.withProjectLock(projectKey.rawValue, checking: { tx in
            let project = try tx.requireProject(projectName)
            return try tx.requireSnapshot(project.name, idOrName)
        }) { snapshot in
            var updated = snapshot
            updated.pinned = pinned
            try await catalog.write { [updated] tx in try tx.update(updated) }
            return updated
        }
        return try await presenter.snapshot(updated)
    }

    /// Deletes a snapshot; refused while a branch uses it as its base (diff and merge need it).
    package func delete(project projectName: String, _ idOrName: String) async throws -> Deletion {
        let projectKey = try ResourceName(validating: projectName, kind: "project name")
        return try await context.withProjectLock(projectKey.rawValue, checking: { tx in
            let project = try tx.requireProject(projectName)
            let snapshot = try tx.requireSnapshot(project.name, idOrName)
            let users = try tx.branches(basedOn: snapshot.id)
            if !users.isEmpty {
                throw EngineError(
                    .snapshotInUse,
                    "Snapshot '\(idOrName)' is the base of branch\(users.count == 1 ? "" : "es") \(users.map(\.name.rawValue).joined(separator: ", ")).",
                    hint: "A branch's base is the state it was copied from and is kept while the branch exists; delete those branches first.")
            }
            return snapshot
        }) { snapshot in
            let (_, timing) = try await journal.run("snapshot.delete", project: snapshot.project, target: snapshot.id) { op in
                try await op.step("mark deleting") {
                    try await catalog.write { tx in
                        var marked = snapshot
                        marked.state = .deleting
                        try tx.update(marked)
                    }
                }
                await FaultInjection.point("snapshot.delete.after-mark")
                try await op.step("delete subvolume") {
                    try await storage.deleteSubvolume(at: layout.snapshot(snapshot.project, snapshot.id))
                }
                try await op.step("catalog") { try await catalog.write { try $0.deleteSnapshot(snapshot.id) } }
            }
            return Deletion(deleted: [snapshot.id], operation: timing)
        }
    }

    /// An id no snapshot has (as id or name) yet.
    func unusedID() async throws -> String {
        for _ in 0..<16 {
            let id = Identifiers.shortID()
            let taken = try await catalog.read { tx in try tx.allSnapshots().contains { $0.id == id || $0.name?.rawValue == id } }
            if !taken { return id }
        }
        throw EngineError.internalError("Could not find an unused snapshot id.")
    }
}
