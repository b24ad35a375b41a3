import BranchAPI
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

extension Engine {
    /// Replaces a branch's data with a writable snapshot of `source`, keeping the branch's name,
    /// port and endpoint. The current state is first kept as a `pre-restore` snapshot (so this can
    /// be undone), then the two subvolumes are exchanged in one atomic rename.
    func replaceData(
        of branch: BranchRecord, withCopyOf sourceSnapshot: SnapshotRecord, newBase: String?, op: OperationContext
    ) async throws -> SnapshotRecord {
        let source = layout.snapshot(sourceSnapshot.project, sourceSnapshot.id)
        let branchPath = layout.branch(branch.project, branch.name)
        // A branch someone stopped stays stopped; its data is replaced all the same.
        let restart = branch.desired == .running
        var previous = SnapshotRecord(
            id: try await unusedSnapshotID(), project: branch.project, name: nil, sourceBranch: branch.name, kind: .preRestore,
            state: .creating, createdAt: Date(), operationID: op.id)
        let previousPath = layout.snapshot(branch.project, previous.id)
        try await op.step("catalog") { try await self.catalog.write { [previous] in try $0.insert(previous) } }
        op.onFailure("remove snapshot row") { try await self.catalog.write { [previous] in try $0.deleteSnapshot(previous.id) } }
        try await op.step("checkpoint") { try await self.checkpointIfRunning(branch) }
        op.onFailure("delete snapshot") { try await self.storage.deleteSubvolume(at: previousPath) }
        try await op.step("snapshot current state") {
            try await self.storage.snapshot(from: branchPath, to: previousPath, readOnly: true)
        }
        previous.lineage = branch.lineage
        previous.walStart = await walStart(of: branch)
        previous.state = .ready
        try await op.step("catalog") { try await self.catalog.write { [previous] in try $0.update(previous) } }

        let incoming = layout.work(op.id, "new")
        op.onFailure("delete new data") { try await self.storage.deleteSubvolume(at: incoming) }
        try await op.step("snapshot source") { try await self.storage.snapshot(from: source, to: incoming, readOnly: false) }
        let marker = ReplacementMarker(
            operation: op.id, newBase: newBase, newLineage: Identifiers.shortID(length: 12), sourceSnapshot: sourceSnapshot.id)
        try marker.write(in: incoming)
        try prepareClone(
            dataDirectory: PoolLayout.dataDirectory(in: incoming), branch: branch, project: try await catalog.project(branch.project))
        await FaultInjection.point("replace.before-stop")

        try await op.step("stop") { try await self.stopServer(branch) }
        op.onFailure("restart previous data") { if restart { try await self.startServer(branch) } }
        await FaultInjection.point("replace.before-exchange")
        try await op.step("swap") { try await self.storage.exchange(incoming, branchPath) }
        // From here the branch holds the new data; undo means swapping back.
        op.onFailure("swap back") {
            try await self.stopServer(branch)
            try await self.storage.exchange(incoming, branchPath)
            try await self.revertLineageSwitch(branch, marker)
        }
        await FaultInjection.point("replace.after-exchange")
        let switched = try await completeLineageSwitch(branch, marker)
        if restart { try await op.step("start") { try await self.startServer(switched) } }
        try await op.step("clean up") {
            try await self.storage.deleteSubvolume(at: incoming)
            try ReplacementMarker.remove(in: branchPath)
        }
        return previous
    }
}
