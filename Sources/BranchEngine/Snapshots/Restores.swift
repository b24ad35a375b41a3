import BranchCatalog
import BranchCore
import BranchPostgres
import BranchStorage
import BranchSystem
import Foundation

/// Restores: a snapshot as a new branch, into a branch in place (undoable: the replaced state is
/// kept as a snapshot), one table of it, and resetting a branch to its parent's current state.
package struct Restores: EnginePart {
    let context: EngineContext

    /// Restores a snapshot as a new branch (`as`) or into a branch in place (`inPlace`).
    package func restore(
        project projectName: String, snapshot idOrName: String, as newName: String? = nil, inPlace: Bool = false, branch: String? = nil,
        table: String? = nil
    ) async throws -> BranchChange {
        if let table {
            guard newName == nil, !inPlace else {
                throw EngineError.invalidRequest("A table restore goes into an existing branch (--branch), not --as or --in-place.")
            }
            return try await restoreTable(project: projectName, snapshot: idOrName, table: table, into: branch)
        }
        switch (newName, inPlace) {
        case (.some(let newName), false):
            return try await branches.create(project: projectName, name: newName, snapshot: idOrName)
        case (nil, true):
            break
        case (.some, true):
            throw EngineError.invalidRequest("Give either a new branch name (--as) or --in-place, not both.")
        case (nil, false):
            throw EngineError.invalidRequest(
                "Say where to restore: as a new branch or in place.", hint: "Use --as NEW, or --in-place [--branch B].")
        }
        let projectKey = try ResourceName(validating: projectName, kind: "project name")
        return try await context.withProjectLock(projectKey.rawValue, checking: { tx in
            let project = try tx.requireProject(projectName)
            let snapshot = try tx.requireSnapshot(project.name, idOrName)
            return (project, snapshot, try tx.requireBranch(project.name, branch ?? snapshot.sourceBranch.rawValue))
        }) { (project, snapshot, branch) in
            // No free-space check: an in-place restore clones a snapshot (metadata only) and is how
            // an operator takes a branch back from a write that filled the pool.
            let (previous, timing) = try await journal.run("snapshot.restore", project: project.name, target: branch.name.rawValue) { op in
                try await replaceData(of: branch, withCopyOf: snapshot, newBase: nil, op: op)
            }
            return BranchChange(
                branch: try await presenter.branch(branch, project: project), replacedState: try await presenter.snapshot(previous),
                operation: timing)
        }
    }

    /// Re-creates a branch from its parent's current state: a new base snapshot of the parent
    /// replaces the branch's data (the old state is kept as a `pre-restore` snapshot).
    package func reset(project projectName: String, branch name: String) async throws -> BranchChange {
        let projectKey = try ResourceName(validating: projectName, kind: "project name")
        return try await context.withProjectLock(projectKey.rawValue, checking: { tx in
            let project = try tx.requireProject(projectName)
            let branch = try tx.requireBranch(project.name, name)
            guard let parentName = branch.parent else {
                throw EngineError(
                    .branchHasNoParent, "Branch '\(name)' has no parent to reset from.",
                    hint: "Restore one of its snapshots in place instead (`branch restore SNAPSHOT --in-place`).")
            }
            if branch.protected {
                throw EngineError.branchProtected(branch.name)
            }
            return (project, branch, try tx.requireBranch(project.name, parentName.rawValue))
        }) { (project, branch, parent) in
            try await diskUsage.requireSpaceToGrow()
            let ((updated, previous), timing) = try await journal.run("branch.reset", project: project.name, target: branch.name.rawValue) { op in
                var base = SnapshotRecord(
                    id: try await snapshots.unusedID(), project: project.name, name: nil, sourceBranch: parent.name, kind: .base,
                    state: .creating, createdAt: Date(), operationID: op.id)
                let basePath = layout.snapshot(project.name, base.id)
                try await op.step("catalog") { try await catalog.write { [base] in try $0.insert(base) } }
                op.onFailure("remove base row") { try await catalog.write { [base] in try $0.deleteSnapshot(base.id) } }
                try await op.step("checkpoint parent") { try await servers.checkpointIfRunning(parent) }
                op.onFailure("delete base") { try await storage.deleteSubvolume(at: basePath) }
                try await op.step("base snapshot") {
                    try await storage.snapshot(from: layout.branch(project.name, parent.name), to: basePath, readOnly: true)
                }
                base.lineage = parent.lineage
                base.walStart = await lineages.walStart(of: parent)
                base.state = .ready
                try await op.step("catalog") { try await catalog.write { [base] in try $0.update(base) } }
                let previous = try await replaceData(of: branch, withCopyOf: base, newBase: base.id, op: op)
                let updated = try await adoptNewBase(branch, base.id)
                return (updated, previous)
            }
            return BranchChange(
                branch: try await presenter.branch(updated, project: project), replacedState: try await presenter.snapshot(previous),
                operation: timing)
        }
    }

    /// Points a reset branch at its new base snapshot (its parent's head, which is now what it was
    /// made from) and deletes the old base if nothing else uses it.
    func adoptNewBase(_ branch: BranchRecord, _ newBase: String) async throws -> BranchRecord {
        var updated = branch
        updated.baseSnapshot = newBase
        updated.origin = .head
        updated.schemaOnly = false
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
}
