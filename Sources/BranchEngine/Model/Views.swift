public import BranchCatalog
public import Foundation

/// How long an operation took, step by step (what the journal measured).
public struct OperationTiming: Sendable, Equatable {
    public struct Step: Sendable, Equatable {
        public var name: String
        public var ms: Double
    }

    public var id: String
    public var durationMs: Double
    public var steps: [Step]
}

/// A project as users see it: its record and what is derived from its branches and snapshots.
public struct ProjectView: Sendable {
    public var record: ProjectRecord
    /// Ready branches and snapshots.
    public var branchCount: Int
    public var snapshotCount: Int
    /// Bytes on disk only the project's branches and snapshots hold (nil without Btrfs quotas).
    public var exclusiveBytes: UInt64?
    /// The stable pooled endpoint (without the password).
    public var poolerHost: String
    public var poolerPort: Int
    /// The settings in effect: the project's own or the service's defaults.
    public var suspendAfterSeconds: Int
    public var suspendMainAfterSeconds: Int
    public var retentionDays: Int
    /// The earliest instant the checked-out branch can be re-created at.
    public var earliestRestorableAt: Date?
}

/// Whether a ready branch's server runs.
public enum BranchStatus: String, Sendable {
    case running, suspended, stopped
}

/// A branch as users see it.
public struct BranchView: Sendable {
    public var record: BranchRecord
    public var status: BranchStatus
    public var checkedOut: Bool
    /// Bytes on disk only this branch holds (nil without Btrfs quotas).
    public var exclusiveBytes: UInt64?
    public var earliestRestorableAt: Date?
}

/// A snapshot as users see it.
public struct SnapshotView: Sendable {
    public var record: SnapshotRecord
    public var exclusiveBytes: UInt64?
    /// Branches whose base this snapshot is.
    public var baseOf: [String]
}

/// How to connect to a project's endpoint or one branch.
public struct ConnectionDetails: Sendable {
    public var url: String
    public var host: String
    public var port: Int
    public var user: String
    public var password: String
    public var database: String
    public var pooled: Bool
    public var branch: String
}

/// A schedule and when it fires next.
public struct ScheduleView: Sendable {
    public var record: ScheduleRecord
    public var nextRunAt: Date?
}

/// The service at a glance.
public struct ServiceStatus: Sendable {
    public struct Pool: Sendable {
        public var path: String
        public var mount: String
        public var freeBytes: UInt64
        public var totalBytes: UInt64
        public var quotas: Bool
    }

    public struct Postgres: Sendable {
        public var version: String
        public var major: Int
        public var binDirectory: String
    }

    public struct Runtime: Sendable {
        public var name: String
        public var cgroups: String
        public var limitsEnforced: Bool
        public var notes: [String]
    }

    public var version: String
    public var startedAt: Date
    public var pool: Pool
    public var postgres: Postgres
    public var runtime: Runtime
    public var poolerPort: Int
    public var poolerRunning: Bool
    public var projects: Int
    public var branches: Int
    public var branchesRunning: Int
}
