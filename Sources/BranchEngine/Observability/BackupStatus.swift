import BranchBackup
package import BranchCatalog
import BranchCore
import BranchStorage
import BranchSystem
package import Foundation

/// One project's backups at a glance, for `branch status`: its schedule, last backup, last
/// verified restore, and the space its backups (in a local directory target), archived WAL and
/// server logs take.
package struct ProjectBackupStatus: Sendable {
    package var project: String
    /// The enabled backup schedule's expression and next run (nil: none).
    package var schedule: String?
    package var nextBackupAt: Date?
    package var lastBackupAt: Date?
    package var lastBackupStatus: String?
    package var lastVerification: VerificationRecord?
    /// nil when the target is not a local directory (S3: the bucket's own tools say).
    package var backupBytes: UInt64?
    package var walBytes: UInt64
    package var logBytes: UInt64
}

extension Observability {
    /// Every ready project's backups, verifications and space. Directory sizes are walked on a
    /// thread of their own.
    func backupStatus() async throws -> [ProjectBackupStatus] {
        let (projects, schedules, backups, verifications) = try await catalog.read { tx in
            (try tx.projects().filter { $0.state == .ready }, try tx.schedules(), try tx.backups(nil), try tx.verifications())
        }
        let layout = self.layout
        let backupRoot = (context.backupTarget as? DirectoryTarget)?.root
        let names = projects.map(\.name)
        let sizes = try await BlockingWork.run { () -> [ResourceName: (backups: UInt64?, wal: UInt64, logs: UInt64)] in
            var sizes: [ResourceName: (backups: UInt64?, wal: UInt64, logs: UInt64)] = [:]
            for name in names {
                sizes[name] = (
                    backupRoot.map { DirectorySize.allocatedBytes(under: "\($0)/\(name)") },
                    DirectorySize.allocatedBytes(under: layout.wal(name)), DirectorySize.allocatedBytes(under: layout.logs(name))
                )
            }
            return sizes
        }
        let scheduler = Scheduler(context: context)
        return projects.map { project in
            let schedule = schedules.first { $0.project == project.name && $0.kind == .backup && $0.enabled }
            let last = backups.filter { $0.project == project.name }.max { $0.startedAt < $1.startedAt }
            let size = sizes[project.name]
            return ProjectBackupStatus(
                project: project.name.rawValue, schedule: schedule?.expression, nextBackupAt: schedule.flatMap { scheduler.view($0).nextRunAt },
                lastBackupAt: last?.finishedAt ?? last?.startedAt, lastBackupStatus: last?.status.rawValue,
                lastVerification: verifications.first { $0.project == project.name }, backupBytes: size?.backups ?? nil,
                walBytes: size?.wal ?? 0, logBytes: size?.logs ?? 0)
        }
    }
}
