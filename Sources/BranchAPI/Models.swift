public import BranchCore
public import Foundation

// The JSON bodies of the /api/v1 API, shared by the server and the CLI. Field names are the
// wire format: adding optional fields is fine, renaming or removing one is a breaking change.

/// The body of every error response.
public struct ErrorBody: Codable, Sendable {
    public struct Detail: Codable, Sendable {
        public var code: String
        public var message: String
        public var hint: String?
        /// Correlation id of an unexpected error, to find it in the service log.
        public var requestId: String?

        public init(code: String, message: String, hint: String? = nil, requestId: String? = nil) {
            self.code = code
            self.message = message
            self.hint = hint
            self.requestId = requestId
        }
    }

    public var error: Detail

    public init(error: Detail) { self.error = error }
}

public struct HealthResponse: Codable, Sendable {
    public var status: String
    public var version: String

    public init(status: String, version: String) {
        self.status = status
        self.version = version
    }
}

/// The service at a glance: pool, Postgres, runtime, pooler.
public struct StatusResponse: Codable, Sendable {
    public struct Pool: Codable, Sendable {
        public var path: String
        public var mount: String
        public var freeBytes: UInt64
        public var totalBytes: UInt64
        public var quotas: Bool

        public init(path: String, mount: String, freeBytes: UInt64, totalBytes: UInt64, quotas: Bool) {
            self.path = path
            self.mount = mount
            self.freeBytes = freeBytes
            self.totalBytes = totalBytes
            self.quotas = quotas
        }
    }

    public struct Postgres: Codable, Sendable {
        public var version: String
        public var major: Int
        public var binDirectory: String

        public init(version: String, major: Int, binDirectory: String) {
            self.version = version
            self.major = major
            self.binDirectory = binDirectory
        }
    }

    /// How branch servers run, and what start-up found out about the host.
    public struct Runtime: Codable, Sendable {
        public var name: String
        public var cgroups: String
        public var limitsEnforced: Bool
        public var notes: [String]

        public init(name: String, cgroups: String, limitsEnforced: Bool, notes: [String]) {
            self.name = name
            self.cgroups = cgroups
            self.limitsEnforced = limitsEnforced
            self.notes = notes
        }
    }

    public struct Pooler: Codable, Sendable {
        public var port: Int
        public var running: Bool

        public init(port: Int, running: Bool) {
            self.port = port
            self.running = running
        }
    }

    public var version: String
    public var startedAt: Date
    public var pool: Pool
    public var postgres: Postgres
    public var runtime: String
    public var runtimeDetails: Runtime
    public var pooler: Pooler
    public var projects: Int
    public var branches: Int
    public var branchesRunning: Int

    public init(
        version: String, startedAt: Date, pool: Pool, postgres: Postgres, runtime: Runtime, pooler: Pooler, projects: Int,
        branches: Int, branchesRunning: Int
    ) {
        self.version = version
        self.startedAt = startedAt
        self.pool = pool
        self.postgres = postgres
        self.runtime = runtime.name
        self.runtimeDetails = runtime
        self.pooler = pooler
        self.projects = projects
        self.branches = branches
        self.branchesRunning = branchesRunning
    }
}

/// How long an operation took, step by step.
public struct OperationTiming: Codable, Sendable {
    public struct Step: Codable, Sendable {
        public var name: String
        public var ms: Double

        public init(name: String, ms: Double) {
            self.name = name
            self.ms = ms
        }
    }

    public var id: String
    public var durationMs: Double
    public var steps: [Step]

    public init(id: String, durationMs: Double, steps: [Step]) {
        self.id = id
        self.durationMs = durationMs
        self.steps = steps
    }
}

public struct ProjectInfo: Codable, Sendable {
    public var name: String
    public var createdAt: Date
    public var postgresMajor: Int
    /// Owner role; also the database name.
    public var role: String
    public var database: String
    public var checkedOut: String
    public var branches: Int
    public var snapshots: Int
    /// Bytes on disk exclusive to the project's branches and snapshots (nil without Btrfs quotas).
    public var exclusiveBytes: UInt64?
    /// The stable pooled endpoint, without the password (see `GET …/connection`).
    public var poolerHost: String
    public var poolerPort: Int
    /// Limits of every branch server of the project (absent: none).
    public var memoryBytes: UInt64?
    public var cpus: Double?
    public var maxConnections: Int?
    /// Idle seconds before a branch other than main is suspended, and before main is (0: never).
    public var suspendAfterSeconds: Int
    public var suspendMainAfterSeconds: Int
    /// Days of history kept for point-in-time branches, and the earliest instant the checked-out
    /// branch can be re-created at (`branch create NAME --from BRANCH --at INSTANT`).
    public var retentionDays: Int
    public var earliestRestorableAt: Date?

