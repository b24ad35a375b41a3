import BranchCatalog
import BranchCore
import Foundation

/// What start-up reconciliation repairs, decided from what the catalog says and what is on disk,
/// without touching either: pure functions the `Reconciler` applies one step at a time (reading
/// the catalog again between steps) and unit tests check directly.
enum ReconcileDecisions {
    /// Backups that were still being written when the service stopped.
    static func interruptedBackups(_ backups: [BackupRecord]) -> [BackupRecord] {
        backups.filter { $0.status == .running }
    }

    /// `backup` snapshots no complete backup's next incremental needs.
    static func unneededBackupSnapshots(_ snapshots: [SnapshotRecord], backups: [BackupRecord]) -> [SnapshotRecord] {
        let needed = Set(backups.filter { $0.status == .complete }.map(\.snapshotID))
        return snapshots.filter { $0.kind == .backup && !needed.contains($0.id) }
    }

    /// Objects an interrupted operation left `creating` (roll back) or `deleting` (finish).
    static func unfinished<T>(_ objects: [T], state: (T) -> ObjectState) -> [T] {
        objects.filter { state($0) != .ready }
    }

    /// Names on disk the catalog does not know.
    static func unknown(onDisk: [String], known: Set<String>) -> [String] {
        onDisk.filter { !known.contains($0) }.sorted()
    }

    /// Branch rows whose subvolume is gone.
    static func branchesWithoutData(_ branches: [BranchRecord], subvolumes: Set<String>) -> [BranchRecord] {
        branches.filter { !subvolumes.contains($0.name.rawValue) }
    }

    /// What becomes of a branch's children and its project's checkout when the branch's row goes:
    /// children move under its parent; a checkout that pointed at it falls back to the first
    /// remaining branch, or main.
    static func afterRemoving(
        _ branch: BranchRecord, children: [BranchRecord], project: ProjectRecord, remaining: [BranchRecord]
    ) -> (children: [BranchRecord], project: ProjectRecord) {
        let moved = children.map { child -> BranchRecord in
            var child = child
            child.parent = branch.parent
            return child
        }
        var project = project
        if project.checkedOut == branch.name {
            project.checkedOut = remaining.first { $0.name != branch.name }?.name ?? .main
        }
        return (moved, project)
    }

    /// Why a snapshot row should go: its subvolume is missing, or it is an automatic base no
    /// branch uses any more; nil to keep it.
    enum SnapshotRemoval: Equatable { case missing, unusedBase }

    static func snapshotRemoval(_ snapshot: SnapshotRecord, hasSubvolume: Bool, branches: [BranchRecord]) -> SnapshotRemoval? {
        if !hasSubvolume { return .missing }
        if snapshot.kind == .base && !branches.contains(where: { $0.baseSnapshot == snapshot.id }) { return .unusedBase }
        return nil
    }

    /// The recovery text of an interrupted operation: what was repaired for it, plus what was
    /// repaired without an owner when it was the only operation interrupted.
    static func recoveryText(own: [String], general: [String], interruptedCount: Int) -> String {
        let text = own + (interruptedCount == 1 ? general : [])
        return text.isEmpty ? "nothing to repair" : text.joined(separator: "; ")
    }
}
