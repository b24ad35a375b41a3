import BranchCatalog
package import BranchCore
import BranchStorage
import BranchSystem
import Foundation
import Logging

/// Renaming a branch. A name is in the catalog, the subvolume's path, the log directory's, the
/// server's container and the pooler's entries, so a rename marks the subvolume, stops the server
/// (clients of the project's endpoint wait at the pooler meanwhile), moves the subvolume, renames
/// every catalog row in one transaction, and starts the server under the new name: the time of a
/// server restart.
///
/// A marker in the subvolume names the operation. Start-up reconciliation finds it after a crash
/// and makes catalog and disk agree (`RenameRecovery`): forward once the subvolume or the catalog
/// has the new name, back otherwise.
package struct BranchRenames: EnginePart {
    let context: EngineContext

    package func rename(project projectName: String, _ name: String, to rawNewName: String) async throws -> BranchChange {
        let newName = try ResourceName(validating: rawNewName, kind: "branch name")
        let projectKey = try ResourceName(validating: projectName, kind: "project name")
        return try await context.withProjectLock(projectKey.rawValue, checking: { tx in
            let project = try tx.requireProject(projectName)
            let branch = try tx.requireBranch(project.name, name)
            try Self.check(branch, to: newName, taken: try tx.branch(project.name, newName) != nil)
            return (project, branch)
        }) { (project, branch) in
            let (renamed, timing) = try await journal.run("branch.rename", project: project.name, target: "\(branch.name)→\(newName)") { op in
                try await move(branch, to: newName, in: project, op: op)
            }
            // The project's checkout may have been renamed with the branch.
            let current = try await catalog.project(project.name) ?? project
            return BranchChange(branch: try await presenter.branch(renamed, project: current), operation: timing)
        }
    }

    /// Why a rename is refused, before anything is touched.
    static func check(_ branch: BranchRecord, to newName: ResourceName, taken: Bool) throws {
        if branch.name == .main {
            throw EngineError(
                .branchIsMain, "main cannot be renamed: it is the project's root, and new branches start from it by default.",
                hint: "Create a branch with the name you want (`branch create NAME`) and check it out.")
        }
        if newName == branch.name { throw EngineError.invalidRequest("Branch '\(branch.name)' already has that name.") }
        if taken { throw EngineError.branchExists(branch.project, newName) }
        if branch.protected {
            throw EngineError(
                .branchProtected, "Branch '\(branch.name)' is protected: renaming it would change the addresses apps reach it at.",
                hint: "Unprotect it first (`branch protect \(branch.name) --off`).")
        }
    }

    private func move(_ branch: BranchRecord, to newName: ResourceName, in project: ProjectRecord, op: OperationContext) async throws -> BranchRecord {
        let oldPath = layout.branch(branch.project, branch.name)
        let newPath = layout.branch(branch.project, newName)
        let restart = branch.desired == .running
        // The mark first: whatever follows, a crash leaves something for reconciliation to find
        // (the pooler's pause included, which outlives the service).
        let marker = RenameMarker(operation: op.id, from: branch.name.rawValue, to: newName.rawValue)
        try await op.step("mark") { try marker.write(in: oldPath) }
        op.onFailure("remove the mark") { try RenameMarker.remove(in: oldPath) }
        await FaultInjection.point("branch.rename.after-mark")

        // Clients of the project's endpoint queue at the pooler rather than fail while the server is down.
        let paused = project.checkedOut == branch.name ? await pooler.pause(project.name.rawValue) : false
        op.onFailure("let clients through") { if paused { await pooler.resume(project.name.rawValue) } }

        try await op.step("stop") { try await servers.stop(branch) }
        op.onFailure("restart under the old name") { if restart { try await servers.start(branch) } }

        try await op.step("move data") { try await storage.move(oldPath, to: newPath) }
        op.onFailure("move the data back") { try await storage.move(newPath, to: oldPath) }
        await FaultInjection.point("branch.rename.after-move")

        try await op.step("catalog") {
            try await catalog.write { tx in try tx.renameBranch(branch.project, from: branch.name, to: newName) }
        }
        await FaultInjection.point("branch.rename.after-catalog")
        // From here the rename stands: what follows is tidying and starting, and a failure there
        // leaves a renamed branch that the supervisor or `branch start` brings up.
        op.keepWhatIsDone()
        op.onFailure("let clients through") { if paused { await pooler.resume(project.name.rawValue) } }
        try await finish(project: branch.project, from: branch.name, to: newName)
        await context.dataAPI.forget(branchKey: "\(branch.project)/\(branch.name)")
        await context.activity.rename("\(branch.project)/\(branch.name)", to: "\(branch.project)/\(newName)")
        await context.metricsStore.rename(project: branch.project.rawValue, branch: branch.name.rawValue, to: newName.rawValue)

        guard let renamed = try await catalog.branch(branch.project, newName) else {
            throw EngineError.internalError("Branch '\(newName)' is not in the catalog after its rename.")
        }
        // The pooler first, so a server that then fails to start leaves it right anyway.
        try await op.step("pooler") { try await frontDoor.sync() }
        if restart {
            try await op.step("start") { try await servers.start(renamed, resumeCause: "renamed from \(branch.name)") }
        }
        if paused { await pooler.resume(project.name.rawValue) }
        await context.record("renamed", renamed, "renamed from \(branch.name)")
        return renamed
    }

    /// What follows the catalog's rename, here and in reconciliation: the logs follow the branch,
    /// and the marker goes.
    func finish(project: ResourceName, from old: ResourceName, to new: ResourceName) async throws {
        let oldLogs = layout.logDirectory(project, old), newLogs = layout.logDirectory(project, new)
        if Files.exists(oldLogs) {
            if Files.exists(newLogs) { try? FileManager.default.removeItem(atPath: newLogs) }
            try? FileManager.default.moveItem(atPath: oldLogs, toPath: newLogs)
        }
        try RenameMarker.remove(in: layout.branch(project, new))
    }

    /// Start-up reconciliation: finishes or undoes each rename a crash interrupted; returns what it did.
    func recoverInterrupted() async throws -> [(operation: String, note: String)] {
        var notes: [(String, String)] = []
        for project in try await catalog.projects() {
            for directory in storage.subvolumes(in: layout.branches(project.name)) {
                let path = "\(layout.branches(project.name))/\(directory)"
                guard let marker = RenameMarker.read(in: path),
                    let old = try? ResourceName(validating: marker.from), let new = try? ResourceName(validating: marker.to)
                else { continue }
                let (hasOld, hasNew) = try await catalog.read { tx in
                    (try tx.branch(project.name, old) != nil, try tx.branch(project.name, new) != nil)
                }
                let label = "\(project.name)/\(old) to \(new)"
                switch RenameRecovery.decide(directory: directory, marker: marker, catalogHasOld: hasOld, catalogHasNew: hasNew) {
                case .undo:
                    try RenameMarker.remove(in: path)
                    notes.append((marker.operation, "undid the rename of \(label)"))
                case .moveData:
                    try await storage.move(path, to: layout.branch(project.name, new))
                    try await finish(project: project.name, from: old, to: new)
                    notes.append((marker.operation, "finished the rename of \(label) (moved its data)"))
                case .renameCatalog:
                    try await catalog.write { tx in try tx.renameBranch(project.name, from: old, to: new) }
                    try await finish(project: project.name, from: old, to: new)
                    notes.append((marker.operation, "finished the rename of \(label)"))
                case .finish:
                    try await finish(project: project.name, from: old, to: new)
                    notes.append((marker.operation, "finished the rename of \(label)"))
                }
                // The pooler outlives the service: the project's endpoint may still be paused for it.
                await pooler.resume(project.name.rawValue)
            }
        }
        return notes
    }
}