    public init(
        name: String, createdAt: Date, postgresMajor: Int, role: String, database: String, checkedOut: String, branches: Int,
        snapshots: Int, exclusiveBytes: UInt64?, poolerHost: String, poolerPort: Int, memoryBytes: UInt64? = nil, cpus: Double? = nil,
        maxConnections: Int? = nil, suspendAfterSeconds: Int = 0, suspendMainAfterSeconds: Int = 0, retentionDays: Int = 7,
        earliestRestorableAt: Date? = nil
    ) {
        self.name = name
        self.createdAt = createdAt
        self.postgresMajor = postgresMajor
        self.role = role
        self.database = database
        self.checkedOut = checkedOut
        self.branches = branches
        self.snapshots = snapshots
        self.exclusiveBytes = exclusiveBytes
        self.poolerHost = poolerHost
        self.poolerPort = poolerPort
        self.memoryBytes = memoryBytes
        self.cpus = cpus
        self.maxConnections = maxConnections
        self.suspendAfterSeconds = suspendAfterSeconds
        self.suspendMainAfterSeconds = suspendMainAfterSeconds
        self.retentionDays = retentionDays
        self.earliestRestorableAt = earliestRestorableAt
    }
}

/// Limits and scale-to-zero settings of a project. In an update, an absent field is left as it
/// is and 0 removes a limit (or turns suspension off).
public struct ProjectSettings: Codable, Sendable, Equatable {
    public var memoryBytes: UInt64?
    public var cpus: Double?
    public var maxConnections: Int?
    public var suspendAfterSeconds: Int?
    public var suspendMainAfterSeconds: Int?
    /// Days of history kept for point-in-time branches (0: the service default, 7).
    public var retentionDays: Int?

    public init(
        memoryBytes: UInt64? = nil, cpus: Double? = nil, maxConnections: Int? = nil, suspendAfterSeconds: Int? = nil,
        suspendMainAfterSeconds: Int? = nil, retentionDays: Int? = nil
    ) {
        self.memoryBytes = memoryBytes
        self.cpus = cpus
        self.maxConnections = maxConnections
        self.suspendAfterSeconds = suspendAfterSeconds
        self.suspendMainAfterSeconds = suspendMainAfterSeconds
        self.retentionDays = retentionDays
    }
}

public struct CreateProjectRequest: Codable, Sendable {
    public var name: String
    public var settings: ProjectSettings?

    public init(name: String, settings: ProjectSettings? = nil) {
        self.name = name
        self.settings = settings
    }
}

public struct ProjectUpdated: Codable, Sendable {
    public var project: ProjectInfo
    /// Running branches restarted to apply a setting that needs it (max connections).
    public var restarted: [String]
    public var operation: OperationTiming

    public init(project: ProjectInfo, restarted: [String], operation: OperationTiming) {
        self.project = project
        self.restarted = restarted
        self.operation = operation
    }
}

public struct ProjectCreated: Codable, Sendable {
    public var project: ProjectInfo
    public var connection: ConnectionResponse
    public var operation: OperationTiming

    public init(project: ProjectInfo, connection: ConnectionResponse, operation: OperationTiming) {
        self.project = project
        self.connection = connection
        self.operation = operation
    }
}

public struct BranchInfo: Codable, Sendable {
    public var project: String
    public var name: String
    public var parent: String?
    public var baseSnapshot: String?
    /// `creating`, `ready` or `deleting`.
    public var state: String
    /// `running`, `stopped`, or `suspended` (idle; resumes on the next connection or API use).
    public var status: String
    public var port: Int
    /// Whether the project's pooled endpoint points here.
    public var checkedOut: Bool
    /// Bytes on disk only this branch holds (nil without Btrfs quotas).
    public var exclusiveBytes: UInt64?
    public var createdAt: Date
    /// Times the supervisor restarted its server after it died.
    public var restarts: Int
    /// The earliest instant this branch can be re-created at.
    public var earliestRestorableAt: Date?

