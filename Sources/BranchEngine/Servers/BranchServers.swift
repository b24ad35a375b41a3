import Logging
import BranchCatalog
import BranchCore
import BranchPostgres
import BranchRuntime
import BranchStorage
import BranchSystem
import Foundation

/// Each branch's own Postgres server: what it runs with, starting and stopping it, and scale to
/// zero (suspend when idle, resume on the next client).
struct BranchServers: EnginePart {
    let context: EngineContext

    /// What the runtime needs to run `branch`, with its project's limits, its WAL archive and,
    /// during a point-in-time recovery, the archive it replays from.
    func spec(_ branch: BranchRecord, project: ProjectRecord? = nil, restoreWal: String? = nil) -> ServerSpec {
        let subvolume = layout.branch(branch.project, branch.name)
        return ServerSpec(
            project: branch.project, branch: branch.name, subvolume: subvolume, dataDirectory: PoolLayout.dataDirectory(in: subvolume),
            logDirectory: layout.logDirectory(branch.project, branch.name), port: branch.port,
            socketDirectory: layout.socketDirectory(port: branch.port),
            limits: ResourceLimits(memory: project?.memoryLimit, cpus: project?.cpuLimit),
            walDirectory: branch.lineage.map { layout.wal(branch.project, lineage: $0) }, restoreWalDirectory: restoreWal,
            scriptDirectory: layout.scripts)
    }

    func isRunning(_ branch: BranchRecord) -> Bool { runtime.state(spec(branch)).isRunning }

    /// `running`, `suspended` or `stopped`.
    func status(of branch: BranchRecord) -> BranchStatus {
        if isRunning(branch) { return .running }
        return branch.suspended ? .suspended : .stopped
    }

    /// The server settings of a branch: the service's (port, sockets, logs) and its project's limits.
    func settings(for branch: BranchRecord, project: ProjectRecord?) -> ClusterFiles.BranchSettings {
        let paths = runtime.serverPaths(spec(branch, project: project))
        var extra: [String: String] = [
            // Logs rotate by size into the branch's log directory; the supervisor keeps the newest few.
            "logging_collector": "on",
            "log_directory": SQL.literal(paths.logDirectory),
            "log_filename": SQL.literal("postgresql-%Y%m%d-%H%M%S.log"),
            "log_rotation_size": SQL.literal("\(configuration.logRotationSize >> 10)kB"),
            "log_rotation_age": "0",
            "log_file_mode": "0640",
        ]
        // On a copy-on-write filesystem, zero-filling and recycling WAL segments only rewrites
        // blocks: with both off, snapshots and incremental backups carry just the WAL written.
        extra["wal_init_zero"] = "off"
        extra["wal_recycle"] = "off"
        if let wal = paths.walDirectory, let scripts = paths.scriptDirectory {
            extra.merge(WALArchive.archiveSettings(walDirectory: wal, scriptDirectory: scripts)) { _, new in new }
        }
        if let maxConnections = project?.maxConnections { extra["max_connections"] = String(maxConnections) }
        if let memory = project?.memoryLimit {
            // A quarter of the memory limit, at least 16 MB and at most 1 GB.
            extra["shared_buffers"] = SQL.literal("\(min(1024, max(16, memory >> 22)))MB")
        }
        return ClusterFiles.BranchSettings(
            port: branch.port, listenAddresses: configuration.listenAddress, socketDirectory: paths.socketDirectory,
            clusterName: "\(branch.project)/\(branch.name)", extra: extra)
    }

    /// Clears runtime files copied from the source and writes the clone's own settings.
    func prepareClone(dataDirectory: String, branch: BranchRecord, project: ProjectRecord?) throws {
        try ClusterFiles.clearRuntimeFiles(dataDirectory: dataDirectory)
        try ClusterFiles.writeBranchSettings(
            settings(for: branch, project: project), dataDirectory: dataDirectory, allowlist: Allowlist(stored: project?.allowlist))
    }

