public import BranchCore
public import Foundation

/// Lifecycle of a catalog object. `creating` and `deleting` exist only while an operation runs;
/// start-up reconciliation resolves any left behind by a crash.
public enum ObjectState: String, Codable, Sendable {
    case creating
    case ready
    case deleting
}

/// Whether the service keeps a branch's server running.
public enum DesiredState: String, Codable, Sendable {
    case running
    case stopped
}

/// A project: one Postgres cluster lineage with its owner role, database and branches.
public struct ProjectRecord: Codable, Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var name: ResourceName
    public var state: ObjectState
    public var pgMajor: Int
    /// Owner role and database name (both the project's name).
    public var role: String
    public var database: String
    /// Generated password of the owner role; the catalog lives in the root-only pool.
    public var password: String
    /// SCRAM verifier of `password`, as Postgres and PgBouncer store it.
    public var verifier: String
    /// The branch the project's pooled endpoint points at.
    public var checkedOut: ResourceName
    public var createdAt: Date
    /// The operation that created the project (rolled back if it never finished).
    public var operationID: String?
    /// Limits applied to every branch server of the project (nil: none).
    public var memoryLimit: UInt64?
    public var cpuLimit: Double?
    public var maxConnections: Int?
    /// Seconds without client connections before a branch other than main is suspended
    /// (nil: the service default; 0: never).
    public var suspendAfter: Int?
    /// The same for main (nil or 0: never).
    public var suspendMainAfter: Int?
    /// Days of history kept for point-in-time recovery (nil: the default, 7).
    public var retentionDays: Int?

    /// Names and state only: a record interpolated into a log line or an error never shows the
    /// password or its verifier.
    public var description: String { "ProjectRecord(name: \(name), state: \(state.rawValue), role: \(role), database: \(database))" }
    public var debugDescription: String { description }
    public var customMirror: Mirror {
        Mirror(self, children: ["name": name, "state": state, "role": role, "database": database, "checkedOut": checkedOut], displayStyle: .struct)
    }

    public init(
        name: ResourceName, state: ObjectState, pgMajor: Int, role: String, database: String, password: String,
        verifier: String, checkedOut: ResourceName, createdAt: Date, operationID: String?, memoryLimit: UInt64? = nil,
        cpuLimit: Double? = nil, maxConnections: Int? = nil, suspendAfter: Int? = nil, suspendMainAfter: Int? = nil
    ) {
        self.name = name
        self.state = state
        self.pgMajor = pgMajor
        self.role = role
        self.database = database
        self.password = password
        self.verifier = verifier
        self.checkedOut = checkedOut
        self.createdAt = createdAt
        self.operationID = operationID
        self.memoryLimit = memoryLimit
        self.cpuLimit = cpuLimit
        self.maxConnections = maxConnections
        self.suspendAfter = suspendAfter
        self.suspendMainAfter = suspendMainAfter
    }
}

/// A branch: a writable subvolume with its own Postgres server.
public struct BranchRecord: Codable, Sendable, Hashable {
    public var project: ResourceName
    public var name: ResourceName
    /// The branch it was made from; nil for `main` (and for branches whose parent was deleted with --force and had none).
    public var parent: ResourceName?
    /// The read-only snapshot this branch started from: the common ancestor for diff and merge.
    public var baseSnapshot: String?
    public var port: Int
    public var state: ObjectState
    public var desired: DesiredState
    public var createdAt: Date
    public var operationID: String?
    /// Stopped for being idle; resumes on the next client connection or API use.
    public var suspended: Bool
    /// Times the supervisor restarted the server after it died.
    public var restarts: Int
    /// The WAL history this branch's data currently continues (see `LineageRecord`).
    public var lineage: String?

    public init(
        project: ResourceName, name: ResourceName, parent: ResourceName?, baseSnapshot: String?, port: Int,
        state: ObjectState, desired: DesiredState, createdAt: Date, operationID: String?, suspended: Bool = false, restarts: Int = 0
    ) {
        self.project = project
        self.name = name
        self.parent = parent
        self.baseSnapshot = baseSnapshot
        self.port = port
        self.state = state
        self.desired = desired
        self.createdAt = createdAt
        self.operationID = operationID
        self.suspended = suspended
        self.restarts = restarts
    }
}

/// Why a snapshot exists.
public enum SnapshotKind: String, Codable, Sendable {
    /// Asked for by a user.
    case manual
    /// Taken automatically as a new branch's starting point.
    case base
    /// Taken automatically before an in-place restore or reset replaced a branch's data.
    case preRestore = "pre-restore"
    /// Taken by a schedule, or as the starting point of a WAL lineage; pruned by retention rules.
    case automatic
    /// Taken for a backup; the newest one per branch is the parent of the next incremental backup.
    case backup
    /// Received from a backup when it was restored.
    case restored
}

/// A read-only snapshot of a branch.
public struct SnapshotRecord: Codable, Sendable, Hashable {
    public var id: String
    public var project: ResourceName
    public var name: ResourceName?
    /// The branch it was taken from (kept as text: the branch may be deleted later).
    public var sourceBranch: ResourceName
    public var kind: SnapshotKind
    public var state: ObjectState
    public var createdAt: Date
    public var operationID: String?
    /// The WAL lineage of the source branch when it was taken, and the WAL file holding the redo
    /// point of its checkpoint: replaying that lineage's archive from there reaches any later instant.
    public var lineage: String?
    public var walStart: String?

