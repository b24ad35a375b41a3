import BranchCatalog
package import BranchCore
import BranchSystem
import BranchPostgres
import BranchRuntime
import BranchStorage
package import Foundation
import Logging

/// Branches: copy-on-write copies of another branch or a snapshot, each with its own server.
package struct Branches: EnginePart {
    let context: EngineContext

    /// Creates a branch from a branch (CHECKPOINT, read-only base snapshot, writable snapshot of
    /// it) or from an existing snapshot, starts it and waits until it accepts connections. With
    /// `at`, the source branch as it was at that instant or WAL position, replayed from its archive;
    /// with `schemaOnly`, without its rows (see `SchemaOnly`). A time to live (0: none) and
    /// protection not given are the project's branch defaults.
    package func create(
        project projectName: String, name rawName: String, from: String? = nil, snapshot: String? = nil, at: PastPoint? = nil,
        ttlSeconds: Int? = nil, protected: Bool? = nil, schemaOnly: Bool = false
    ) async throws -> BranchChange {
        let name = try ResourceName(validating: rawName, kind: "branch name")
        _ = try BranchLifetime.expiry(ttlSeconds: ttlSeconds)
        if from != nil && snapshot != nil {
            throw EngineError.invalidRequest("Give either a source branch or a snapshot, not both.")
        }
        if at != nil && snapshot != nil {
            throw EngineError.invalidRequest("A point in time goes with a source branch (--from), not a snapshot.")
        }
        let projectKey = try ResourceName(validating: projectName, kind: "project name")
        return try await context.withProjectLock(projectKey.rawValue, checking: { tx -> (ProjectRecord, BranchSource) in
            let project = try tx.requireProject(projectName)
            if try tx.branch(project.name, name) != nil { throw EngineError.branchExists(project.name, name) }
            if let snapshot {
                let record = try tx.requireSnapshot(project.name, snapshot)
                let parentExists = try tx.branch(project.name, record.sourceBranch) != nil
                return (project, .snapshot(record, parent: parentExists ? record.sourceBranch : nil))
            }
            let parent = try tx.requireBranch(project.name, from ?? ResourceName.main.rawValue)
            return (project, .branch(parent))
        }) { (project, source) in
            try await diskUsage.requireSpaceToGrow()
            var source = source
            var recovery: Recovery?
            if let point = at, case .branch(let parent) = source {
                let (lineage, snapshot) = try await pointInTime.source(parent, at: point)
                if lineage.id == parent.lineage { try await pointInTime.archiveCurrentWAL(of: parent) }
                source = .snapshot(snapshot, parent: parent.name)
                recovery = Recovery(restoreWal: layout.wal(project.name, lineage: lineage.id), target: point)
            }
            let lifetime = try NewBranchLifetime(ttlSeconds: ttlSeconds, protected: protected, defaults: project)
            let kind = recovery == nil ? "branch.create" : "branch.create-at"
            let (branch, timing) = try await journal.run(kind, project: project.name, target: name.rawValue) { [source, recovery] op in
                try await make(name, in: project, from: source, recovery: recovery, lifetime: lifetime, schemaOnly: schemaOnly, op: op)
            }
            return BranchChange(branch: try await presenter.branch(branch, project: project), operation: timing)
        }
    }

    enum BranchSource {
        case branch(BranchRecord)
        case snapshot(SnapshotRecord, parent: ResourceName?)
    }

    /// The steps of branch creation, shared by `createBranch`, `restore --as` and point-in-time
    /// branches (with `recovery`: replay the source's archived WAL up to an instant, then promote).
    func make(
        _ name: ResourceName, in project: ProjectRecord, from source: BranchSource, recovery: Recovery? = nil,
        lifetime: NewBranchLifetime = NewBranchLifetime(), schemaOnly: Bool = false, op: OperationContext
    ) async throws -> BranchRecord {
        let port = try await context.allocatePort()
        var branch = BranchRecord(
            project: project.name, name: name, parent: nil, baseSnapshot: nil, port: port, state: .creating, desired: .running,
            createdAt: Date(), operationID: op.id)
        var lineage = lineages.new(project: project.name, branch: name, startSnapshot: nil)
        branch.lineage = lineage.id
        branch.expiresAt = lifetime.expiresAt
        branch.protected = lifetime.protected
        branch.schemaOnly = schemaOnly
        branch.origin = switch (recovery?.target, source) {
        case (.instant(let date)?, _): .instant(date)
        case (.position(let position)?, _): .position(position)
        case (nil, .branch): .head
        case (nil, .snapshot(let snapshot, _)): .snapshot(snapshot.id)
        }
        var baseSnapshot: SnapshotRecord?
        let basePath: String
        switch source {
        case .branch(let parent):
            var snapshot = SnapshotRecord(
                id: try await snapshots.unusedID(), project: project.name, name: nil, sourceBranch: parent.name, kind: .base,
                state: .creating, createdAt: Date(), operationID: op.id)
            snapshot.lineage = parent.lineage
            branch.parent = parent.name
            branch.baseSnapshot = snapshot.id
            baseSnapshot = snapshot
            basePath = layout.snapshot(project.name, snapshot.id)
        case .snapshot(let snapshot, let parent):
            branch.parent = parent
            branch.baseSnapshot = snapshot.id
            basePath = layout.snapshot(project.name, snapshot.id)
        }
        // A point-in-time branch's lineage starts from the snapshot taken once it is promoted.
        lineage.startSnapshot = recovery == nil ? branch.baseSnapshot : nil
        try await op.step("catalog") {
            try await catalog.write { [branch, baseSnapshot, lineage] tx in
                if let baseSnapshot { try tx.insert(baseSnapshot) }
                try tx.insert(branch)
                try tx.insert(lineage)
            }
        }
        op.onFailure("remove catalog rows") {
            try await catalog.write { [branch, baseSnapshot, lineage] tx in
                try tx.deleteBranch(branch.project, branch.name)
                try tx.deleteLineage(lineage.id)
                if let baseSnapshot { try tx.deleteSnapshot(baseSnapshot.id) }
            }
        }
        op.onFailure("remove archived WAL") {
            let path = layout.wal(project.name, lineage: lineage.id)
            if Files.exists(path) { try FileManager.default.removeItem(atPath: path) }
        }
        await FaultInjection.point("branch.create.after-catalog")

        if case .branch(let parent) = source, var snapshot = baseSnapshot {
            try await op.step("checkpoint") { try await servers.checkpointIfRunning(parent) }
            op.onFailure("delete base snapshot") { try await storage.deleteSubvolume(at: basePath) }
            try await op.step("base snapshot") {
                try await storage.snapshot(from: layout.branch(project.name, parent.name), to: basePath, readOnly: true)
            }
            snapshot.walStart = await lineages.walStart(of: parent)
            snapshot.state = .ready
            baseSnapshot = snapshot
            await FaultInjection.point("branch.create.after-base-snapshot")
        }

        let branchPath = layout.branch(project.name, name)
        op.onFailure("delete branch subvolume") { try await storage.deleteSubvolume(at: branchPath) }
        try await op.step("snapshot") { try await storage.snapshot(from: basePath, to: branchPath, readOnly: false) }
        await FaultInjection.point("branch.create.after-snapshot")

        let spec = servers.spec(branch)
        op.onFailure("stop server") { try await runtime.stop(spec) }
        if let recovery {
            try await pointInTime.recover(&branch, project: project, recovery: recovery, replayFrom: basePath, op: op)
            baseSnapshot = try await catalog.read { [branch] tx in try branch.baseSnapshot.flatMap { try tx.snapshot(project.name, idOrName: $0) } }
        } else {
            try await op.step("start") {
                try servers.prepareClone(dataDirectory: spec.dataDirectory, branch: branch, project: project)
                try await servers.start(branch)
            }
            // A snapshot may be the project's origin, from before its owner role had its name.
            if case .snapshot = source {
                try await op.step("owner role") { try await OwnerRole.adopt(spec.superuserConnection, project: project) }
            }
        }
        if schemaOnly {
            try await op.step("empty tables") { try await SchemaOnly.empty(spec, project: project) }
        }
        await FaultInjection.point("branch.create.after-start")

        branch.state = .ready
        try await op.step("catalog") {
            try await catalog.write { [branch, baseSnapshot] tx in
                if let baseSnapshot { try tx.update(baseSnapshot) }
                try tx.update(branch)
            }
        }
        await FaultInjection.point("branch.create.after-ready")
        try await op.step("pooler") { try await frontDoor.sync() }
        return branch
    }

    package func list(project projectName: String) async throws -> [BranchView] {
        let (project, records, lineageRecords, snapshotRecords) = try await catalog.read { tx in
            let project = try tx.requireProject(projectName)
            return (project, try tx.branches(project.name), try tx.lineages(project.name), try tx.snapshots(project.name))
        }
        let sizes = await storage.exclusiveBytes(of: records.map { layout.branch($0.project, $0.name) })
        let active = await context.activity.lastActiveDates(records.map(Activity.key))
        return records.map { branch in
            let earliest = pointInTime.earliestRestorable(
                branch, lineages: lineageRecords.filter { $0.branch == branch.name }, snapshots: snapshotRecords)
            return presenter.branch(branch, project: project, sizes: sizes, earliest: earliest, lastActive: active)
        }
    }

    package func get(project projectName: String, _ name: String) async throws -> BranchView {
        let (project, branch) = try await catalog.read { tx in
            let project = try tx.requireProject(projectName)
            return (project, try tx.requireBranch(project.name, name, ready: false))
        }
        return try await presenter.branch(branch, project: project)
    }

    /// Deletes a branch. `main` and branches with children need `force` (children keep their data
    /// and are re-parented to the deleted branch's parent); the checked-out branch is refused.
    package func delete(project projectName: String, _ name: String, force: Bool) async throws -> Deletion {
        let projectKey = try ResourceName(validating: projectName, kind: "project name")
        return try await context.withProjectLock(projectKey.rawValue, checking: { tx in
            let project = try tx.requireProject(projectName)
            let branch = try tx.requireBranch(project.name, name)
            return (project, branch, try tx.children(project.name, of: branch.name))
        }) { (project, branch, children) in
            if project.checkedOut == branch.name {
                throw EngineError(
                    .branchCheckedOut, "Branch '\(name)' is checked out: the project's endpoint points at it.",
                    hint: "Check out another branch first (`branch checkout OTHER`).")
            }
            if branch.protected {
                throw EngineError.branchProtected(branch.name)
            }
            if branch.name == .main && !force {
                throw EngineError(.branchIsMain, "Refusing to delete main without --force.", hint: "Pass --force if you mean it.")
            }
            if !children.isEmpty && !force {
                throw EngineError(
                    .branchHasChildren,
                    "Branch '\(name)' has child branches: \(children.map(\.name.rawValue).joined(separator: ", ")).",
                    hint: "Delete them first, or pass --force (they keep their data and move under '\(branch.parent?.rawValue ?? "no parent")').")
            }
            let (_, timing) = try await journal.run("branch.delete", project: project.name, target: branch.name.rawValue) { op in
                try await remove(branch, reparentingChildrenTo: branch.parent, op: op)
            }
            return Deletion(deleted: [branch.name.rawValue], operation: timing)
        }
    }

    /// Marks the branch deleting, takes it out of the pooler, stops it and deletes its subvolume,
    /// its row, and its base snapshot when no other branch uses it. Reconciliation finishes a
    /// deletion interrupted after the mark.
    func remove(_ branch: BranchRecord, reparentingChildrenTo newParent: ResourceName?, op: OperationContext) async throws {
        try await op.step("mark deleting") {
            try await catalog.write { tx in
                var marked = branch
                marked.state = .deleting
                try tx.update(marked)
                for var child in try tx.children(branch.project, of: branch.name) {
                    child.parent = newParent
                    try tx.update(child)
                }
            }
        }
        await FaultInjection.point("branch.delete.after-mark")
        try await op.step("pooler") { try await frontDoor.sync() }
        try await op.step("stop") { try await servers.stop(branch) }
        try await op.step("delete subvolume") {
            try await storage.deleteSubvolume(at: layout.branch(branch.project, branch.name))
        }
        await FaultInjection.point("branch.delete.after-subvolume")
        try await op.step("catalog") { try await finishRemoval(branch) }
        try await op.step("archived WAL") { try await lineages.remove(of: branch) }
        await context.activity.forget(Activity.key(branch))
        await context.metricsStore.forget(project: branch.project.rawValue, branch: branch.name.rawValue)
    }

    /// Deletes the branch row and its now-unused automatic base snapshot (subvolume first).
    func finishRemoval(_ branch: BranchRecord) async throws {
        let orphanedBase = try await catalog.write { tx -> SnapshotRecord? in
            try tx.deleteBranch(branch.project, branch.name)
            guard let id = branch.baseSnapshot, let base = try tx.snapshot(branch.project, idOrName: id),
                base.kind == .base, try tx.branches(basedOn: id).isEmpty
            else { return nil }
            return base
        }
        if let orphanedBase {
            try await storage.deleteSubvolume(at: layout.snapshot(orphanedBase.project, orphanedBase.id))
            try await catalog.write { try $0.deleteSnapshot(orphanedBase.id) }
        }
        try? FileManager.default.removeItem(atPath: layout.logDirectory(branch.project, branch.name))
    }

    package func start(project projectName: String, _ name: String) async throws -> BranchChange {
        try await setRunning(projectName, name, true)
    }

    package func stop(project projectName: String, _ name: String) async throws -> BranchChange {
        try await setRunning(projectName, name, false)
    }

    private func setRunning(_ projectName: String, _ name: String, _ running: Bool) async throws -> BranchChange {
        let projectKey = try ResourceName(validating: projectName, kind: "project name")
        return try await context.withProjectLock(projectKey.rawValue, checking: { tx in
            let project = try tx.requireProject(projectName)
            return (project, try tx.requireBranch(project.name, name))
        }) { (project, branch) in
            let (updated, timing) = try await journal.run(running ? "branch.start" : "branch.stop", project: project.name, target: name) { op in
                var updated = branch
                updated.desired = running ? .running : .stopped
                if !running && branch.suspended {
                    // Stopped on purpose: clients should be refused, not queue for a resume that never comes.
                    updated.suspended = false
                    let project = try await catalog.project(branch.project)
                    for entry in frontDoor.entries(of: branch, project: project) { await pooler.resume(entry) }
                    await context.activity.setSuspended(Activity.key(branch), false)
                }
                try await op.step("catalog") { try await catalog.write { [updated] in try $0.update(updated) } }
                if running {
                    try await op.step("start") { try await servers.start(updated, resumeCause: "started from the API") }
                } else {
                    try await op.step("stop") { try await servers.stop(updated) }
                }
                return updated
            }
            return BranchChange(branch: try await presenter.branch(updated, project: project), operation: timing)
        }
    }

    /// How to reach one branch: its own port, or its pooler entry. For its own port a suspended
    /// branch is resumed, since whoever asks is about to connect; the pooler entry resumes it on
    /// the first connection, so asking for that URL starts nothing.
    package func connection(project projectName: String, _ name: String, pooled: Bool = false) async throws -> ConnectionDetails {
        let (project, branch) = try await catalog.read { tx in
            let project = try tx.requireProject(projectName)
            return (project, try tx.requireBranch(project.name, name))
        }
        // The pooled entry resumes the branch on the first connection; its own port needs it running now.
        if !pooled { try await servers.resumeIfSuspended(branch, cause: "its connection was asked for through the API") }
        return frontDoor.connection(
            project, port: pooled ? configuration.poolerPort : branch.port,
            database: pooled ? FrontDoor.entryName(project.name, branch.name) : project.database, pooled: pooled, branch: branch.name)
    }
}