    public init(
        project: String, name: String, parent: String?, baseSnapshot: String?, state: String, status: String, port: Int,
        checkedOut: Bool, exclusiveBytes: UInt64?, createdAt: Date, restarts: Int = 0, earliestRestorableAt: Date? = nil
    ) {
        self.project = project
        self.name = name
        self.parent = parent
        self.baseSnapshot = baseSnapshot
        self.state = state
        self.status = status
        self.port = port
        self.checkedOut = checkedOut
        self.exclusiveBytes = exclusiveBytes
        self.createdAt = createdAt
        self.restarts = restarts
        self.earliestRestorableAt = earliestRestorableAt
    }
}

public struct CreateBranchRequest: Codable, Sendable {
    public var name: String
    /// Source branch (default `main`). Exclusive with `snapshot`.
    public var from: String?
    /// Source snapshot id or name. Exclusive with `from`.
    public var snapshot: String?
    /// With `from`: re-create the source as it was at this instant (point-in-time recovery).
    public var at: Date?

    public init(name: String, from: String? = nil, snapshot: String? = nil, at: Date? = nil) {
        self.name = name
        self.from = from
        self.snapshot = snapshot
        self.at = at
    }
}

public struct BranchResult: Codable, Sendable {
    public var branch: BranchInfo
    /// For an in-place restore or a reset: the snapshot of the data it replaced.
    public var replacedStateSnapshot: SnapshotInfo?
    public var operation: OperationTiming

    public init(branch: BranchInfo, replacedStateSnapshot: SnapshotInfo? = nil, operation: OperationTiming) {
        self.branch = branch
        self.replacedStateSnapshot = replacedStateSnapshot
        self.operation = operation
    }
}

public struct DeleteResult: Codable, Sendable {
    public var deleted: [String]
    public var operation: OperationTiming

    public init(deleted: [String], operation: OperationTiming) {
        self.deleted = deleted
        self.operation = operation
    }
}

public struct SnapshotInfo: Codable, Sendable {
    public var id: String
    public var name: String?
    public var project: String
    public var sourceBranch: String
    /// `manual`, `base` or `pre-restore`.
    public var kind: String
    public var createdAt: Date
    public var exclusiveBytes: UInt64?
    /// Branches that started from this snapshot (it cannot be deleted while they exist).
    public var baseOf: [String]

    public init(
        id: String, name: String?, project: String, sourceBranch: String, kind: String, createdAt: Date, exclusiveBytes: UInt64?,
        baseOf: [String]
    ) {
        self.id = id
        self.name = name
        self.project = project
        self.sourceBranch = sourceBranch
        self.kind = kind
        self.createdAt = createdAt
        self.exclusiveBytes = exclusiveBytes
        self.baseOf = baseOf
    }
}

public struct CreateSnapshotRequest: Codable, Sendable {
    /// Default: the checked-out branch.
    public var branch: String?
    public var name: String?

    public init(branch: String? = nil, name: String? = nil) {
        self.branch = branch
        self.name = name
    }
}

public struct SnapshotResult: Codable, Sendable {
    public var snapshot: SnapshotInfo
    public var operation: OperationTiming

    public init(snapshot: SnapshotInfo, operation: OperationTiming) {
        self.snapshot = snapshot
        self.operation = operation
    }
}

public struct RestoreRequest: Codable, Sendable {
    /// Restore as a new branch with this name.
    public var `as`: String?
    /// Restore into an existing branch, replacing its data (its current state is snapshotted first).
    public var inPlace: Bool?
    /// With `inPlace` or `table`: the branch to restore into (default: the snapshot's source branch).
    public var branch: String?
    /// Restore only this table's rows (`schema.table`) into the branch, replacing its rows.
    public var table: String?

    public init(as name: String? = nil, inPlace: Bool? = nil, branch: String? = nil, table: String? = nil) {
        self.as = name
        self.inPlace = inPlace
        self.branch = branch
        self.table = table
    }
}

public struct CheckoutRequest: Codable, Sendable {
    public var branch: String

    public init(branch: String) { self.branch = branch }
}

public struct CheckoutResult: Codable, Sendable {
    public var project: String
    public var previous: String
    public var checkedOut: String
    public var operation: OperationTiming

