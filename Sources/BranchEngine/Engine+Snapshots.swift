public import BranchAPI
import BranchCatalog
import BranchCore
import BranchSystem
import BranchPostgres
import BranchRuntime
import BranchStorage
import Foundation
import Logging

extension Engine {
    /// A read-only snapshot of a branch (default: the checked-out one), after a CHECKPOINT.
    public func createSnapshot(project projectName: String, _ request: CreateSnapshotRequest) async throws -> SnapshotResult {
        let projectKey = try ResourceName(validating: projectName, kind: "project name")
        let snapshotName = try request.name.map { try ResourceName(validating: $0, kind: "snapshot name") }
        return try await withProjectLock(projectKey.rawValue, checking: { tx in
            let project = try self.requireProject(projectName, in: tx)
            let branch = try self.requireBranch(project.name, request.branch ?? project.checkedOut.rawValue, in: tx)
            if let snapshotName, try tx.snapshot(project.name, idOrName: snapshotName.rawValue) != nil {
                throw EngineError.snapshotNameTaken(project.name, snapshotName)
            }
            return (project, branch)
        }) { (project, branch) in
            try storage.requireFreeSpace(configuration.freeSpaceReserve)
            let (snapshot, timing) = try await journal.run("snapshot.create", project: project.name, target: branch.name.rawValue) { op in
                try await self.takeSnapshot(of: branch, kind: .manual, name: snapshotName, op: op)
            }
            return SnapshotResult(snapshot: try await snapshotInfo(snapshot), operation: timing)
        }
    }

    /// A read-only snapshot of a branch after a CHECKPOINT, recorded with the WAL lineage and
    /// redo position a point-in-time recovery would replay from. Journaled by the caller.
    func takeSnapshot(of branch: BranchRecord, kind: SnapshotKind, name: ResourceName?, op: OperationContext) async throws -> SnapshotRecord {
        var snapshot = SnapshotRecord(
            id: try await unusedSnapshotID(), project: branch.project, name: name, sourceBranch: branch.name, kind: kind,
            state: .creating, createdAt: Date(), operationID: op.id)
        snapshot.lineage = branch.lineage
        let path = layout.snapshot(branch.project, snapshot.id)
        try await op.step("catalog") { try await self.catalog.write { [snapshot] in try $0.insert(snapshot) } }
        op.onFailure("remove snapshot row") { try await self.catalog.write { [snapshot] in try $0.deleteSnapshot(snapshot.id) } }
        await FaultInjection.point("snapshot.create.after-catalog")
        try await op.step("checkpoint") { try await self.checkpointIfRunning(branch) }
        op.onFailure("delete subvolume") { try await self.storage.deleteSubvolume(at: path) }
        try await op.step("snapshot") {
            try await self.storage.snapshot(from: self.layout.branch(branch.project, branch.name), to: path, readOnly: true)
        }
        await FaultInjection.point("snapshot.create.after-snapshot")
        snapshot.walStart = await walStart(of: branch)
        snapshot.state = .ready
        try await op.step("catalog") { try await self.catalog.write { [snapshot] in try $0.update(snapshot) } }
        return snapshot
    }

    public func listSnapshots(project projectName: String) async throws -> SnapshotList {
        let (snapshots, branches) = try await catalog.read { tx in
            let project = try self.requireProject(projectName, in: tx)
            return (try tx.snapshots(project.name).filter { $0.state == .ready }, try tx.branches(project.name))
        }
        let sizes = await storage.exclusiveBytes(of: snapshots.map { layout.snapshot($0.project, $0.id) })
        return SnapshotList(snapshots: snapshots.map { snapshotInfo($0, branches: branches, sizes: sizes) })
    }

    public func snapshot(project projectName: String, _ idOrName: String) async throws -> SnapshotInfo {
        let snapshot = try await catalog.read { tx in
            let project = try self.requireProject(projectName, in: tx)
            return try self.requireSnapshot(project.name, idOrName, in: tx)
        }
        return try await snapshotInfo(snapshot)
    }

    /// Deletes a snapshot; refused while a branch uses it as its base (diff and merge need it).
    public func deleteSnapshot(project projectName: String, _ idOrName: String) async throws -> DeleteResult {
        let projectKey = try ResourceName(validating: projectName, kind: "project name")
        return try await withProjectLock(projectKey.rawValue, checking: { tx in
            let project = try self.requireProject(projectName, in: tx)
            let snapshot = try self.requireSnapshot(project.name, idOrName, in: tx)
            let users = try tx.branches(basedOn: snapshot.id)
            if !users.isEmpty {
                throw EngineError(
                    "snapshot_in_use", 409,
                    "Snapshot '\(idOrName)' is the base of branch\(users.count == 1 ? "" : "es") \(users.map(\.name.rawValue).joined(separator: ", ")).",
                    hint: "A branch's base is the state it was copied from and is kept while the branch exists; delete those branches first.")
            }
            return snapshot
        }) { snapshot in
            let (_, timing) = try await journal.run("snapshot.delete", project: snapshot.project, target: snapshot.id) { op in
                try await op.step("mark deleting") {
                    try await self.catalog.write { tx in
                        var marked = snapshot
                        marked.state = .deleting
                        try tx.update(marked)
                    }
                }
                await FaultInjection.point("snapshot.delete.after-mark")
                try await op.step("delete subvolume") {
                    try await self.storage.deleteSubvolume(at: self.layout.snapshot(snapshot.project, snapshot.id))
                }
                try await op.step("catalog") { try await self.catalog.write { try $0.deleteSnapshot(snapshot.id) } }
            }
            return DeleteResult(deleted: [snapshot.id], operation: timing)
        }
    }