    /// After a project's allowlist changed: every running branch server gets the new
    /// `pg_hba.conf` and reloads it (new connections are checked against it; open ones stay).
    /// Stopped branches get it when they start.
    func applyAllowlist(_ project: ProjectRecord) async throws {
        let allowlist = Allowlist(stored: project.allowlist)
        for branch in try await catalog.branches(project.name) where branch.state == .ready {
            let spec = spec(branch, project: project)
            guard runtime.state(spec).isRunning else { continue }
            try ClusterFiles.writeHBA(allowing: allowlist, dataDirectory: spec.dataDirectory)
            try await withConnection(spec.superuserConnection) { try await $0.execute("SELECT pg_reload_conf()") }
        }
    }

    /// Starts a branch's server (settings rewritten first, limits applied) and waits until it
    /// accepts connections. A suspended branch is resumed: its pooler entries let clients through.
    func start(_ branch: BranchRecord, resumeCause: String = "started", restoreWal: String? = nil, timeout: Duration? = nil) async throws {
        let project = try await catalog.project(branch.project)
        let spec = spec(branch, project: project, restoreWal: restoreWal)
        let watch = Stopwatch()
        if !runtime.state(spec).isRunning {
            // A copy of a mirror's data (any branch but the mirror's main) must never follow the
            // source: no replication workers may start, and it sheds the subscription once up.
            let copyOfMirror = branch.name == .main ? false : try await catalog.isMirror(branch.project)
            try Files.ensureDirectory(layout.logs(branch.project), mode: 0o711)
            try Files.ensureDirectory(spec.logDirectory, mode: 0o750, owner: ClusterFiles.superuser)
            if let wal = spec.walDirectory { try lineages.ensureWALDirectory(wal) }
            try Files.ensureDirectory(spec.socketDirectory, mode: 0o700, owner: ClusterFiles.superuser)
            var settings = settings(for: branch, project: project)
            if copyOfMirror { settings.extra["max_logical_replication_workers"] = "0" }
            try ClusterFiles.writeBranchSettings(settings, dataDirectory: spec.dataDirectory, allowlist: Allowlist(stored: project?.allowlist))
            if PortProbe.isHeld(branch.port) {
                throw PostgresError(.postgresPortTaken, "Postgres could not listen on port \(branch.port): another program holds it.")
            }
            try await runtime.start(spec, timeout: timeout ?? configuration.startTimeout)
            await context.dataAPI.serverChanged(Activity.key(branch))
            // A point-in-time branch sheds it once promoted (`detachFromMirror`, by its caller).
            if copyOfMirror, let project, restoreWal == nil { try await detachFromMirror(branch, project: project) }
        }
        await context.activity.active(Activity.key(branch))
        if let current = try await catalog.branch(branch.project, branch.name), current.suspended {
            try await finishResume(current, project: project, cause: resumeCause, startedIn: watch)
        }
    }

    /// Makes a running copy of a mirror's data writable (see `MirrorGuards.detach`).
    func detachFromMirror(_ branch: BranchRecord, project: ProjectRecord) async throws {
        try await withConnection(databaseConnection(branch, database: project.database)) {
            try await MirrorGuards.detach(owner: project.role, in: $0)
        }
    }

    func stop(_ branch: BranchRecord) async throws {
        await context.sessionPool.close(prefix: SessionPool.prefix(Activity.key(branch)))
        try await runtime.stop(spec(branch))
        await context.dataAPI.serverChanged(Activity.key(branch))
    }

    /// A CHECKPOINT on a running server, so a snapshot of it starts with almost no WAL to replay.
    func checkpointIfRunning(_ branch: BranchRecord) async throws {
        let spec = spec(branch)
        guard runtime.state(spec).isRunning else { return }
        try await withConnection(spec.superuserConnection) { try await $0.execute("CHECKPOINT") }
    }

    /// The server's WAL position, and the WAL written since its last checkpoint's redo point (what
    /// the next CHECKPOINT, and so the next snapshot, has to flush), in bytes. Fails on a server
    /// still in recovery.
    func walSinceCheckpoint(_ branch: BranchRecord) async throws -> (position: UInt64, sinceCheckpoint: UInt64) {
        try await withConnection(spec(branch).superuserConnection) { connection in
            let rows = try await connection.query(
                """
                SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint,
                       pg_wal_lsn_diff(pg_current_wal_lsn(), redo_lsn)::bigint
                FROM pg_control_checkpoint()
                """, timeout: .seconds(10))
            let row = rows.rows.first ?? []
            return (UInt64(row[0] ?? "") ?? 0, UInt64(row[1] ?? "") ?? 0)
        }
    }