    public init(project: String, previous: String, checkedOut: String, operation: OperationTiming) {
        self.project = project
        self.previous = previous
        self.checkedOut = checkedOut
        self.operation = operation
    }
}

/// How to connect: the pooled project endpoint, or one branch directly.
public struct ConnectionResponse: Codable, Sendable {
    public var url: String
    public var host: String
    public var port: Int
    public var user: String
    public var password: String
    public var database: String
    public var pooled: Bool
    /// For a direct connection, the branch it reaches; for the pooled one, the checked-out branch.
    public var branch: String

    public init(url: String, host: String, port: Int, user: String, password: String, database: String, pooled: Bool, branch: String) {
        self.url = url
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.pooled = pooled
        self.branch = branch
    }
}

public struct OperationInfo: Codable, Sendable {
    public var id: String
    public var kind: String
    public var project: String?
    public var target: String?
    /// `running`, `succeeded`, `failed` or `interrupted`.
    public var state: String
    public var startedAt: Date
    public var finishedAt: Date?
    public var durationMs: Double?
    public var errorCode: String?
    public var errorMessage: String?
    public var recovery: String?

    public init(
        id: String, kind: String, project: String?, target: String?, state: String, startedAt: Date, finishedAt: Date?,
        durationMs: Double?, errorCode: String?, errorMessage: String?, recovery: String?
    ) {
        self.id = id
        self.kind = kind
        self.project = project
        self.target = target
        self.state = state
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.durationMs = durationMs
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.recovery = recovery
    }
}

/// Something that happened to a branch server on its own: crashed, restarted, suspended, resumed.
public struct EventInfo: Codable, Sendable {
    public var id: Int64
    public var at: Date
    public var project: String
    public var branch: String?
    public var kind: String
    public var detail: String

    public init(id: Int64, at: Date, project: String, branch: String?, kind: String, detail: String) {
        self.id = id
        self.at = at
        self.project = project
        self.branch = branch
        self.kind = kind
        self.detail = detail
    }
}

public struct EventList: Codable, Sendable {
    public var events: [EventInfo]
    public init(events: [EventInfo]) { self.events = events }
}

/// One sample of one branch server (rates over the preceding interval).
public struct MetricSample: Codable, Sendable {
    public var at: Date
    /// `running`, `stopped` or `suspended`.
    public var status: String
    public var cpuPercent: Double?
    public var memoryBytes: UInt64?
    public var ioReadBytesPerSecond: Double?
    public var ioWriteBytesPerSecond: Double?
    public var connections: Int?
    public var databaseBytes: UInt64?
    public var exclusiveBytes: UInt64?
    public var restarts: Int

    public init(
        at: Date, status: String, cpuPercent: Double?, memoryBytes: UInt64?, ioReadBytesPerSecond: Double?, ioWriteBytesPerSecond: Double?,
        connections: Int?, databaseBytes: UInt64?, exclusiveBytes: UInt64?, restarts: Int
    ) {
        self.at = at
        self.status = status
        self.cpuPercent = cpuPercent
        self.memoryBytes = memoryBytes
        self.ioReadBytesPerSecond = ioReadBytesPerSecond
        self.ioWriteBytesPerSecond = ioWriteBytesPerSecond
        self.connections = connections
        self.databaseBytes = databaseBytes
        self.exclusiveBytes = exclusiveBytes
        self.restarts = restarts
    }
}

public struct MetricSeries: Codable, Sendable {
    public var project: String
    public var branch: String
    public var samples: [MetricSample]

    public init(project: String, branch: String, samples: [MetricSample]) {
        self.project = project
        self.branch = branch
        self.samples = samples
    }
}

public struct MetricsResponse: Codable, Sendable {
    public var intervalSeconds: Double
    public var series: [MetricSeries]

    public init(intervalSeconds: Double, series: [MetricSeries]) {
        self.intervalSeconds = intervalSeconds
        self.series = series
    }
}

/// A project's schedule of automatic snapshots or backups and its retention rules.
public struct ScheduleInfo: Codable, Sendable {
    /// `snapshot` or `backup`.
    public var kind: String
    /// Cron (`m h dom mon dow`, UTC), a macro (`@hourly`, `@daily`, …) or `@every <duration>`.
    public var expression: String
    public var enabled: Bool
    public var keepLast: Int
    public var hourly: Int
    public var daily: Int
    public var weekly: Int
    public var monthly: Int
    public var lastRunAt: Date?
    public var nextRunAt: Date?
    public var webhookURL: String?
    public var webhookSlack: Bool