    /// Restores a snapshot as a new branch (`as`) or into a branch in place (`inPlace`).
    public func restoreSnapshot(project projectName: String, _ idOrName: String, _ request: RestoreRequest) async throws -> BranchResult {
        if let table = request.table {
            guard request.as == nil, request.inPlace != true else {
                throw EngineError.invalidRequest("A table restore goes into an existing branch (--branch), not --as or --in-place.")
            }
            return try await restoreTable(project: projectName, snapshot: idOrName, table: table, into: request.branch)
        }
        let inPlace = request.inPlace ?? false
        switch (request.as, inPlace) {
        case (.some(let newName), false):
            return try await createBranch(project: projectName, CreateBranchRequest(name: newName, snapshot: idOrName))
        case (nil, true):
            break
        case (.some, true):
            throw EngineError.invalidRequest("Give either a new branch name (--as) or --in-place, not both.")
        case (nil, false):
            throw EngineError.invalidRequest(
                "Say where to restore: as a new branch or in place.", hint: "Use --as NEW, or --in-place [--branch B].")
        }
        let projectKey = try ResourceName(validating: projectName, kind: "project name")
        return try await withProjectLock(projectKey.rawValue, checking: { tx in
            let project = try self.requireProject(projectName, in: tx)
            let snapshot = try self.requireSnapshot(project.name, idOrName, in: tx)
            let branch = try self.requireBranch(project.name, request.branch ?? snapshot.sourceBranch.rawValue, in: tx)
            return (project, snapshot, branch)
        }) { (project, snapshot, branch) in
            try storage.requireFreeSpace(configuration.freeSpaceReserve)
            let (previous, timing) = try await journal.run("snapshot.restore", project: project.name, target: branch.name.rawValue) { op in
                try await self.replaceData(of: branch, withCopyOf: snapshot, newBase: nil, op: op)
            }
            return BranchResult(
                branch: try await branchInfo(branch, project: project), replacedStateSnapshot: try await snapshotInfo(previous),
                operation: timing)
        }
    }

    /// Re-creates a branch from its parent's current state: a new base snapshot of the parent
    /// replaces the branch's data (the old state is kept as a `pre-restore` snapshot).
    public func resetBranch(project projectName: String, _ name: String) async throws -> BranchResult {
        let projectKey = try ResourceName(validating: projectName, kind: "project name")
        return try await withProjectLock(projectKey.rawValue, checking: { tx in
            let project = try self.requireProject(projectName, in: tx)
            let branch = try self.requireBranch(project.name, name, in: tx)
            guard let parentName = branch.parent else {
                throw EngineError(
                    "branch_has_no_parent", 409, "Branch '\(name)' has no parent to reset from.",
                    hint: "Restore one of its snapshots in place instead (`branch restore SNAPSHOT --in-place`).")
            }
            return (project, branch, try self.requireBranch(project.name, parentName.rawValue, in: tx))
        }) { (project, branch, parent) in
            try storage.requireFreeSpace(configuration.freeSpaceReserve)
            let ((updated, previous), timing) = try await journal.run("branch.reset", project: project.name, target: branch.name.rawValue) { op in
                var base = SnapshotRecord(
                    id: try await self.unusedSnapshotID(), project: project.name, name: nil, sourceBranch: parent.name, kind: .base,
                    state: .creating, createdAt: Date(), operationID: op.id)
                let basePath = self.layout.snapshot(project.name, base.id)
                try await op.step("catalog") { try await self.catalog.write { [base] in try $0.insert(base) } }
                op.onFailure("remove base row") { try await self.catalog.write { [base] in try $0.deleteSnapshot(base.id) } }
                try await op.step("checkpoint parent") { try await self.checkpointIfRunning(parent) }
                op.onFailure("delete base") { try await self.storage.deleteSubvolume(at: basePath) }
                try await op.step("base snapshot") {
                    try await self.storage.snapshot(from: self.layout.branch(project.name, parent.name), to: basePath, readOnly: true)
                }
                base.lineage = parent.lineage
                base.walStart = await self.walStart(of: parent)
                base.state = .ready
                try await op.step("catalog") { try await self.catalog.write { [base] in try $0.update(base) } }
                let previous = try await self.replaceData(of: branch, withCopyOf: base, newBase: base.id, op: op)
                let updated = try await self.adoptNewBase(branch, base.id)
                return (updated, previous)
            }
            return BranchResult(
                branch: try await branchInfo(updated, project: project), replacedStateSnapshot: try await snapshotInfo(previous),
                operation: timing)
        }
    }

    /// Points a branch at its new base snapshot and deletes the old base if nothing else uses it.
    func adoptNewBase(_ branch: BranchRecord, _ newBase: String) async throws -> BranchRecord {
        var updated = branch
        updated.baseSnapshot = newBase
        let oldBase = try await catalog.write { [updated] tx -> SnapshotRecord? in
            try tx.update(updated)
            guard let id = branch.baseSnapshot, id != newBase, let old = try tx.snapshot(branch.project, idOrName: id),
                old.kind == .base, try tx.branches(basedOn: id).isEmpty
            else { return nil }
            return old
        }
        if let oldBase {
            try await storage.deleteSubvolume(at: layout.snapshot(oldBase.project, oldBase.id))
            try await catalog.write { try $0.deleteSnapshot(oldBase.id) }
        }
        return updated
    }

    func unusedSnapshotID() async throws -> String {
        for _ in 0..<16 {
            let id = Identifiers.shortID()
            let taken = try await catalog.read { tx in try tx.allSnapshots().contains { $0.id == id || $0.name?.rawValue == id } }
            if !taken { return id }
        }
        throw EngineError.internalError("Could not find an unused snapshot id.")
    }
}
