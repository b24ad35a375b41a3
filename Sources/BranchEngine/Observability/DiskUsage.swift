import BranchBackup
import BranchCatalog
import BranchCore
import BranchStorage
import BranchSystem
package import Foundation

/// What uses the pool, by kind, in bytes on disk.
package struct PoolUsage: Sendable {
    /// One branch, snapshot or project WAL archive, as a candidate for freeing space.
    package struct Item: Sendable, Equatable {
        package enum Kind: String, Sendable { case branch, snapshot, wal }
        package var kind: Kind
        package var project: String
        /// The branch name or snapshot id (nil for a WAL archive).
        package var name: String?
        package var bytes: UInt64

        /// The command that frees it.
        package var command: String {
            switch kind {
            case .branch: "branch delete \(name ?? "") --project \(project)"
            case .snapshot: "branch snapshot delete \(name ?? "") --project \(project)"
            case .wal: "branch project set \(project) --retention 1d"
            }
        }
    }

    /// Bytes only branches, snapshots or templates hold (Btrfs quotas; nil without them). What
    /// they share with each other is in none of these.
    package var branches: UInt64?
    package var snapshots: UInt64?
    package var templates: UInt64?
    /// Archived WAL of every project, server logs, in-flight work (restores, verifications).
    package var wal: UInt64
    package var logs: UInt64
    package var work: UInt64
    /// Backups in a local directory target (nil for other targets), and whether that directory
    /// is on the pool's filesystem (then it takes the pool's space).
    package var backups: UInt64?
    package var backupsOnPool: Bool
    /// The largest branches, snapshots and WAL archives, largest first.
    package var largest: [Item]
    package var measuredAt: Date
}

/// The last measurement, so `branch status` and refusals do not walk directories each time.
actor DiskUsageCache {
    private var last: PoolUsage?
    private var refreshing: Task<PoolUsage, Never>?

    /// The cached usage when younger than `maxAge`, else a new measurement (one at a time: callers
    /// arriving meanwhile wait for the same one).
    func usage(maxAge: TimeInterval, measure: @escaping @Sendable () async -> PoolUsage) async -> PoolUsage {
        if let last, Date().timeIntervalSince(last.measuredAt) < maxAge { return last }
        if let refreshing { return await refreshing.value }
        let task = Task { await measure() }
        refreshing = task
        let usage = await task.value
        last = usage
        refreshing = nil
        return usage
    }
}

/// Measures what uses the pool and turns a lack of space into an answer that says what to free.
struct DiskUsage: EnginePart {
    let context: EngineContext

    /// How long a measurement is reused.
    static let maxAge: TimeInterval = 30

    func usage(maxAge: TimeInterval = DiskUsage.maxAge) async -> PoolUsage {
        await context.diskUsage.usage(maxAge: maxAge) { [self] in await measure() }
    }

    /// Throws `pool_full` before an operation that grows the pool when less than the reserve is
    /// free, with a hint naming the largest things that can be deleted and the commands.
    func requireSpaceToGrow() async throws {
        do {
            try storage.requireFreeSpace(configuration.freeSpaceReserve)
        } catch let error as StorageError where error.code == .poolFull {
            let usage = await usage(maxAge: 5)
            throw EngineError(.poolFull, error.message, hint: Self.hint(usage.largest))
        }
    }

    static func hint(_ largest: [PoolUsage.Item]) -> String {
        var hint = "Free space (deletes, reads and in-place restores still work)"
        if !largest.isEmpty {
            hint += "; the largest: " + largest.prefix(3).map { item in
                let what = item.kind == .wal ? "the WAL archive of \(item.project)" : "\(item.kind.rawValue) \(item.name ?? "") of \(item.project)"
                return "\(what), \(ByteCount.format(item.bytes)) (`\(item.command)`)"
            }.joined(separator: ", ")
        }
        return hint + ". Or restart the service with a larger --pool-size or a smaller --free-space-reserve."
    }

    private func measure() async -> PoolUsage {
        let layout = self.layout
        let (branches, snapshots, projects) = (try? await catalog.read { tx in (try tx.allBranches(), try tx.allSnapshots(), try tx.projects()) })
            ?? ([], [], [])
        let branchPaths = branches.map { (record: $0, path: layout.branch($0.project, $0.name)) }
        let snapshotPaths = snapshots.map { (record: $0, path: layout.snapshot($0.project, $0.id)) }
        let templatePaths = storage.subvolumes(in: layout.templates).map { "\(layout.templates)/\($0)" }
        let exclusive = await storage.exclusiveBytes(of: branchPaths.map(\.path) + snapshotPaths.map(\.path) + templatePaths)
        let quotas = !exclusive.isEmpty
        let projectNames = Array(Set(branches.map(\.project.rawValue)))
        let backupDirectory = (context.backupTarget as? DirectoryTarget)?.root
        // Directory walks, on a thread of their own (thousands of WAL segments and log files).
        typealias Walked = (wal: [String: UInt64], logs: UInt64, work: UInt64, backups: UInt64?, onPool: Bool)
        let walked: Walked = (try? await BlockingWork.run { () -> Walked in
            var wal: [String: UInt64] = [:]
            for project in projectNames { wal[project] = DirectorySize.allocatedBytes(under: "\(layout.projects)/\(project)/wal") }
            let backups = backupDirectory.map { DirectorySize.allocatedBytes(under: $0) }
            let onPool = backupDirectory.map { DirectorySize.sameFilesystem($0, layout.root) } ?? false
            return (wal, DirectorySize.allocatedBytes(under: layout.logs), DirectorySize.allocatedBytes(under: layout.work), backups, onPool)
        }) ?? ([:], 0, 0, nil, false)

        // Only branches whose `branch delete` would go through: not main, a checked-out or a protected one.
        let checkedOut = Set(projects.map { "\($0.name)/\($0.checkedOut)" })
        var items: [PoolUsage.Item] = branchPaths.filter { entry in
            entry.record.name != .main && !entry.record.protected && !checkedOut.contains("\(entry.record.project)/\(entry.record.name)")
        }.compactMap { entry in
            exclusive[entry.path].map { .init(kind: .branch, project: entry.record.project.rawValue, name: entry.record.name.rawValue, bytes: $0) }
        }
        items += snapshotPaths.compactMap { entry in
            exclusive[entry.path].map { .init(kind: .snapshot, project: entry.record.project.rawValue, name: entry.record.id, bytes: $0) }
        }
        items += walked.wal.map { .init(kind: .wal, project: $0.key, name: nil, bytes: $0.value) }
        items = items.filter { $0.bytes > 0 }.sorted { ($0.bytes, $0.project, $0.name ?? "") > ($1.bytes, $1.project, $1.name ?? "") }
        func sum(_ paths: [String]) -> UInt64? { quotas ? paths.reduce(0) { $0 + (exclusive[$1] ?? 0) } : nil }
        return PoolUsage(
            branches: sum(branchPaths.map(\.path)), snapshots: sum(snapshotPaths.map(\.path)), templates: sum(templatePaths),
            wal: walked.wal.values.reduce(0, +), logs: walked.logs, work: walked.work, backups: walked.backups,
            backupsOnPool: walked.onPool,
            largest: Array(items.prefix(5)), measuredAt: Date())
    }
}

extension EnginePart {
    var diskUsage: DiskUsage { DiskUsage(context: context) }
}
