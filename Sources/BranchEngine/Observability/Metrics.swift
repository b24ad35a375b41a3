import BranchCatalog
import BranchCore
import BranchPostgres
import BranchRuntime
import BranchStorage
package import Foundation
import Logging
import ServiceLifecycle

/// One sample of one branch server (rates over the preceding interval).
package struct MetricSample: Sendable {
    package var at: Date
    package var status: BranchStatus
    package var cpuPercent: Double?
    package var memoryBytes: UInt64?
    package var ioReadBytesPerSecond: Double?
    package var ioWriteBytesPerSecond: Double?
    package var connections: Int?
    /// Client connections running a statement, and open but waiting.
    package var activeConnections: Int? = nil
    package var idleConnections: Int? = nil
    package var maxConnections: Int? = nil
    package var databaseBytes: UInt64?
    package var exclusiveBytes: UInt64?
    package var restarts: Int
    /// Rows written per second, over every database of the server (pg_stat_database).
    package var rowsInsertedPerSecond: Double? = nil
    package var rowsUpdatedPerSecond: Double? = nil
    package var rowsDeletedPerSecond: Double? = nil
    /// Deadlocks detected during the interval.
    package var deadlocks: Int? = nil
    /// WAL written per second.
    package var walBytesPerSecond: Double? = nil
}

/// What one query to a branch server reads: connections and size now, and cumulative counters
/// the store turns into rates.
struct ServerStatistics: Sendable {
    var connections: Int
    var remoteClients: Int
    var databaseBytes: UInt64
    var activeConnections: Int?
    var idleConnections: Int?
    var maxConnections: Int?
    var rowsInserted: Double?
    var rowsUpdated: Double?
    var rowsDeleted: Double?
    var deadlocks: Double?
    var walBytes: Double?
}

/// The samples of one branch.
package struct MetricSeries: Sendable {
    package var project: String
    package var branch: String
    package var samples: [MetricSample]
}

