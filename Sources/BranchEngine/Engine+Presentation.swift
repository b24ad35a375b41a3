public import BranchAPI
import BranchCatalog
import BranchCore
import BranchPostgres
import BranchRuntime
import BranchStorage
import Foundation
import Logging

extension Engine {
    func projectInfo(_ project: ProjectRecord) async throws -> ProjectInfo {
        let (branches, snapshots, lineages) = try await catalog.read { tx in
            (try tx.branches(project.name), try tx.snapshots(project.name), try tx.lineages(project.name))
        }
        let checkedOut = branches.first { $0.name == project.checkedOut }
        let earliest = checkedOut.flatMap { branch in
            earliestRestorable(branch, lineages: lineages.filter { $0.branch == branch.name }, snapshots: snapshots)
        }
        let paths = branches.map { layout.branch($0.project, $0.name) } + snapshots.map { layout.snapshot($0.project, $0.id) }
        let sizes = await storage.exclusiveBytes(of: paths)
        return ProjectInfo(
            name: project.name.rawValue, createdAt: project.createdAt, postgresMajor: project.pgMajor, role: project.role,
            database: project.database, checkedOut: project.checkedOut.rawValue, branches: branches.filter { $0.state == .ready }.count,
            snapshots: snapshots.filter { $0.state == .ready }.count,
            exclusiveBytes: sizes.isEmpty ? nil : sizes.values.reduce(0, +), poolerHost: configuration.publicHost,
            poolerPort: configuration.poolerPort, memoryBytes: project.memoryLimit, cpus: project.cpuLimit,
            maxConnections: project.maxConnections, suspendAfterSeconds: project.suspendAfter ?? configuration.suspendAfter,
            suspendMainAfterSeconds: project.suspendMainAfter ?? 0, retentionDays: project.retentionDays ?? configuration.retentionDays,
            earliestRestorableAt: earliest)
    }

    func branchInfo(_ branch: BranchRecord, project: ProjectRecord) async throws -> BranchInfo {
        let sizes = await storage.exclusiveBytes(of: [layout.branch(branch.project, branch.name)])
        let (lineages, snapshots) = try await catalog.read { tx in (try tx.lineages(branch.project, branch: branch.name), try tx.snapshots(branch.project)) }
        return branchInfo(branch, project: project, sizes: sizes, earliest: earliestRestorable(branch, lineages: lineages, snapshots: snapshots))
    }

    func branchInfo(_ branch: BranchRecord, project: ProjectRecord, sizes: [String: UInt64], earliest: Date? = nil) -> BranchInfo {
        BranchInfo(
            project: branch.project.rawValue, name: branch.name.rawValue, parent: branch.parent?.rawValue,
            baseSnapshot: branch.baseSnapshot, state: branch.state.rawValue,
            status: status(of: branch), port: branch.port,
            checkedOut: project.checkedOut == branch.name, exclusiveBytes: sizes[layout.branch(branch.project, branch.name)],
            createdAt: branch.createdAt, restarts: branch.restarts, earliestRestorableAt: earliest)
    }

    /// `running`, `suspended` or `stopped`.
    func status(of branch: BranchRecord) -> String {
        if runtime.state(spec(branch)).isRunning { return "running" }
        return branch.suspended ? "suspended" : "stopped"
    }

    func snapshotInfo(_ snapshot: SnapshotRecord) async throws -> SnapshotInfo {
        let branches = try await catalog.branches(snapshot.project)
        let sizes = await storage.exclusiveBytes(of: [layout.snapshot(snapshot.project, snapshot.id)])
        return snapshotInfo(snapshot, branches: branches, sizes: sizes)
    }

    func snapshotInfo(_ snapshot: SnapshotRecord, branches: [BranchRecord], sizes: [String: UInt64]) -> SnapshotInfo {
        SnapshotInfo(
            id: snapshot.id, name: snapshot.name?.rawValue, project: snapshot.project.rawValue,
            sourceBranch: snapshot.sourceBranch.rawValue, kind: snapshot.kind.rawValue, createdAt: snapshot.createdAt,
            exclusiveBytes: sizes[layout.snapshot(snapshot.project, snapshot.id)],
            baseOf: branches.filter { $0.baseSnapshot == snapshot.id }.map(\.name.rawValue))
    }

    public func status() async throws -> StatusResponse {
        let (projects, branches) = try await catalog.read { tx in (try tx.projects(), try tx.allBranches()) }
        let space = storage.space()
        let running = branches.filter { $0.state == .ready && runtime.state(spec($0)).isRunning }.count
        return StatusResponse(
            version: Self.version, startedAt: startedAt,
            pool: .init(
                path: layout.root, mount: mountOutcome.summary, freeBytes: space.free, totalBytes: space.total,
                quotas: await storage.quotasEnabled),
            postgres: .init(version: installation.version, major: installation.major, binDirectory: installation.binDirectory),
            runtime: .init(
                name: runtime.name, cgroups: runtime.report.cgroups, limitsEnforced: runtime.report.limitsEnforced,
                notes: runtime.report.notes),
            pooler: .init(port: configuration.poolerPort, running: await pooler.isRunning),
            projects: projects.filter { $0.state == .ready }.count, branches: branches.filter { $0.state == .ready }.count,
            branchesRunning: running)
    }

    public func operations(project: String?, limit: Int) async throws -> OperationList {
        let records = try await catalog.operations(project: project, limit: max(1, min(limit, 1000)))
        return OperationList(operations: records.map { record in
            OperationInfo(
                id: record.id, kind: record.kind, project: record.project, target: record.target, state: record.state.rawValue,
                startedAt: record.startedAt, finishedAt: record.finishedAt, durationMs: record.durationMs, errorCode: record.errorCode,
                errorMessage: record.errorMessage, recovery: record.recovery)
        })
    }
}