    public init(
        kind: String, expression: String, enabled: Bool, keepLast: Int, hourly: Int, daily: Int, weekly: Int, monthly: Int,
        lastRunAt: Date?, nextRunAt: Date?, webhookURL: String?, webhookSlack: Bool
    ) {
        self.kind = kind
        self.expression = expression
        self.enabled = enabled
        self.keepLast = keepLast
        self.hourly = hourly
        self.daily = daily
        self.weekly = weekly
        self.monthly = monthly
        self.lastRunAt = lastRunAt
        self.nextRunAt = nextRunAt
        self.webhookURL = webhookURL
        self.webhookSlack = webhookSlack
    }
}

public struct ScheduleList: Codable, Sendable {
    public var schedules: [ScheduleInfo]
    public init(schedules: [ScheduleInfo]) { self.schedules = schedules }
}

/// A schedule to set; absent retention fields keep their current (or default) values.
public struct ScheduleRequest: Codable, Sendable {
    public var expression: String
    public var enabled: Bool?
    public var keepLast: Int?
    public var hourly: Int?
    public var daily: Int?
    public var weekly: Int?
    public var monthly: Int?
    public var webhookURL: String?
    public var webhookSlack: Bool?

    public init(
        expression: String, enabled: Bool? = nil, keepLast: Int? = nil, hourly: Int? = nil, daily: Int? = nil, weekly: Int? = nil,
        monthly: Int? = nil, webhookURL: String? = nil, webhookSlack: Bool? = nil
    ) {
        self.expression = expression
        self.enabled = enabled
        self.keepLast = keepLast
        self.hourly = hourly
        self.daily = daily
        self.weekly = weekly
        self.monthly = monthly
        self.webhookURL = webhookURL
        self.webhookSlack = webhookSlack
    }
}

/// A backup: one branch snapshot's send stream, compressed and encrypted in the target.
public struct BackupInfo: Codable, Sendable {
    public var id: String
    public var project: String
    public var branch: String
    public var snapshotID: String
    /// The backup this one is incremental to; nil for a full backup.
    public var parentID: String?
    /// `full` or `incremental`.
    public var kind: String
    public var target: String
    /// `running`, `complete` or `failed`.
    public var status: String
    public var startedAt: Date
    public var finishedAt: Date?
    /// Bytes of the send stream, and stored after compression and encryption.
    public var rawBytes: UInt64
    public var storedBytes: UInt64
    public var postgresVersion: String?
    public var error: String?

    public init(
        id: String, project: String, branch: String, snapshotID: String, parentID: String?, kind: String, target: String, status: String,
        startedAt: Date, finishedAt: Date?, rawBytes: UInt64, storedBytes: UInt64, postgresVersion: String? = nil, error: String? = nil
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
        self.postgresVersion = postgresVersion
        self.error = error
    }
}

public struct BackupList: Codable, Sendable {
    public var backups: [BackupInfo]
    public init(backups: [BackupInfo]) { self.backups = backups }
}

public struct CreateBackupRequest: Codable, Sendable {
    /// Default: the checked-out branch.
    public var branch: String?
    public init(branch: String? = nil) { self.branch = branch }
}

public struct RestoreBackupRequest: Codable, Sendable {
    /// The new branch.
    public var `as`: String
    /// The project to restore into (default: the backup's); created if this pool has no such project.
    public var project: String?

    public init(as name: String, project: String? = nil) {
        self.as = name
        self.project = project
    }
}

/// What `backup verify` found.
public struct VerifyReport: Codable, Sendable {
    public var backup: String
    /// The backups restored, full first.
    public var chain: [String]
    public var chunksVerified: Int
    public var bytesVerified: UInt64
    public var tables: Int
    public var rows: UInt64
    /// B-tree indexes checked with amcheck (nil when amcheck is not available).
    public var indexesChecked: Int?
    public var ok: Bool
    public var durationMs: Double

