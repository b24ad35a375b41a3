import BranchStorage
import BranchCatalog
import BranchCore
import Foundation

/// Turns catalog records into what users see: sizes from Btrfs quotas, server states, the
/// earliest restorable instant, the settings in effect.
struct Presenter: EnginePart {
    let context: EngineContext

    func project(_ project: ProjectRecord) async throws -> ProjectView {
        let (branches, snapshots, lineages, backupSchedule, verification) = try await catalog.read { tx in
            (
                try tx.branches(project.name), try tx.snapshots(project.name), try tx.lineages(project.name),
                try tx.schedule(project.name, .backup), try tx.verification(project.name)
            )
        }
        let checkedOut = branches.first { $0.name == project.checkedOut }
        let earliest = checkedOut.flatMap { branch in
            pointInTime.earliestRestorable(branch, lineages: lineages.filter { $0.branch == branch.name }, snapshots: snapshots)
        }
        let paths = branches.map { layout.branch($0.project, $0.name) } + snapshots.map { layout.snapshot($0.project, $0.id) }
        let sizes = await storage.exclusiveBytes(of: paths)
        return ProjectView(
            record: project, branchCount: branches.filter { $0.state == .ready }.count,
            snapshotCount: snapshots.filter { $0.state == .ready }.count,
            exclusiveBytes: sizes.isEmpty ? nil : sizes.values.reduce(0, +), poolerHost: configuration.publicHost,
            poolerPort: configuration.poolerPort, suspendAfterSeconds: project.suspendAfter ?? configuration.suspendAfter,
            suspendMainAfterSeconds: project.suspendMainAfter ?? 0, retentionDays: project.retentionDays ?? configuration.retentionDays,
            earliestRestorableAt: earliest, backupSchedule: backupSchedule.flatMap { $0.enabled ? $0.expression : nil },
            lastVerification: verification)
    }

    func branch(_ branch: BranchRecord, project: ProjectRecord) async throws -> BranchView {
        let sizes = await storage.exclusiveBytes(of: [layout.branch(branch.project, branch.name)])
        let (lineages, snapshots) = try await catalog.read { tx in (try tx.lineages(branch.project, branch: branch.name), try tx.snapshots(branch.project)) }
        return self.branch(branch, project: project, sizes: sizes, earliest: pointInTime.earliestRestorable(branch, lineages: lineages, snapshots: snapshots))
    }

    func branch(_ branch: BranchRecord, project: ProjectRecord, sizes: [String: UInt64], earliest: Date? = nil) -> BranchView {
        BranchView(
            record: branch, status: servers.status(of: branch), checkedOut: project.checkedOut == branch.name,
            exclusiveBytes: sizes[layout.branch(branch.project, branch.name)], earliestRestorableAt: earliest)
    }

    func snapshot(_ snapshot: SnapshotRecord) async throws -> SnapshotView {
        let branches = try await catalog.branches(snapshot.project)
        let sizes = await storage.exclusiveBytes(of: [layout.snapshot(snapshot.project, snapshot.id)])
        return self.snapshot(snapshot, branches: branches, sizes: sizes)
    }

    func snapshot(_ snapshot: SnapshotRecord, branches: [BranchRecord], sizes: [String: UInt64]) -> SnapshotView {
        SnapshotView(
            record: snapshot, exclusiveBytes: sizes[layout.snapshot(snapshot.project, snapshot.id)],
            baseOf: branches.filter { $0.baseSnapshot == snapshot.id }.map(\.name.rawValue))
    }
}