/// Left in a branch's subvolume while it is renamed; it moves with the subvolume.
struct RenameMarker: Codable, Equatable {
    static let fileName = ".branch-rename"
    var operation: String
    var from: String
    var to: String

    static func read(in subvolume: String) -> RenameMarker? {
        guard let text = Files.read("\(subvolume)/\(fileName)") else { return nil }
        return try? JSONDecoder().decode(RenameMarker.self, from: Data(text.utf8))
    }

    func write(in subvolume: String) throws {
        let data = try JSONEncoder().encode(self)
        try Files.writeAtomically(String(decoding: data, as: UTF8.self), to: "\(subvolume)/\(Self.fileName)", mode: 0o600)
    }

    static func remove(in subvolume: String) throws {
        guard Files.exists("\(subvolume)/\(fileName)") else { return }
        try Files.remove("\(subvolume)/\(fileName)")
    }
}

/// How reconciliation repairs an interrupted rename, from where its subvolume is and which name
/// the catalog has. Whichever of the two already has the new name wins; the other follows.
enum RenameRecovery: Equatable {
    /// Neither moved: take the marker away.
    case undo
    /// The catalog has the new name but the subvolume not (a power loss lost the move).
    case moveData
    /// The subvolume has the new name but the catalog not.
    case renameCatalog
    /// Both have it: only the tidying was left.
    case finish

    static func decide(directory: String, marker: RenameMarker, catalogHasOld: Bool, catalogHasNew: Bool) -> RenameRecovery {
        let renamedInCatalog = catalogHasNew && !catalogHasOld
        if directory == marker.to { return renamedInCatalog ? .finish : .renameCatalog }
        return renamedInCatalog ? .moveData : .undo
    }
}