    /// A superuser connection to the project's database on a running branch.
    func databaseConnection(_ branch: BranchRecord, database: String) -> ConnectionInfo {
        var info = spec(branch).superuserConnection
        info.database = database
        return info
    }

    /// Starts, at service start, every branch whose desired state is running (adopting those
    /// still up from before). Failures are logged, not fatal: one broken branch must not keep
    /// the others down.
    func startDesired() async {
        let branches = (try? await catalog.allBranches()) ?? []
        let projects = Dictionary(uniqueKeysWithValues: ((try? await catalog.projects()) ?? []).map { ($0.name, $0) })
        for branch in branches where branch.state == .ready && branch.suspended {
            // Still suspended: keep clients queueing at the pooler until one wakes it.
            for entry in frontDoor.entries(of: branch, project: projects[branch.project]) { _ = await pooler.pause(entry) }
            await context.activity.setSuspended(Activity.key(branch), true)
        }
        for branch in branches where branch.state == .ready && branch.desired == .running && !branch.suspended {
            let spec = spec(branch)
            if runtime.state(spec).isRunning {
                logger.info("adopted running branch server", metadata: ["branch": "\(runtime.displayName(spec))"])
                await refreshAdopted(branch, project: projects[branch.project])
                continue
            }
            do {
                try await start(branch)
                logger.info("started branch server", metadata: ["branch": "\(runtime.displayName(spec))", "port": "\(branch.port)"])
            } catch {
                logger.error("could not start branch server", metadata: ["branch": "\(runtime.displayName(spec))", "error": "\(error)"])
            }
        }
    }

    /// A server left running by a previous service keeps the settings it started with: its files
    /// are rewritten with today's, its `pg_hba.conf` reloaded, and it is restarted if it listens on
    /// other addresses than the service's setting now asks (`--db-listen` changed, or a server
    /// started by a version that listened on every address).
    private func refreshAdopted(_ branch: BranchRecord, project: ProjectRecord?) async {
        let spec = spec(branch, project: project)
        let wanted = settings(for: branch, project: project)
        do {
            try ClusterFiles.writeBranchSettings(wanted, dataDirectory: spec.dataDirectory, allowlist: Allowlist(stored: project?.allowlist))
            let listening = try await withConnection(spec.superuserConnection) { connection in
                try await connection.execute("SELECT pg_reload_conf()")
                return try await connection.query("SHOW listen_addresses").scalar
            }
            guard listening != wanted.listenAddresses else { return }
            logger.notice(
                "restarting adopted branch server to listen on the configured addresses",
                metadata: ["branch": "\(runtime.displayName(spec))", "was": "\(listening ?? "")", "now": "\(wanted.listenAddresses)"])
            try await stop(branch)
            try await start(branch)
        } catch {
            logger.error("could not refresh an adopted branch server", metadata: ["branch": "\(runtime.displayName(spec))", "error": "\(error)"])
        }
    }

    // MARK: Scale to zero

    /// Suspends an idle branch (under its project's lock): its pooler entries are paused, so
    /// clients queue at PgBouncer, then its server stops. Does nothing if it is busy after all.
    func suspend(_ branch: BranchRecord, idle: Duration) async throws {
        try await context.withProjectLock(branch.project.rawValue) {
            guard let current = try await catalog.branch(branch.project, branch.name), current.state == .ready,
                current.desired == .running, !current.suspended, isRunning(current)
            else { return }
            let project = try await catalog.project(branch.project)
            let entries = frontDoor.entries(of: current, project: project)
            var paused: [String] = []
            for entry in entries {
                guard await pooler.pause(entry) else {
                    for name in paused { await pooler.resume(name) }
                    await context.activity.active(Activity.key(current))
                    return
                }
                paused.append(entry)
            }
            do {
                try await stop(current)
            } catch {
                for name in paused { await pooler.resume(name) }
                throw error
            }
            var updated = current
            updated.suspended = true
            try await catalog.write { [updated] in try $0.update(updated) }
            await context.activity.setSuspended(Activity.key(current), true)
            await context.record("suspended", current, "no client for \(Seconds.format(Int(idle.components.seconds))); it resumes on the next connection")
        }
    }

