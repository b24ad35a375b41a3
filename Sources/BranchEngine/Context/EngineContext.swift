import BranchAuth
import BranchBackup
import BranchCatalog
import BranchCore
import BranchDiff
import BranchPostgres
import BranchRuntime
import BranchStorage
import BranchSystem
import Foundation
import Logging

/// What every part of the engine shares: the pool, the catalog, how servers run, the pooler, the
/// journal, the per-project locks and the in-memory state of the background services. Parts are
/// views over one context; they hold no state of their own.
final class EngineContext: Sendable {
    let configuration: EngineConfiguration
    let layout: PoolLayout
    let installation: PostgresInstallation
    let mountOutcome: PoolMountOutcome
    let storage: PoolStorage
    let catalog: Catalog
    let runtime: any BranchServerRuntime
    let pooler: Pooler
    let journal: Journal
    let logger: Logger
    /// Where backups are stored and the keys that seal them (nil: backups are refused with a hint).
    let backupTarget: (any BackupTarget)?
    let backupKeys: BackupKeys?
    /// The key new backups are made with.
    var backupKey: BackupKey? { backupKeys?.current }

    let locks = KeyedLock()
    /// Ports just handed out by `allocatePort`, until their branch rows exist.
    let portClaims = PortClaims()
    let jobs: JobRunner
    let notifications: Notifier
    /// What the alert sources remember between events (crash loops).
    let alertState = AlertState()
    let metricsStore = MetricsStore(capacity: 720)
    /// Each mirror's lag and schema state, as the mirror watch last found it.
    let mirrorStates = MirrorStates()
    /// The last measurement of what uses the pool (`branch status`, `pool_full` hints).
    let diskUsage = DiskUsageCache()
    /// Flushes the pre-pay service ran (PrePayService).
    let prePayCounters = PrePayCounters()
    let streamsClosed = StreamGate()
    /// When this service process started.
    let startedAt = Date()
    /// Clients and uses of each branch, for scale to zero; idle times count from the start at most.
    let activity = Activity(serviceStart: .now)
    /// The data API's pools, schema caches and limiters.
    let dataAPI = DataAPIState()
    /// Idle sessions of admin SQL, migrations and the console's reads, taken again by the next.
    let sessionPool = SessionPool()
    /// Branch servers' schema snapshots, until their next DDL (diffs read them on every page).
    let schemaSnapshots = SchemaSnapshotCache()
    /// When each management token was last recorded as used.
    let tokenUse = TokenUse()
    /// Failed password sign-ins to the management API, per email and per client address.
    let signIns = SignInLimiter()
    /// The release this service runs, and an upgrade's pending restart.
    let release = ServiceRelease()

    init(
        configuration: EngineConfiguration, layout: PoolLayout, installation: PostgresInstallation, mountOutcome: PoolMountOutcome,
        catalog: Catalog, runtime: any BranchServerRuntime, pooler: Pooler, logger: Logger, backupTarget: (any BackupTarget)?,
        backupKeys: BackupKeyring?
    ) {
        self.configuration = configuration
        self.layout = layout
        self.installation = installation
        self.mountOutcome = mountOutcome
        self.storage = PoolStorage(layout: layout)
        self.catalog = catalog
        self.runtime = runtime
        self.pooler = pooler
        self.journal = Journal(catalog: catalog, logger: logger)
        self.logger = logger
        self.backupTarget = backupTarget
        self.backupKeys = backupKeys.map(BackupKeys.init)
        self.jobs = JobRunner(logger: logger)
        self.notifications = Notifier(
            logger: logger, catalog: catalog, service: configuration.publicHost, backoff: configuration.alerts.backoff,
            maxPending: configuration.alerts.maxPendingDeliveries)
    }

    /// Runs `body` with the project's operations serialized.
    func withProjectLock<T: Sendable>(_ project: String, _ body: () async throws -> T) async throws -> T {
        try await locks.withLock("project:\(project)", body)
    }

    /// Runs `check` (validation against the catalog) before queueing behind other operations of the
    /// project, so a bad name or a branch still being created is refused at once; then again under
    /// the lock, where its result is current, and hands that result to `body`.
    func withProjectLock<Checked: Sendable, T: Sendable>(
        _ project: String, checking check: @escaping @Sendable (CatalogTransaction) throws -> Checked,
        _ body: (Checked) async throws -> T
    ) async throws -> T {
        _ = try await catalog.read(check)
        return try await locks.withLock("project:\(project)") {
            try await body(try await catalog.read(check))
        }
    }

    /// A port in the configured range that no branch uses and nothing else listens on.
    func allocatePort(excluding reserved: Set<Int> = []) async throws -> Int {
        let used = try await catalog.read { try $0.usedPorts() }.union(reserved)
        guard let port = portClaims.claim(from: configuration.portRange, where: { !used.contains($0) && PortProbe.isFree($0) }) else {
            throw EngineError.noFreePort(configuration.portRange)
        }
        return port
    }

    /// Records something a branch server did on its own (crashed, restarted, suspended, resumed).
    func record(_ kind: String, _ branch: BranchRecord, _ detail: String) async {
        logger.notice("branch event", metadata: ["branch": "\(branch.project)/\(branch.name)", "event": "\(kind)", "detail": "\(detail)"])
        try? await catalog.write { tx in
            try tx.insert(EventRecord(at: Date(), project: branch.project.rawValue, branch: branch.name.rawValue, kind: kind, detail: detail))
            try tx.pruneEvents(keep: 10_000)
        }
        if kind == "crashed" || kind == "restart_failed" { await alertCrashLoop(branch) }
    }

    /// Raises an alert: logged, and kept in the event log (`branch events`; instance-wide ones
    /// under the project name `""`), then queued for the project's and the instance's channels.
    func alert(_ event: AlertEvent) async {
        let level: Logger.Level = switch event.severity {
        case .info: .notice
        case .warning: .warning
        case .critical: .error
        }
        logger.log(
            level: level, "alert",
            metadata: ["kind": "\(event.kind.rawValue)", "project": "\(event.project ?? "-")", "title": "\(event.title)"])
        try? await catalog.write { tx in
            try tx.insert(EventRecord(at: event.at, project: event.project ?? "", branch: event.branch, kind: event.kind.rawValue, detail: "\(event.title). \(event.detail)"))
            try tx.pruneEvents(keep: 10_000)
        }
        await deliverAlert(event)
    }

    /// The key new backups are made with, or why there is none.
    func requireBackupKey() throws -> BackupKey {
        try requireBackupKeyring().current
    }

    /// Every key backups are read with: the current one and the retired ones.
    func requireBackupKeyring() throws -> BackupKeyring {
        try requireBackupKeys().all
    }

    /// The keyring's holder, which a rotation replaces the keyring in, or why there is none.
    func requireBackupKeys() throws -> BackupKeys {
        if let backupKeys { return backupKeys }
        throw BackupError(.backupKeyMissing, "No backup key is configured for this service.")
    }

    /// The configured backup target, or why there is none.
    func requireBackupTarget() throws -> any BackupTarget {
        if let backupTarget { return backupTarget }
        throw BackupError(.backupTargetFailed, "No backup target is configured.")
    }
}