    public init(
        backup: String, chain: [String], chunksVerified: Int, bytesVerified: UInt64, tables: Int, rows: UInt64, indexesChecked: Int?,
        ok: Bool, durationMs: Double
    ) {
        self.backup = backup
        self.chain = chain
        self.chunksVerified = chunksVerified
        self.bytesVerified = bytesVerified
        self.tables = tables
        self.rows = rows
        self.indexesChecked = indexesChecked
        self.ok = ok
        self.durationMs = durationMs
    }
}

/// A long operation running in the service (backup, restore, verify), polled for progress.
public struct JobInfo: Codable, Sendable {
    public var id: String
    /// `backup.create`, `backup.restore`, `backup.verify`.
    public var kind: String
    public var project: String?
    /// `running`, `succeeded` or `failed`.
    public var status: String
    public var startedAt: Date
    public var finishedAt: Date?
    public var durationMs: Double?
    /// Bytes processed so far, and the rate over the job.
    public var bytesDone: UInt64
    public var bytesPerSecond: Double
    /// What it is doing now, e.g. `sending snapshot`, `receiving 2 of 3`.
    public var step: String?
    public var errorCode: String?
    public var errorMessage: String?
    public var errorHint: String?
    public var backup: BackupInfo?
    public var branch: BranchInfo?
    public var verify: VerifyReport?

    public init(id: String, kind: String, project: String?, status: String, startedAt: Date) {
        self.id = id
        self.kind = kind
        self.project = project
        self.status = status
        self.startedAt = startedAt
        self.bytesDone = 0
        self.bytesPerSecond = 0
    }
}

// MARK: Diff and merge

/// What `POST …/diff` compares and how much of it to return.
public struct DiffRequest: Codable, Sendable {
    /// Each side: a branch (`main`), a snapshot (id or name), a branch at an instant
    /// (`main@2026-11-21T10:00:00Z`), or a backup (`backup:<id>`).
    public var from: String
    public var to: String
    /// Only these tables (`table` or `schema.table`), and only these schemas.
    public var tables: [String]?
    public var schemas: [String]?
    public var schemaOnly: Bool?
    /// Counts per table only, no rows.
    public var summary: Bool?
    /// At most this many row changes (the response then carries a cursor to continue).
    public var limit: Int?
    public var cursor: String?

    public init(
        from: String, to: String, tables: [String]? = nil, schemas: [String]? = nil, schemaOnly: Bool? = nil, summary: Bool? = nil,
        limit: Int? = nil, cursor: String? = nil
    ) {
        self.from = from
        self.to = to
        self.tables = tables
        self.schemas = schemas
        self.schemaOnly = schemaOnly
        self.summary = summary
        self.limit = limit
        self.cursor = cursor
    }
}

/// A schema difference between the two sides, classified.
public struct DiffSchemaChange: Codable, Sendable, Equatable {
    public var objectType: String
    public var name: String
    /// `added`, `removed` or `changed` (from the first side to the second).
    public var change: String
    /// `additive` or `breaking`.
    public var classification: String
    public var from: String?
    public var to: String?
    public var reason: String?

    public init(objectType: String, name: String, change: String, classification: String, from: String?, to: String?, reason: String?) {
        self.objectType = objectType
        self.name = name
        self.change = change
        self.classification = classification
        self.from = from
        self.to = to
        self.reason = reason
    }
}

/// One changed column of a changed row; values in Postgres' text form (nil: NULL).
public struct DiffColumnChange: Codable, Sendable, Equatable {
    public var column: String
    public var old: String?
    public var new: String?
    /// For jsonb and json columns: the change as JSON-patch operations.
    public var patch: [JSONValue]?

    public init(column: String, old: String?, new: String?, patch: [JSONValue]? = nil) {
        self.column = column
        self.old = old
        self.new = new
        self.patch = patch
    }

    /// NULL is written as `null`, never left out: a consumer must not have to guess.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(column, forKey: .column)
        try container.encode(old, forKey: .old)
        try container.encode(new, forKey: .new)
        try container.encodeIfPresent(patch, forKey: .patch)
    }

    enum CodingKeys: String, CodingKey { case column, old, new, patch }
}