    /// Starts a suspended branch again and lets queued clients through. `cause` is recorded.
    func resume(_ branch: BranchRecord, cause: String) async throws {
        try await context.withProjectLock(branch.project.rawValue) {
            guard let current = try await catalog.branch(branch.project, branch.name), current.suspended else { return }
            try await start(current, resumeCause: cause)
        }
    }

    /// Resumes `branch` if it is suspended; for API uses that are about to need its server.
    func resumeIfSuspended(_ branch: BranchRecord, cause: String) async throws {
        guard branch.suspended else { return }
        try await resume(branch, cause: cause)
    }

    /// After a suspended branch's server started: un-pause its pooler entries, clear the flag.
    private func finishResume(_ branch: BranchRecord, project: ProjectRecord?, cause: String, startedIn: Stopwatch) async throws {
        for entry in frontDoor.entries(of: branch, project: project) { await pooler.resume(entry) }
        var updated = branch
        updated.suspended = false
        try await catalog.write { [updated] in try $0.update(updated) }
        await context.activity.setSuspended(Activity.key(branch), false)
        await context.record("resumed", branch, "\(cause); ready in \(Int(startedIn.milliseconds)) ms")
    }

    /// Idle seconds after which `branch` is suspended (0: never).
    func suspendDelay(_ branch: BranchRecord, project: ProjectRecord) -> Int {
        branch.name == .main ? project.suspendMainAfter ?? 0 : project.suspendAfter ?? configuration.suspendAfter
    }

    /// Client connections (all, and those from other hosts or TCP at all) and the size of the
    /// project's database, asked of the server over its private socket. The service's own
    /// sessions waiting idle in its pools (`SessionPool`, the data API's) are not clients.
    func statistics(_ branch: BranchRecord, database: String) async throws -> ServerStatistics {
        try await withConnection(spec(branch).superuserConnection) { connection in
            // Clients are client backends but this one; the service's own idle pooled sessions
            // (application_name `branch …`) are not counted as anyone's connections.
            let rows = try await connection.query(
                """
                SELECT count(*) FILTER (WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
                                        AND NOT (state = 'idle' AND application_name LIKE 'branch %')),
                       count(*) FILTER (WHERE backend_type = 'client backend' AND client_port IS NOT NULL AND client_port <> -1),
                       pg_database_size($1),
                       count(*) FILTER (WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND state = 'active'),
                       count(*) FILTER (WHERE backend_type = 'client backend' AND state LIKE 'idle%'
                                        AND NOT (state = 'idle' AND application_name LIKE 'branch %')),
                       current_setting('max_connections'),
                       (SELECT sum(tup_inserted) FROM pg_stat_database), (SELECT sum(tup_updated) FROM pg_stat_database),
                       (SELECT sum(tup_deleted) FROM pg_stat_database), (SELECT sum(deadlocks) FROM pg_stat_database),
                       CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn() - '0/0'::pg_lsn END
                FROM pg_stat_activity
                """, [database])
            let row = rows.rows.first ?? []
            func number(_ index: Int) -> Double? { index < row.count ? row[index].flatMap(Double.init) : nil }
            return ServerStatistics(
                connections: Int(row[0] ?? "") ?? 0, remoteClients: Int(row[1] ?? "") ?? 0, databaseBytes: UInt64(row[2] ?? "") ?? 0,
                activeConnections: number(3).map { Int($0) }, idleConnections: number(4).map { Int($0) }, maxConnections: number(5).map { Int($0) },
                rowsInserted: number(6), rowsUpdated: number(7), rowsDeleted: number(8), deadlocks: number(9), walBytes: number(10))
        }
    }

    /// Leaves a branch running while the service itself reads or writes it (a diff, a merge):
    /// scale to zero must not stop it, though its connections are not clients the metrics see.
    func keepingAwake<T: Sendable>(_ branches: [BranchRecord], _ body: () async throws -> T) async throws -> T {
        let keys = branches.map(Activity.key)
        for key in keys { await context.activity.use(key) }
        do {
            let result = try await body()
            for key in keys { await context.activity.release(key) }
            return result
        } catch {
            for key in keys { await context.activity.release(key) }
            throw error
        }
    }
}
