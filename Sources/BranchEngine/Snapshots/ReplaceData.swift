import BranchCatalog
import BranchCore
import BranchSystem
import BranchPostgres
import BranchRuntime
import BranchStorage
import Foundation
import Logging

/// The marker an in-place replacement leaves inside the new data until it is finished, so that
/// reconciliation can tell whether the swap happened before a crash.
struct ReplacementMarker: Codable, Equatable {
    static let fileName = ".branch-replacement"
    var operation: String
    /// For a reset: the base snapshot the branch has after the swap.
    var newBase: String?
    /// The WAL lineage the new data starts, and the snapshot it starts from.
    var newLineage: String?
    var sourceSnapshot: String?

    static func read(in subvolume: String) -> ReplacementMarker? {
        guard let text = Files.read("\(subvolume)/\(fileName)") else { return nil }
        return try? JSONDecoder().decode(ReplacementMarker.self, from: Data(text.utf8))
    }

    func write(in subvolume: String) throws {
        let data = try JSONEncoder().encode(self)
        try Files.writeAtomically(String(decoding: data, as: UTF8.self), to: "\(subvolume)/\(Self.fileName)", mode: 0o600)
    }

    static func remove(in subvolume: String) throws { try Files.remove("\(subvolume)/\(fileName)") }
}

extension Restores {
    /// Replaces a branch's data with a writable snapshot of `source`, keeping the branch's name,
    /// port and endpoint. The current state is first kept as a `pre-restore` snapshot (so this can
    /// be undone), then the two subvolumes are exchanged in one atomic rename.
    func replaceData(
        of branch: BranchRecord, withCopyOf sourceSnapshot: SnapshotRecord, newBase: String?, op: OperationContext
    ) async throws -> SnapshotRecord {
        let projectName = branch.project.rawValue
        if branch.name == .main, try await catalog.isMirror(branch.project) {
            // Rewinding the subscriber would leave it behind the source's slot, its rows no longer the source's.
            throw EngineError(
                .mirrorReadOnly, "main of '\(projectName)' is a mirror of its source: its data cannot be replaced.",
                hint: "Restore the snapshot as a new branch instead (`branch restore SNAPSHOT --as NAME`).")
        }
        let source = layout.snapshot(sourceSnapshot.project, sourceSnapshot.id)
        let branchPath = layout.branch(branch.project, branch.name)
        // A branch someone stopped stays stopped; its data is replaced all the same.
        let restart = branch.desired == .running
        var previous = SnapshotRecord(
            id: try await snapshots.unusedID(), project: branch.project, name: nil, sourceBranch: branch.name, kind: .preRestore,
            state: .creating, createdAt: Date(), operationID: op.id)
        let previousPath = layout.snapshot(branch.project, previous.id)
        try await op.step("catalog") { try await catalog.write { [previous] in try $0.insert(previous) } }
        op.onFailure("remove snapshot row") { try await catalog.write { [previous] in try $0.deleteSnapshot(previous.id) } }
        try await op.step("checkpoint") { try await servers.checkpointIfRunning(branch) }
        op.onFailure("delete snapshot") { try await storage.deleteSubvolume(at: previousPath) }
        try await op.step("snapshot current state") {
            try await storage.snapshot(from: branchPath, to: previousPath, readOnly: true)
        }
        previous.lineage = branch.lineage
        previous.walStart = await lineages.walStart(of: branch)
        previous.state = .ready
        try await op.step("catalog") { try await catalog.write { [previous] in try $0.update(previous) } }

        let incoming = layout.work(op.id, "new")
        op.onFailure("delete new data") { try await storage.deleteSubvolume(at: incoming) }
        try await op.step("snapshot source") { try await storage.snapshot(from: source, to: incoming, readOnly: false) }
        let marker = ReplacementMarker(
            operation: op.id, newBase: newBase, newLineage: Identifiers.shortID(length: 12), sourceSnapshot: sourceSnapshot.id)
        try marker.write(in: incoming)
        try servers.prepareClone(
            dataDirectory: PoolLayout.dataDirectory(in: incoming), branch: branch, project: try await catalog.project(branch.project))
        await FaultInjection.point("replace.before-stop")

        try await op.step("stop") { try await servers.stop(branch) }
        op.onFailure("restart previous data") { if restart { try await servers.start(branch) } }
        await FaultInjection.point("replace.before-exchange")
        try await op.step("swap") { try await storage.exchange(incoming, branchPath) }
        // From here the branch holds the new data; undo means swapping back.
        op.onFailure("swap back") {
            try await servers.stop(branch)
            try await storage.exchange(incoming, branchPath)
            try await lineages.revertSwitch(branch, marker)
        }
        await FaultInjection.point("replace.after-exchange")
        let switched = try await lineages.completeSwitch(branch, marker)
        if restart {
            try await op.step("start") { try await servers.start(switched) }
            // The source may be the project's origin snapshot, from before its owner role had its name.
            if let project = try await catalog.project(branch.project) {
                try await op.step("owner role") { try await OwnerRole.adopt(servers.spec(switched).superuserConnection, project: project) }
            }
        }
        try await op.step("clean up") {
            try await storage.deleteSubvolume(at: incoming)
            try ReplacementMarker.remove(in: branchPath)
        }
        return previous
    }
}