/// One row that differs: `added` (only in the second side), `removed` (only in the first), or
/// `changed` (same key, other values). Values are Postgres' text form; nil is NULL.
public struct DiffRowChange: Codable, Sendable, Equatable {
    public var table: String
    public var change: String
    /// The primary key (column → value); empty for a table without one.
    public var key: [String: String?]
    /// The whole row, for added and removed rows.
    public var row: [String: String?]?
    public var columns: [DiffColumnChange]?
    /// For tables without a primary key: how many copies of this row were added or removed.
    public var count: Int?

    public init(table: String, change: String, key: [String: String?], row: [String: String?]? = nil, columns: [DiffColumnChange]? = nil, count: Int? = nil) {
        self.table = table
        self.change = change
        self.key = key
        self.row = row
        self.columns = columns
        self.count = count
    }
}

/// Counts of one table's row differences.
public struct DiffTableSummary: Codable, Sendable, Equatable {
    public var table: String
    public var added: Int
    public var removed: Int
    public var changed: Int
    /// `primary key` (rows matched by key) or `multiset` (no primary key: whole rows compared as a multiset).
    public var method: String
    /// Whether the counts are complete (false when `limit` stopped the diff inside this table).
    public var complete: Bool
    /// When compared by heap pages: how many pages (both sides) the service read and compared,
    /// and how many it skipped unread (the same disk extents on both sides, all-visible).
    public var pagesRead: Int?
    public var pagesSkipped: Int?
    /// When compared by heap pages: the tuples (both sides) that could differ and were asked for
    /// by tuple id; every other tuple is the same on both sides.
    public var tuplesCompared: Int?

    public init(
        table: String, added: Int, removed: Int, changed: Int, method: String, complete: Bool, pagesRead: Int? = nil, pagesSkipped: Int? = nil,
        tuplesCompared: Int? = nil
    ) {
        self.pagesRead = pagesRead
        self.pagesSkipped = pagesSkipped
        self.tuplesCompared = tuplesCompared
        self.table = table
        self.added = added
        self.removed = removed
        self.changed = changed
        self.method = method
        self.complete = complete
    }
}

/// One line of a streamed diff (`application/x-ndjson`), in this order: the schema changes,
/// then per table its row changes and its summary, then one `end` line.
public struct DiffLine: Codable, Sendable {
    /// `schema`, `row`, `table`, `end`, or `error` (the diff failed after it started streaming;
    /// nothing follows it).
    public var type: String
    public var schema: DiffSchemaChange?
    public var row: DiffRowChange?
    public var table: DiffTableSummary?
    public var end: DiffEnd?
    public var error: ErrorBody.Detail?

    public init(
        type: String, schema: DiffSchemaChange? = nil, row: DiffRowChange? = nil, table: DiffTableSummary? = nil, end: DiffEnd? = nil,
        error: ErrorBody.Detail? = nil
    ) {
        self.type = type
        self.schema = schema
        self.row = row
        self.table = table
        self.end = end
        self.error = error
    }
}

public struct DiffEnd: Codable, Sendable, Equatable {
    public var from: String
    public var to: String
    public var schemaChanges: Int
    public var breakingChanges: Int
    public var rowsAdded: Int
    public var rowsRemoved: Int
    public var rowsChanged: Int
    /// Where to continue when `limit` cut the diff short; nil when it is complete.
    public var nextCursor: String?
    /// Bytes received from each side's server (checksums and rows).
    public var bytesFromFirst: UInt64
    public var bytesFromSecond: UInt64
    public var durationMs: Double

    public init(
        from: String, to: String, schemaChanges: Int, breakingChanges: Int, rowsAdded: Int, rowsRemoved: Int, rowsChanged: Int,
        nextCursor: String?, bytesFromFirst: UInt64, bytesFromSecond: UInt64, durationMs: Double
    ) {
        self.from = from
        self.to = to
        self.schemaChanges = schemaChanges
        self.breakingChanges = breakingChanges
        self.rowsAdded = rowsAdded
        self.rowsRemoved = rowsRemoved
        self.rowsChanged = rowsChanged
        self.nextCursor = nextCursor
        self.bytesFromFirst = bytesFromFirst
        self.bytesFromSecond = bytesFromSecond
        self.durationMs = durationMs
    }
}

/// What `POST …/merge` does.
public struct MergeRequest: Codable, Sendable {
    public var source: String
    /// Default: the source's parent.
    public var into: String?
    /// How to settle conflicts: `source` or `target`; without it, any conflict stops the merge.
    public var prefer: String?
    /// Per conflict: `table` + `key` → `source` or `target` (overrides `prefer`).
    public var resolutions: [MergeResolution]?
    public var allowDestructive: Bool?
    public var dryRun: Bool?