/// The last hour of samples per branch, in memory (720 × 5 s), and the previous cumulative
/// counters to turn them into rates.
actor MetricsStore {
    struct Key: Hashable {
        let project: String
        let branch: String
    }

    let capacity: Int
    private var series: [Key: [MetricSample]] = [:]
    private var previous: [Key: (at: ContinuousClock.Instant, usage: ResourceUsage)] = [:]
    private var previousStatistics: [Key: (at: ContinuousClock.Instant, statistics: ServerStatistics)] = [:]

    init(capacity: Int) { self.capacity = capacity }

    /// Adds a sample built from cumulative `usage` and `statistics`; CPU, IO, rows, deadlocks and
    /// WAL become rates (or counts) over the time since the last one. A counter that went back
    /// (a restarted server, reset statistics) gives no value for that interval.
    func record(_ key: Key, at date: Date, status: BranchStatus, usage: ResourceUsage?, statistics: ServerStatistics?,
                exclusiveBytes: UInt64?, restarts: Int, now: ContinuousClock.Instant = .now) {
        var sample = MetricSample(
            at: date, status: status, cpuPercent: nil, memoryBytes: usage?.memoryBytes, ioReadBytesPerSecond: nil,
            ioWriteBytesPerSecond: nil, connections: statistics?.connections, databaseBytes: statistics?.databaseBytes, exclusiveBytes: exclusiveBytes,
            restarts: restarts)
        sample.activeConnections = statistics?.activeConnections
        sample.idleConnections = statistics?.idleConnections
        sample.maxConnections = statistics?.maxConnections
        if let statistics, let last = previousStatistics[key] {
            let elapsed = max(0.001, (now - last.at).seconds)
            func delta(_ value: (ServerStatistics) -> Double?) -> Double? {
                guard let current = value(statistics), let before = value(last.statistics), current >= before else { return nil }
                return current - before
            }
            sample.rowsInsertedPerSecond = delta(\.rowsInserted).map { $0 / elapsed }
            sample.rowsUpdatedPerSecond = delta(\.rowsUpdated).map { $0 / elapsed }
            sample.rowsDeletedPerSecond = delta(\.rowsDeleted).map { $0 / elapsed }
            sample.deadlocks = delta(\.deadlocks).map { Int($0) }
            sample.walBytesPerSecond = delta(\.walBytes).map { $0 / elapsed }
        }
        if let statistics { previousStatistics[key] = (now, statistics) } else { previousStatistics[key] = nil }
        if let usage, let last = previous[key] {
            let elapsed = max(0.001, (now - last.at).seconds)
            sample.cpuPercent = max(0, (usage.cpuSeconds - last.usage.cpuSeconds) / elapsed * 100)
            sample.ioReadBytesPerSecond = Double(usage.ioReadBytes &- min(usage.ioReadBytes, last.usage.ioReadBytes)) / elapsed
            sample.ioWriteBytesPerSecond = Double(usage.ioWriteBytes &- min(usage.ioWriteBytes, last.usage.ioWriteBytes)) / elapsed
        }
        if let usage { previous[key] = (now, usage) } else { previous[key] = nil }
        var samples = series[key] ?? []
        samples.append(sample)
        if samples.count > capacity { samples.removeFirst(samples.count - capacity) }
        series[key] = samples
    }

    func forget(project: String, branch: String) {
        let key = Key(project: project, branch: branch)
        series[key] = nil
        previous[key] = nil
        previousStatistics[key] = nil
    }

    /// Drops what is kept of branches not in `keys` (deleted or renamed while a round sampled them).
    func retain(_ keys: Set<Key>) {
        for key in series.keys where !keys.contains(key) { series[key] = nil }
        for key in previous.keys where !keys.contains(key) { previous[key] = nil }
        for key in previousStatistics.keys where !keys.contains(key) { previousStatistics[key] = nil }
    }

    /// The branch was renamed: its charts go on under the new name. The counters the next rates
    /// start from are dropped, since renaming restarts its server.
    func rename(project: String, branch old: String, to new: String) {
        let from = Key(project: project, branch: old)
        series[Key(project: project, branch: new)] = series.removeValue(forKey: from)
        previous[from] = nil
        previousStatistics[from] = nil
    }

    /// Series matching the filters; `since` nil means only the latest sample of each.
    func query(project: String?, branch: String?, since: Date?) -> [MetricSeries] {
        series.filter { key, _ in (project == nil || key.project == project) && (branch == nil || key.branch == branch) }
            .sorted { ($0.key.project, $0.key.branch) < ($1.key.project, $1.key.branch) }
            .map { key, samples in
                let chosen = since.map { date in samples.filter { $0.at >= date } } ?? samples.suffix(1)
                return MetricSeries(project: key.project, branch: key.branch, samples: Array(chosen))
            }
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// Samples every branch server every `metricsInterval`: state, CPU, memory, IO, connections
/// (active, idle, the maximum), sizes, rows written, deadlocks, WAL, restarts; a branch with clients counts as active for scale to zero.
package struct MetricsService: Service {
    let context: EngineContext

    package func run() async throws {
        let sampler = MetricsSampler(context: context)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            await sampler.sampleOnce()
            await context.sessionPool.closeExpired()
            await pauseBeforeNextRound(context.configuration.metricsInterval)
        }
    }
}

struct MetricsSampler: EnginePart {
    let context: EngineContext

    func sampleOnce() async {
        guard let (projects, branches) = try? await catalog.read({ tx in (try tx.projects(), try tx.allBranches()) }) else { return }
        let byName = Dictionary(uniqueKeysWithValues: projects.map { ($0.name, $0) })
        let ready = branches.filter { $0.state == .ready && byName[$0.project]?.state == .ready }
        let sizes = await storage.exclusiveBytes(of: ready.map { layout.branch($0.project, $0.name) })
        let poolerClients = (try? await pooler.clients()) ?? [:]
        let now = Date()
        for branch in ready {
            guard let project = byName[branch.project] else { continue }
            let spec = servers.spec(branch, project: project)
            let running = runtime.state(spec).isRunning
            var statistics: ServerStatistics?
            var active = false
            if running, let stats = try? await servers.statistics(branch, database: project.database) {
                statistics = stats
                active = stats.remoteClients > 0
            }
            active = active || frontDoor.entries(of: branch, project: project).contains { (poolerClients[$0]?.active ?? 0) + (poolerClients[$0]?.waiting ?? 0) > 0 }
            await context.metricsStore.record(
                .init(project: branch.project.rawValue, branch: branch.name.rawValue), at: now,
                status: running ? .running : branch.suspended ? .suspended : .stopped, usage: running ? runtime.usage(spec) : nil,
                statistics: statistics, exclusiveBytes: sizes[spec.subvolume], restarts: branch.restarts)

            if active { await context.activity.active(Activity.key(branch)) }
        }
        // A branch deleted or renamed during the round got a sample under a name it no longer has.
        if let current = try? await catalog.allBranches() {
            await context.metricsStore.retain(Set(current.map { MetricsStore.Key(project: $0.project.rawValue, branch: $0.name.rawValue) }))
        }
    }

}

extension Observability {
    /// Samples of matching branches over the last `minutes` (0: only the latest of each).
    package func metrics(project: String?, branch: String?, minutes: Int) async -> (intervalSeconds: Double, series: [MetricSeries]) {
        let since = minutes > 0 ? Date().addingTimeInterval(-Double(minutes) * 60) : nil
        let series = await context.metricsStore.query(project: project, branch: branch, since: since)
        return (configuration.metricsInterval.seconds, series)
    }

    /// The latest sample of every branch in Prometheus' text format.
    package func prometheusText() async -> String {
        let latest = await context.metricsStore.query(project: nil, branch: nil, since: nil)
        var families: [(name: String, help: String, type: String, value: (MetricSample) -> Double?)] = [
            ("branch_up", "1 if the branch's server is running.", "gauge", { $0.status == .running ? 1 : 0 }),
            ("branch_suspended", "1 if the branch is suspended for being idle.", "gauge", { $0.status == .suspended ? 1 : 0 }),
            ("branch_cpu_percent", "CPU use over the last interval, in percent of one core.", "gauge", { $0.cpuPercent }),
            ("branch_memory_bytes", "Memory in use, without reclaimable page cache.", "gauge", { $0.memoryBytes.map { Double($0) } }),
            ("branch_io_read_bytes_per_second", "Disk reads over the last interval.", "gauge", { $0.ioReadBytesPerSecond }),
            ("branch_io_write_bytes_per_second", "Disk writes over the last interval.", "gauge", { $0.ioWriteBytesPerSecond }),
            ("branch_connections", "Client connections to the server.", "gauge", { $0.connections.map { Double($0) } }),
            ("branch_connections_active", "Client connections running a statement.", "gauge", { $0.activeConnections.map { Double($0) } }),
            ("branch_connections_idle", "Client connections open and waiting.", "gauge", { $0.idleConnections.map { Double($0) } }),
            ("branch_connections_max", "The server's max_connections.", "gauge", { $0.maxConnections.map { Double($0) } }),
            ("branch_rows_inserted_per_second", "Rows inserted over the last interval.", "gauge", { $0.rowsInsertedPerSecond }),
            ("branch_rows_updated_per_second", "Rows updated over the last interval.", "gauge", { $0.rowsUpdatedPerSecond }),
            ("branch_rows_deleted_per_second", "Rows deleted over the last interval.", "gauge", { $0.rowsDeletedPerSecond }),
            ("branch_deadlocks", "Deadlocks detected over the last interval.", "gauge", { $0.deadlocks.map { Double($0) } }),
            ("branch_wal_bytes_per_second", "WAL written over the last interval.", "gauge", { $0.walBytesPerSecond }),
            ("branch_database_bytes", "Size of the project's database on this branch.", "gauge", { $0.databaseBytes.map { Double($0) } }),
            ("branch_exclusive_bytes", "Bytes on disk only this branch holds.", "gauge", { $0.exclusiveBytes.map { Double($0) } }),
            ("branch_restarts_total", "Times the supervisor restarted the server.", "counter", { Double($0.restarts) }),
        ]
        let space = storage.space()
        var lines: [String] = [
            "# HELP branch_pool_free_bytes Free space in the pool.", "# TYPE branch_pool_free_bytes gauge",
            "branch_pool_free_bytes \(space.free)",
            "# HELP branch_pool_size_bytes Size of the pool.", "# TYPE branch_pool_size_bytes gauge", "branch_pool_size_bytes \(space.total)",
            "# HELP branch_pool_reserve_bytes Free space below which operations that grow the pool are refused.",
            "# TYPE branch_pool_reserve_bytes gauge", "branch_pool_reserve_bytes \(configuration.freeSpaceReserve)",
            "# HELP branch_prepay_syncs_total Pool syncs the pre-pay service ran while branches wrote.",
            "# TYPE branch_prepay_syncs_total counter", "branch_prepay_syncs_total \(await context.prePayCounters.syncs)",
            "# HELP branch_prepay_checkpoints_total Checkpoints the pre-pay service ran on branches whose writes had stopped.",
            "# TYPE branch_prepay_checkpoints_total counter", "branch_prepay_checkpoints_total \(await context.prePayCounters.checkpoints)",
        ]
        families.sort { $0.name < $1.name }
        for family in families {
            lines.append("# HELP \(family.name) \(family.help)")
            lines.append("# TYPE \(family.name) \(family.type)")
            for series in latest {
                guard let sample = series.samples.last, let value = family.value(sample) else { continue }
                lines.append("\(family.name){project=\"\(series.project)\",branch=\"\(series.branch)\"} \(Self.prometheusNumber(value))")
            }
        }
        let mirrors = context.mirrorStates.all().sorted { $0.key < $1.key }
        if !mirrors.isEmpty {
            lines += [
                "# HELP branch_mirror_lag_bytes Bytes of the source's WAL a mirror's main has not applied yet.",
                "# TYPE branch_mirror_lag_bytes gauge",
            ]
            lines += mirrors.compactMap { project, state in state.lagBytes.map { "branch_mirror_lag_bytes{project=\"\(project)\"} \($0)" } }
            lines += ["# HELP branch_mirror_following 1 if a mirror's subscription is applying the source's changes.", "# TYPE branch_mirror_following gauge"]
            lines += mirrors.map { project, state in "branch_mirror_following{project=\"\(project)\"} \(state.following && state.problem == nil ? 1 : 0)" }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func prometheusNumber(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(format: "%.3f", value)
    }
}
