import BranchRuntime
import BranchPostgres
import BranchStorage
package import BranchCatalog
import BranchCore
import Foundation

/// What the service reports about itself: its status, the operations journal, branch events,
/// metrics and logs.
package struct Observability: EnginePart {
    let context: EngineContext

    package func status() async throws -> ServiceStatus {
        let (projects, branches) = try await catalog.read { tx in (try tx.projects(), try tx.allBranches()) }
        let space = storage.space()
        let running = branches.filter { $0.state == .ready && servers.isRunning($0) }.count
        return await ServiceStatus(
            version: context.release.version, startedAt: context.startedAt,
            pool: .init(
                path: layout.root, mount: context.mountOutcome.summary, freeBytes: space.free, totalBytes: space.total,
                quotas: storage.quotasEnabled, reserveBytes: configuration.freeSpaceReserve, usage: DiskUsage(context: context).usage()),
            postgres: .init(
                version: installation.version, major: installation.major, binDirectory: installation.binDirectory,
                installedVersion: await installedPostgresVersion()),
            runtime: .init(
                name: runtime.name, cgroups: runtime.report.cgroups, limitsEnforced: runtime.report.limitsEnforced,
                notes: runtime.report.notes),
            poolerPort: configuration.poolerPort, poolerRunning: await pooler.isRunning,
            projects: projects.filter { $0.state == .ready }.count, branches: branches.filter { $0.state == .ready }.count,
            branchesRunning: running, backupKey: try await backups.keyStatus(), backups: try await backupStatus(),
            verifyInterval: configuration.verifyInterval)
    }

    /// The operations journal, newest first.
    package func operations(project: String?, limit: Int) async throws -> [OperationRecord] {
        try await catalog.operations(project: project, limit: max(1, min(limit, 1000)))
    }

    /// What branch servers did on their own (crashes, restarts, suspensions), newest first.
    package func events(project: String?, limit: Int) async throws -> [EventRecord] {
        try await catalog.events(project: project, limit: max(1, min(limit, 1000)))
    }

    /// A long operation's progress and result.
    package func job(_ id: String) throws -> Job {
        guard let job = context.jobs.get(id) else {
            throw EngineError(.jobNotFound, "There is no job '\(id)' (finished jobs are kept an hour).")
        }
        return job
    }
}