    public init(
        source: String, into: String? = nil, prefer: String? = nil, resolutions: [MergeResolution]? = nil, allowDestructive: Bool? = nil,
        dryRun: Bool? = nil
    ) {
        self.source = source
        self.into = into
        self.prefer = prefer
        self.resolutions = resolutions
        self.allowDestructive = allowDestructive
        self.dryRun = dryRun
    }
}

public struct MergeResolution: Codable, Sendable, Equatable {
    public var table: String
    public var key: [String: String?]
    /// `source` or `target`.
    public var take: String

    public init(table: String, key: [String: String?], take: String) {
        self.table = table
        self.key = key
        self.take = take
    }
}

/// A row changed on both sides since the base, differently; all three versions.
public struct MergeConflict: Codable, Sendable, Equatable {
    public var table: String
    public var key: [String: String?]
    /// `changed on both`, `deleted in source, changed in target`, `changed in source, deleted in target`, `added on both`.
    public var kind: String
    public var base: [String: String?]?
    public var source: [String: String?]?
    public var target: [String: String?]?
    /// How it was settled (`source`, `target`), nil when it was not.
    public var resolution: String?

    public init(
        table: String, key: [String: String?], kind: String, base: [String: String?]?, source: [String: String?]?, target: [String: String?]?,
        resolution: String?
    ) {
        self.table = table
        self.key = key
        self.kind = kind
        self.base = base
        self.source = source
        self.target = target
        self.resolution = resolution
    }
}

public struct MergeTablePlan: Codable, Sendable, Equatable {
    public var table: String
    public var inserts: Int
    public var updates: Int
    public var deletes: Int
    public var conflicts: Int

    public init(table: String, inserts: Int, updates: Int, deletes: Int, conflicts: Int) {
        self.table = table
        self.inserts = inserts
        self.updates = updates
        self.deletes = deletes
        self.conflicts = conflicts
    }
}

/// The plan of a merge, and what happened when it was applied.
public struct MergeResult: Codable, Sendable {
    public var source: String
    public var target: String
    /// The common ancestor: the source's base snapshot.
    public var base: String
    public var dryRun: Bool
    public var applied: Bool
    /// The schema statements replayed on the target, in order.
    public var schemaStatements: [String]
    public var schemaChanges: [DiffSchemaChange]
    public var tables: [MergeTablePlan]
    public var conflicts: [MergeConflict]
    /// The target's state before the merge (`branch restore ID --in-place` undoes it).
    public var undoSnapshot: String?
    public var operation: OperationTiming?

    public init(
        source: String, target: String, base: String, dryRun: Bool, applied: Bool, schemaStatements: [String], schemaChanges: [DiffSchemaChange],
        tables: [MergeTablePlan], conflicts: [MergeConflict], undoSnapshot: String?, operation: OperationTiming?
    ) {
        self.source = source
        self.target = target
        self.base = base
        self.dryRun = dryRun
        self.applied = applied
        self.schemaStatements = schemaStatements
        self.schemaChanges = schemaChanges
        self.tables = tables
        self.conflicts = conflicts
        self.undoSnapshot = undoSnapshot
        self.operation = operation
    }
}

/// List wrappers, so lists can grow pagination fields without breaking clients.
public struct ProjectList: Codable, Sendable {
    public var projects: [ProjectInfo]
    public init(projects: [ProjectInfo]) { self.projects = projects }
}

public struct BranchList: Codable, Sendable {
    public var branches: [BranchInfo]
    public init(branches: [BranchInfo]) { self.branches = branches }
}

public struct SnapshotList: Codable, Sendable {
    public var snapshots: [SnapshotInfo]
    public init(snapshots: [SnapshotInfo]) { self.snapshots = snapshots }
}

public struct OperationList: Codable, Sendable {
    public var operations: [OperationInfo]
    public init(operations: [OperationInfo]) { self.operations = operations }
}

extension JSONEncoder {
    /// The API's encoder: ISO 8601 dates, stable key order.
    public static var api: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }
}

extension JSONDecoder {
    /// The API's decoder: ISO 8601 dates.
    public static var api: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
