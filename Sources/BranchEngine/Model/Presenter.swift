import BranchStorage
import BranchCatalog
import BranchCore
import Foundation

/// Turns catalog records into what users see: sizes from Btrfs quotas, server states, the
/// earliest restorable instant, the settings in effect.
struct Presenter: EnginePart {
    let context: EngineContext

    func project(_ project: ProjectRecord) async throws -> ProjectView {
        try await projects([project])[0]
    }

    /// The views of `projects`, in order: one catalog read and one quota reading for all of them
    /// (a list of many projects would otherwise pay both once per project). For several projects
    /// each table is read whole once: a query per table rather than per table and project.
    func projects(_ projects: [ProjectRecord]) async throws -> [ProjectView] {
        let records = try await catalog.read { tx in
            guard projects.count > 1 else {
                return try projects.map { project in
                    ProjectRecords(
                        branches: try tx.branches(project.name), snapshots: try tx.snapshots(project.name), lineages: try tx.lineages(project.name),
                        backupSchedule: try tx.schedule(project.name, .backup), verification: try tx.verification(project.name))
                }
            }
            let branches = Dictionary(grouping: try tx.allBranches(), by: \.project)
            let snapshots = Dictionary(grouping: try tx.allSnapshots(), by: \.project)
            let lineages = Dictionary(grouping: try tx.allLineages(), by: \.project)
            let schedules = Dictionary(try tx.schedules().filter { $0.kind == .backup }.map { ($0.project, $0) }, uniquingKeysWith: { first, _ in first })
            let verifications = Dictionary(try tx.verifications().map { ($0.project, $0) }, uniquingKeysWith: { first, _ in first })
            return projects.map { project in
                ProjectRecords(
                    branches: branches[project.name] ?? [], snapshots: snapshots[project.name] ?? [], lineages: lineages[project.name] ?? [],
                    backupSchedule: schedules[project.name], verification: verifications[project.name])
            }
        }
        let paths = records.map { $0.branches.map { layout.branch($0.project, $0.name) } + $0.snapshots.map { layout.snapshot($0.project, $0.id) } }
        let sizes = await storage.exclusiveBytes(of: paths.flatMap { $0 })
        return zip(projects, zip(records, paths)).map { project, recordsAndPaths in
            let (records, paths) = recordsAndPaths
            return view(project, records, sizes: paths.compactMap { sizes[$0] })
        }
    }

    /// What `projects` reads from the catalog for one project.
    private struct ProjectRecords: Sendable {
        var branches: [BranchRecord]
        var snapshots: [SnapshotRecord]
        var lineages: [LineageRecord]
        var backupSchedule: ScheduleRecord?
        var verification: VerificationRecord?
    }

    private func view(_ project: ProjectRecord, _ records: ProjectRecords, sizes: [UInt64]) -> ProjectView {
        let checkedOut = records.branches.first { $0.name == project.checkedOut }
        let earliest = checkedOut.flatMap { branch in
            pointInTime.earliestRestorable(branch, lineages: records.lineages.filter { $0.branch == branch.name }, snapshots: records.snapshots)
        }
        let states = records.branches.filter { $0.state == .ready }.map { servers.status(of: $0) }
        return ProjectView(
            record: project, branchCount: records.branches.filter { $0.state == .ready }.count,
            runningBranches: states.filter { $0 == .running }.count, suspendedBranches: states.filter { $0 == .suspended }.count,
            snapshotCount: records.snapshots.filter { $0.state == .ready }.count,
            exclusiveBytes: sizes.isEmpty ? nil : sizes.reduce(0, +), poolerHost: configuration.publicHost,
            poolerPort: configuration.poolerPort, suspendAfterSeconds: project.suspendAfter ?? configuration.suspendAfter,
            suspendMainAfterSeconds: project.suspendMainAfter ?? 0, retentionDays: project.retentionDays ?? configuration.retentionDays,
            earliestRestorableAt: earliest, backupSchedule: records.backupSchedule.flatMap { $0.enabled ? $0.expression : nil },
            lastVerification: records.verification)
    }

    func branch(_ branch: BranchRecord, project: ProjectRecord) async throws -> BranchView {
        let sizes = await storage.exclusiveBytes(of: [layout.branch(branch.project, branch.name)])
        let (lineages, snapshots) = try await catalog.read { tx in (try tx.lineages(branch.project, branch: branch.name), try tx.snapshots(branch.project)) }
        let active = await context.activity.lastActiveDates([Activity.key(branch)])
        return self.branch(
            branch, project: project, sizes: sizes, earliest: pointInTime.earliestRestorable(branch, lineages: lineages, snapshots: snapshots),
            lastActive: active)
    }

    func branch(
        _ branch: BranchRecord, project: ProjectRecord, sizes: [String: UInt64], earliest: Date? = nil, lastActive: [String: Date] = [:]
    ) -> BranchView {
        BranchView(
            record: branch, status: servers.status(of: branch), checkedOut: project.checkedOut == branch.name,
            exclusiveBytes: sizes[layout.branch(branch.project, branch.name)], earliestRestorableAt: earliest,
            lastActiveAt: lastActive[Activity.key(branch)])
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
