import BranchCatalog
import BranchCore
import BranchSystem
import BranchPostgres
import BranchRuntime
import BranchStorage
import Foundation

/// WAL lineages: each stretch of a branch's history whose WAL is archived in one directory.
struct Lineages: EnginePart {
    let context: EngineContext

    /// A new lineage record for `branch` that starts now from `startSnapshot`.
    func new(project: ResourceName, branch: ResourceName, startSnapshot: String?) -> LineageRecord {
        LineageRecord(id: Identifiers.shortID(length: 12), project: project, branch: branch, startedAt: Date(), endedAt: nil, startSnapshot: startSnapshot)
    }

    /// The archive directory of a lineage, owned by postgres (it writes there), created if missing.
    func ensureWALDirectory(_ path: String) throws {
        try Files.ensureDirectory((path as NSString).deletingLastPathComponent, mode: 0o711)
        try Files.ensureDirectory(path, mode: 0o700, owner: ClusterFiles.superuser)
    }

    /// The WAL file holding the redo point of the branch's latest checkpoint: where a replay
    /// starting from a snapshot taken now begins.
    func walStart(of branch: BranchRecord) async -> String? {
        let spec = servers.spec(branch)
        if runtime.state(spec).isRunning,
            let name = try? await withConnection(spec.superuserConnection, { connection in
                try await connection.query("SELECT pg_walfile_name(redo_lsn) FROM pg_control_checkpoint()").scalar
            })
        {
            return name
        }
        return await installation.controlData("Latest checkpoint's REDO WAL file", in: spec.dataDirectory)
    }

    /// After an in-place replacement swapped the data: the old lineage ends and the one the
    /// marker names begins from the snapshot the data came from. Idempotent (reconciliation may
    /// run it again after a crash).
    func completeSwitch(_ branch: BranchRecord, _ marker: ReplacementMarker) async throws -> BranchRecord {
        guard let newID = marker.newLineage else { return branch }
        let updated = try await catalog.write { tx -> BranchRecord in
            guard var current = try tx.branch(branch.project, branch.name) else { return branch }
            if current.lineage == newID { return current }
            if let oldID = current.lineage, var old = try tx.lineage(oldID) {
                old.endedAt = Date()
                try tx.update(old)
            }
            try tx.insert(LineageRecord(
                id: newID, project: branch.project, branch: branch.name, startedAt: Date(), endedAt: nil,
                startSnapshot: marker.sourceSnapshot))
            current.lineage = newID
            try tx.update(current)
            return current
        }
        try ensureWALDirectory(layout.wal(branch.project, lineage: newID))
        return updated
    }

    /// Undoes `completeLineageSwitch` when the replacement is rolled back.
    func revertSwitch(_ branch: BranchRecord, _ marker: ReplacementMarker) async throws {
        guard let newID = marker.newLineage else { return }
        try await catalog.write { tx in
            guard var current = try tx.branch(branch.project, branch.name), current.lineage == newID else { return }
            try tx.deleteLineage(newID)
            if let oldID = branch.lineage, var old = try tx.lineage(oldID) {
                old.endedAt = nil
                try tx.update(old)
            }
            current.lineage = branch.lineage
            try tx.update(current)
        }
        let path = layout.wal(branch.project, lineage: newID)
        if Files.exists(path) { try FileManager.default.removeItem(atPath: path) }
    }

    /// Deletes the lineages (rows and archived WAL) of a branch that is gone.
    func remove(of branch: BranchRecord) async throws {
        let lineages = try await catalog.read { try $0.lineages(branch.project, branch: branch.name) }
        for lineage in lineages {
            let path = layout.wal(branch.project, lineage: lineage.id)
            if Files.exists(path) { try FileManager.default.removeItem(atPath: path) }
        }
        try await catalog.write { tx in for lineage in lineages { try tx.deleteLineage(lineage.id) } }
    }
}
