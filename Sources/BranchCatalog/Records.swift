package import BranchCore
package import Foundation

/// Lifecycle of a catalog object. `creating` and `deleting` exist only while an operation runs;
/// start-up reconciliation resolves any left behind by a crash.
package enum ObjectState: String, Codable, Sendable {
    case creating
    case ready
    case deleting
}

/// Whether the service keeps a branch's server running.
package enum DesiredState: String, Codable, Sendable {
    case running
    case stopped
}

/// A project: one Postgres cluster lineage with its owner role, database and branches.
package struct ProjectRecord: Codable, Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    package var name: ResourceName
    package var state: ObjectState
    package var pgMajor: Int
    /// Owner role and database name (both the project's name).
    package var role: String
    package var database: String
    /// Generated password of the owner role; the catalog lives in the root-only pool.
    package var password: String
    /// SCRAM verifier of `password`, as Postgres and PgBouncer store it.
    package var verifier: String
    /// The branch the project's pooled endpoint points at.
    package var checkedOut: ResourceName
    package var createdAt: Date
    /// The operation that created the project (rolled back if it never finished).
    package var operationID: String?
    /// Limits applied to every branch server of the project (nil: none).
    package var memoryLimit: UInt64?
    package var cpuLimit: Double?
    package var maxConnections: Int?
    /// Seconds without client connections before a branch other than main is suspended
    /// (nil: the service default; 0: never).
    package var suspendAfter: Int?
    /// The same for main (nil or 0: never).
    package var suspendMainAfter: Int?
    /// Days of history kept for point-in-time recovery (nil: the default, 7).
    package var retentionDays: Int?
    /// The networks its clients may come from, comma-separated CIDRs (nil: every address); see `Allowlist`.
    package var allowlist: String? = nil
    /// Branch defaults: the time to live, in seconds, a new branch gets when its creator names none
    /// (nil: none), and whether new branches start protected (see `BranchLifetime`).
    package var newBranchTimeToLive: Int? = nil
    package var protectNewBranches = false

    /// Names and state only: a record interpolated into a log line or an error never shows the
    /// password or its verifier.
    package var description: String { "ProjectRecord(name: \(name), state: \(state.rawValue), role: \(role), database: \(database))" }
    package var debugDescription: String { description }
    package var customMirror: Mirror {
        Mirror(self, children: ["name": name, "state": state, "role": role, "database": database, "checkedOut": checkedOut], displayStyle: .struct)
    }

    package init(
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
package struct BranchRecord: Codable, Sendable, Hashable {
    package var project: ResourceName
    package var name: ResourceName
    /// The branch it was made from; nil for `main` (and for branches whose parent was deleted with --force and had none).
    package var parent: ResourceName?
    /// The read-only snapshot this branch started from: the common ancestor for diff and merge.
    package var baseSnapshot: String?
    package var port: Int
    package var state: ObjectState
    package var desired: DesiredState
    package var createdAt: Date
    package var operationID: String?
    /// Stopped for being idle; resumes on the next client connection or API use.
    package var suspended: Bool
    /// Times the supervisor restarted the server after it died.
    package var restarts: Int
    /// The WAL history this branch's data currently continues (see `LineageRecord`).
    package var lineage: String?
    /// What it was made from, as asked; nil for a project's main branch and branches made before
    /// the catalog kept it.
    package var origin: BranchOrigin?
    /// Refuses deletion and reset (`branch protect`), and outlives its time to live.
    package var protected = false
    /// When the service deletes it (`branch create --ttl`, `branch expire`); nil: kept until deleted.
    package var expiresAt: Date?
    /// Made without its source's rows (`branch create --schema-only`); a reset brings the rows and clears it.
    package var schemaOnly = false

    package init(
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

/// What a branch was made from, as it was asked for. Kept in the catalog as text: `head`,
/// `instant:<ISO 8601>`, `position:<LSN>`, `snapshot:<id>` or `backup:<id>`.
package enum BranchOrigin: Sendable, Hashable, Codable {
    /// Its parent as it was when the branch was made.
    case head
    /// Its parent as it was at an instant, replayed from archived WAL.
    case instant(Date)
    /// Its parent just before a WAL position, replayed from archived WAL.
    case position(WALPosition)
    /// A snapshot, by id.
    case snapshot(String)
    /// A backup restored to a new branch, by id.
    case backup(String)

    package var stored: String {
        switch self {
        case .head: "head"
        case .instant(let date): "instant:" + date.formatted(Self.instantFormat)
        case .position(let position): "position:\(position)"
        case .snapshot(let id): "snapshot:\(id)"
        case .backup(let id): "backup:\(id)"
        }
    }

    package init?(stored: String) {
        let (kind, value) = stored.firstIndex(of: ":").map { (stored[..<$0], String(stored[stored.index(after: $0)...])) } ?? (Substring(stored), "")
        switch kind {
        case "head" where value.isEmpty: self = .head
        case "instant": guard let date = try? Self.instantFormat.parse(value) else { return nil }; self = .instant(date)
        case "position": guard let position = WALPosition(value) else { return nil }; self = .position(position)
        case "snapshot" where !value.isEmpty: self = .snapshot(value)
        case "backup" where !value.isEmpty: self = .backup(value)
        default: return nil
        }
    }

    /// Milliseconds kept: an instant is asked for to the second or finer.
    private static let instantFormat = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    package init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let origin = BranchOrigin(stored: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a branch origin: \(text)"))
        }
        self = origin
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(stored)
    }
}

/// Why a snapshot exists.
package enum SnapshotKind: String, Codable, Sendable {
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
    /// Taken just before and just after a migration, for its rollback and the writes since.
    case migration
}

/// A read-only snapshot of a branch.
package struct SnapshotRecord: Codable, Sendable, Hashable {
    package var id: String
    package var project: ResourceName
    package var name: ResourceName?
    /// The branch it was taken from (kept as text: the branch may be deleted later).
    package var sourceBranch: ResourceName
    package var kind: SnapshotKind
    package var state: ObjectState
    package var createdAt: Date
    package var operationID: String?
    /// The WAL lineage of the source branch when it was taken, and the WAL file holding the redo
    /// point of its checkpoint: replaying that lineage's archive from there reaches any later instant.
    package var lineage: String?
    package var walStart: String?
    /// Kept by retention whatever its schedule's rules say (`branch snapshot pin`).
    package var pinned = false

    package init(
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
package enum OperationState: String, Codable, Sendable {
    case running
    case succeeded
    case failed
    /// The service died while it ran; reconciliation rolled it back or completed it.
    case interrupted
}

/// One entry of the operations journal.
package struct OperationRecord: Codable, Sendable, Hashable {
    package var id: String
    package var kind: String
    package var project: String?
    package var target: String?
    package var state: OperationState
    package var startedAt: Date
    package var finishedAt: Date?
    package var durationMs: Double?
    package var errorCode: String?
    package var errorMessage: String?
    /// What reconciliation did, for interrupted operations.
    package var recovery: String?

    package init(id: String, kind: String, project: String?, target: String?, startedAt: Date) {
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
package struct EventRecord: Codable, Sendable, Hashable {
    package var id: Int64?
    package var at: Date
    package var project: String
    package var branch: String?
    /// `crashed`, `restarted`, `restart_failed`, `suspended`, `resumed`.
    package var kind: String
    package var detail: String

    package init(at: Date, project: String, branch: String?, kind: String, detail: String) {
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
package struct LineageRecord: Codable, Sendable, Hashable {
    package var id: String
    package var project: ResourceName
    package var branch: ResourceName
    package var startedAt: Date
    package var endedAt: Date?
    package var startSnapshot: String?

    package init(id: String, project: ResourceName, branch: ResourceName, startedAt: Date, endedAt: Date?, startSnapshot: String?) {
        self.id = id
        self.project = project
        self.branch = branch
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.startSnapshot = startSnapshot
    }
}

/// What a schedule does.
package enum ScheduleKind: String, Codable, Sendable {
    case snapshot
    case backup
}

/// A project's schedule of automatic snapshots or backups, with its retention rules.
package struct ScheduleRecord: Codable, Sendable, Hashable {
    package var project: ResourceName
    package var kind: ScheduleKind
    /// Cron (`m h dom mon dow`) or `@every <duration>`.
    package var expression: String
    package var enabled: Bool
    package var keepLast: Int
    package var hourly: Int
    package var daily: Int
    package var weekly: Int
    package var monthly: Int
    package var lastRunAt: Date?
    /// For backups: where to POST a JSON report after each run, and whether it is Slack's format.
    package var webhookURL: String?
    package var webhookSlack: Bool

    package init(
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
package struct BackupRecord: Codable, Sendable, Hashable {
    package var id: String
    package var project: ResourceName
    package var branch: ResourceName
    package var snapshotID: String
    package var parentID: String?
    package var kind: BackupKind
    package var target: String
    package var status: BackupStatus
    package var startedAt: Date
    package var finishedAt: Date?
    package var rawBytes: UInt64
    package var storedBytes: UInt64
    package var error: String?
    /// The fingerprint of the key it is encrypted with (`BackupKey.id`); nil for backups made
    /// before catalog v23 recorded it.
    package var keyID: String?

    package init(
        id: String, project: ResourceName, branch: ResourceName, snapshotID: String, parentID: String?, kind: BackupKind, target: String,
        status: BackupStatus, startedAt: Date, finishedAt: Date?, rawBytes: UInt64, storedBytes: UInt64, error: String?, keyID: String? = nil
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
        self.keyID = keyID
    }
}
