package import BranchCatalog
package import Foundation

/// How long an operation took, step by step (what the journal measured).
package struct OperationTiming: Sendable, Equatable {
    package struct Step: Sendable, Equatable {
        package var name: String
        package var ms: Double
    }

    package var id: String
    package var durationMs: Double
    package var steps: [Step]
}

/// A project as users see it: its record and what is derived from its branches and snapshots.
package struct ProjectView: Sendable {
    package var record: ProjectRecord
    /// Ready branches and snapshots.
    package var branchCount: Int
    /// Ready branches whose server runs now, and those scale to zero suspended.
    package var runningBranches: Int = 0
    package var suspendedBranches: Int = 0
    package var snapshotCount: Int
    /// Bytes on disk only the project's branches and snapshots hold (nil without Btrfs quotas).
    package var exclusiveBytes: UInt64?
    /// The stable pooled endpoint (without the password).
    package var poolerHost: String
    package var poolerPort: Int
    /// The settings in effect: the project's own or the service's defaults.
    package var suspendAfterSeconds: Int
    package var suspendMainAfterSeconds: Int
    package var retentionDays: Int
    /// The earliest instant the checked-out branch can be re-created at.
    package var earliestRestorableAt: Date?
    /// The enabled backup schedule's expression (nil: none), and the last verified restore.
    package var backupSchedule: String?
    package var lastVerification: VerificationRecord?
}

/// Whether a ready branch's server runs.
package enum BranchStatus: String, Sendable {
    case running, suspended, stopped
}

/// A branch as users see it.
package struct BranchView: Sendable {
    package var record: BranchRecord
    package var status: BranchStatus
    package var checkedOut: Bool
    /// Bytes on disk only this branch holds (nil without Btrfs quotas).
    package var exclusiveBytes: UInt64?
    package var earliestRestorableAt: Date?
    /// When a client last used it, as far as this service has seen since it started.
    package var lastActiveAt: Date?
}

/// A snapshot as users see it.
package struct SnapshotView: Sendable {
    package var record: SnapshotRecord
    package var exclusiveBytes: UInt64?
    /// Branches whose base this snapshot is.
    package var baseOf: [String]
}

/// How to connect to a project's endpoint or one branch.
package struct ConnectionDetails: Sendable {
    package var url: String
    package var host: String
    package var port: Int
    package var user: String
    package var password: String
    package var database: String
    package var pooled: Bool
    package var branch: String
}

/// A schedule and when it fires next.
package struct ScheduleView: Sendable {
    package var record: ScheduleRecord
    package var nextRunAt: Date?
}

/// The service at a glance.
package struct ServiceStatus: Sendable {
    package struct Pool: Sendable {
        package var path: String
        package var mount: String
        package var freeBytes: UInt64
        package var totalBytes: UInt64
        package var quotas: Bool
        /// Below this much free space, operations that grow the pool are refused.
        package var reserveBytes: UInt64
        /// What uses the pool (measured at most `DiskUsage.maxAge` ago).
        package var usage: PoolUsage
    }

    package struct Postgres: Sendable {
        package var version: String
        package var major: Int
        package var binDirectory: String
        /// The installed binaries' version when it is not `version` (a minor update awaits `branch upgrade postgres`).
        package var installedVersion: String? = nil
    }

    package struct Runtime: Sendable {
        package var name: String
        package var cgroups: String
        package var limitsEnforced: Bool
        package var notes: [String]
    }

    package var version: String
    package var startedAt: Date
    package var pool: Pool
    package var postgres: Postgres
    package var runtime: Runtime
    package var poolerPort: Int
    package var poolerRunning: Bool
    package var projects: Int
    package var branches: Int
    package var branchesRunning: Int
    /// The backup key (nil when none is configured), every project's backups, and how often they are verified.
    package var backupKey: BackupKeyStatus?
    package var backups: [ProjectBackupStatus] = []
    package var verifyInterval: Duration?
}