    public init(
        id: String, project: ResourceName, name: ResourceName?, sourceBranch: ResourceName, kind: SnapshotKind,
        state: ObjectState, createdAt: Date, operationID: String?
    ) {
        self.id = id
        self.project = project
        self.name = name
        self.sourceBranch = sourceBranch
        self.kind = kind
        self.state = state
        self.createdAt = createdAt
        self.operationID = operationID
    }
}

/// How a journaled operation ended.
public enum OperationState: String, Codable, Sendable {
    case running
    case succeeded
    case failed
    /// The service died while it ran; reconciliation rolled it back or completed it.
    case interrupted
}

/// One entry of the operations journal.
public struct OperationRecord: Codable, Sendable, Hashable {
    public var id: String
    public var kind: String
    public var project: String?
    public var target: String?
    public var state: OperationState
    public var startedAt: Date
    public var finishedAt: Date?
    public var durationMs: Double?
    public var errorCode: String?
    public var errorMessage: String?
    /// What reconciliation did, for interrupted operations.
    public var recovery: String?

    public init(id: String, kind: String, project: String?, target: String?, startedAt: Date) {
        self.id = id
        self.kind = kind
        self.project = project
        self.target = target
        self.state = .running
        self.startedAt = startedAt
    }
}

/// Something that happened to a branch server without anyone asking: a crash and restart, a
/// suspension for idleness, a resume.
public struct EventRecord: Codable, Sendable, Hashable {
    public var id: Int64?
    public var at: Date
    public var project: String
    public var branch: String?
    /// `crashed`, `restarted`, `restart_failed`, `suspended`, `resumed`.
    public var kind: String
    public var detail: String

    public init(at: Date, project: String, branch: String?, kind: String, detail: String) {
        self.at = at
        self.project = project
        self.branch = branch
        self.kind = kind
        self.detail = detail
    }
}

/// One unbroken stretch of a branch's WAL history: it starts when the branch is created or its
/// data is replaced (restore, reset) and ends when it is replaced again. Its WAL is archived in
/// `<pool>/projects/<project>/wal/<id>/`; `startSnapshot` holds the data it started from.
public struct LineageRecord: Codable, Sendable, Hashable {
    public var id: String
    public var project: ResourceName
    public var branch: ResourceName
    public var startedAt: Date
    public var endedAt: Date?
    public var startSnapshot: String?

    public init(id: String, project: ResourceName, branch: ResourceName, startedAt: Date, endedAt: Date?, startSnapshot: String?) {
        self.id = id
        self.project = project
        self.branch = branch
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.startSnapshot = startSnapshot
    }
}

/// What a schedule does.
public enum ScheduleKind: String, Codable, Sendable {
    case snapshot
    case backup
}

/// A project's schedule of automatic snapshots or backups, with its retention rules.
public struct ScheduleRecord: Codable, Sendable, Hashable {
    public var project: ResourceName
    public var kind: ScheduleKind
    /// Cron (`m h dom mon dow`) or `@every <duration>`.
    public var expression: String
    public var enabled: Bool
    public var keepLast: Int
    public var hourly: Int
    public var daily: Int
    public var weekly: Int
    public var monthly: Int
    public var lastRunAt: Date?
    /// For backups: where to POST a JSON report after each run, and whether it is Slack's format.
    public var webhookURL: String?
    public var webhookSlack: Bool

    public init(
        project: ResourceName, kind: ScheduleKind, expression: String, enabled: Bool, keepLast: Int, hourly: Int, daily: Int, weekly: Int,
        monthly: Int, lastRunAt: Date?, webhookURL: String?, webhookSlack: Bool
    ) {
        self.project = project
        self.kind = kind
        self.expression = expression
        self.enabled = enabled
        self.keepLast = keepLast
        self.hourly = hourly
        self.daily = daily
        self.weekly = weekly
        self.monthly = monthly
        self.lastRunAt = lastRunAt
        self.webhookURL = webhookURL
        self.webhookSlack = webhookSlack
    }
}

/// A backup written by this pool: one snapshot's send stream (full, or incremental against the
/// previous backup's snapshot), compressed and encrypted in the target.
public struct BackupRecord: Codable, Sendable, Hashable {
    public var id: String
    public var project: ResourceName
    public var branch: ResourceName
    public var snapshotID: String
    public var parentID: String?
    public var kind: BackupKind
    public var target: String
    public var status: BackupStatus
    public var startedAt: Date
    public var finishedAt: Date?
    public var rawBytes: UInt64
    public var storedBytes: UInt64
    public var error: String?

    public init(
        id: String, project: ResourceName, branch: ResourceName, snapshotID: String, parentID: String?, kind: BackupKind, target: String,
        status: BackupStatus, startedAt: Date, finishedAt: Date?, rawBytes: UInt64, storedBytes: UInt64, error: String?
    ) {
        self.id = id
        self.project = project
        self.branch = branch
        self.snapshotID = snapshotID
        self.parentID = parentID
        self.kind = kind
        self.target = target
        self.status = status
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.rawBytes = rawBytes
        self.storedBytes = storedBytes
        self.error = error
    }
}
