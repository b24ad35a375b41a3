import BranchCatalog
import BranchCore
import BranchSystem
import BranchPostgres
import BranchRuntime
import BranchStorage
import Foundation

/// How a point-in-time branch is made: replay this archive, up to this instant.
struct Recovery: Sendable {
    /// Host path of the source lineage's WAL archive.
    let restoreWal: String
    /// Where to stop: after an instant's commits, or just before the record at a WAL position
    /// (see `WALArchive.Target`); nil replays the whole archive.
    let target: PastPoint?

    /// The target as Postgres's recovery settings take it.
    var recoveryTarget: WALArchive.Target? {
        switch target {
        case .instant(let date)?: .time(PointInTime.postgresTimestamp(date))
        case .position(let position)?: .position(position.description)
        case nil: nil
        }
    }
}

/// Point in time: branches re-created at an instant by replaying a lineage's archived WAL from
/// the newest snapshot before it.
struct PointInTime: EnginePart {
    let context: EngineContext

    /// Where a point-in-time branch of `source` at `point` starts (see the instant's and the WAL
    /// position's own functions).
    func source(_ source: BranchRecord, at point: PastPoint) async throws -> (LineageRecord, SnapshotRecord) {
        switch point {
        case .instant(let instant): try await self.source(source, at: instant)
        case .position(let position): try await self.source(source, at: position)
        }
    }

    /// Where a point-in-time branch of `source` at a WAL position starts. Positions are of the
    /// branch's current history (a restore in place begins a new one, whose positions go on from
    /// the restored snapshot's and so repeat earlier ones): its lineage, and the newest snapshot
    /// of it whose checkpoint is at or before the position (read from the snapshot's pg_control).
    func source(_ source: BranchRecord, at position: WALPosition) async throws -> (LineageRecord, SnapshotRecord) {
        let (lineages, snapshots) = try await catalog.read { tx in
            (try tx.lineages(source.project, branch: source.name), try tx.snapshots(source.project))
        }
        guard let lineage = lineages.first(where: { $0.id == source.lineage && $0.endedAt == nil }) else {
            throw EngineError(.pointNotRestorable, "Branch '\(source.name)' has no WAL history to replay.", hint: "Re-create it at an instant instead (--at 2026-11-21T10:00:00Z).")
        }
        let spec = servers.spec(source)
        if runtime.state(spec).isRunning,
            let now = try? await withConnection(spec.superuserConnection, { try await $0.query("SELECT pg_current_wal_lsn()::text").scalar }),
            let current = WALPosition(now), position > current
        {
            throw EngineError.invalidRequest(
                "WAL position \(position) is ahead of branch '\(source.name)', which is at \(current).",
                hint: "Use a position it has reached: SELECT pg_current_wal_lsn() on the branch.")
        }
        let candidates = snapshots.filter { snapshot in
            snapshot.state == .ready && snapshot.walStart != nil && (snapshot.lineage == lineage.id || snapshot.id == lineage.startSnapshot)
        }.sorted { $0.createdAt > $1.createdAt }
        var oldest: WALPosition?
        for snapshot in candidates {
            guard let checkpoint = await checkpoint(of: snapshot) else { continue }
            if checkpoint <= position { return (lineage, snapshot) }
            oldest = min(oldest ?? checkpoint, checkpoint)
        }
        throw EngineError(
            .pointNotRestorable, "Branch '\(source.name)' cannot be re-created at WAL position \(position).",
            hint: oldest.map { "The earliest position of its current history that can be restored is \($0)." }
                ?? "It has no snapshot to replay from yet.")
    }

    /// The checkpoint a snapshot's data starts from (`pg_controldata`'s "Latest checkpoint
    /// location"): replay from the snapshot can stop at any later position.
    func checkpoint(of snapshot: SnapshotRecord) async -> WALPosition? {
        let data = PoolLayout.dataDirectory(in: layout.snapshot(snapshot.project, snapshot.id))
        return await installation.controlData("Latest checkpoint location", in: data).flatMap(WALPosition.init)
    }

    /// Where a point-in-time branch of `source` at `instant` starts: the lineage that held the
    /// branch's history then, and the newest snapshot of that history at or before the instant.
    func source(_ source: BranchRecord, at instant: Date) async throws -> (LineageRecord, SnapshotRecord) {
        guard instant <= Date() else { throw EngineError.invalidRequest("\(Self.format(instant)) is in the future.") }
        let (lineages, snapshots) = try await catalog.read { tx in
            (try tx.lineages(source.project, branch: source.name), try tx.snapshots(source.project))
        }
        let earliest = earliestRestorable(source, lineages: lineages, snapshots: snapshots)
        guard let lineage = lineages.first(where: { $0.startedAt <= instant && ($0.endedAt.map { instant < $0 } ?? true) }) else {
            throw Self.notRestorable(source, instant, earliest: earliest)
        }
        let candidates = snapshots.filter { snapshot in
            snapshot.state == .ready && snapshot.walStart != nil && snapshot.createdAt <= instant
                && (snapshot.lineage == lineage.id || snapshot.id == lineage.startSnapshot)
        }
        guard let snapshot = candidates.max(by: { $0.createdAt < $1.createdAt }) else {
            throw Self.notRestorable(source, instant, earliest: earliest)
        }
        return (lineage, snapshot)
    }

    static func notRestorable(_ branch: BranchRecord, _ instant: Date, earliest: Date?) -> EngineError {
        EngineError(
            .pointNotRestorable, "Branch '\(branch.name)' cannot be re-created at \(format(instant)).",
            hint: earliest.map { "The earliest point that can be restored is \(format($0)); the latest is now." }
                ?? "It has no snapshot to replay from yet.")
    }

    /// The earliest instant a branch can be re-created at: the oldest snapshot still available
    /// (with its WAL) in each lineage, the earliest of those.
    func earliestRestorable(_ branch: BranchRecord, lineages: [LineageRecord], snapshots: [SnapshotRecord]) -> Date? {
        var earliest: Date?
        for lineage in lineages {
            let usable = snapshots.filter {
                $0.state == .ready && $0.walStart != nil && ($0.lineage == lineage.id || $0.id == lineage.startSnapshot)
            }
            guard let oldest = usable.map(\.createdAt).min() else { continue }
            let from = max(oldest, lineage.startedAt)
            if lineage.endedAt.map({ from < $0 }) ?? true { earliest = min(earliest ?? from, from) }
        }
        return earliest
    }

    /// Makes sure every WAL record written so far is in the archive: switch to a new segment and
    /// wait until the one just completed has been archived. The whole wait, the switch included, is
    /// bounded: on a full disk the switch's WAL write can stall, and a caller must get an answer.
    func archiveCurrentWAL(of branch: BranchRecord) async throws {
        let spec = servers.spec(branch)
        guard runtime.state(spec).isRunning, let wal = spec.walDirectory else { return }
        let deadline = ContinuousClock.now + .seconds(30)
        let switched: String?
        do {
            switched = try await withConnection(spec.superuserConnection) {
                try await $0.query("SELECT pg_walfile_name(pg_switch_wal())", timeout: deadline - ContinuousClock.now).scalar
            }
        } catch let error as PostgresError where error.code == .postgresQueryTimeout {
            throw EngineError(
                .walArchivingBehind, "'\(branch.name)' did not switch to a new WAL segment within 30 s.",
                hint: "Check the pool's free space (`branch status`) and the branch's log (`branch logs \(branch.name)`).")
        }
        guard let segment = switched else { return }
        while ContinuousClock.now < deadline {
            if Files.exists("\(wal)/\(segment).zst") { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw EngineError(
            .walArchivingBehind, "WAL segment \(segment) of '\(branch.name)' was not archived within 30 s.",
            hint: "See the branch's log (`branch logs \(branch.name)`) for archive_command errors.")
    }

    /// Starts a new branch's server in archive recovery from `recovery`, waits for it to reach
    /// the target and promote, then snapshots the result as the branch's base and its lineage's
    /// start. When no transaction follows the target in the archive, Postgres refuses to stop
    /// there; replaying the whole archive then gives the same state, so that is done instead.
    func recover(
        _ branch: inout BranchRecord, project: ProjectRecord, recovery: Recovery, replayFrom basePath: String, op: OperationContext
    ) async throws {
        let spec = servers.spec(branch, project: project, restoreWal: recovery.restoreWal)
        let paths = runtime.serverPaths(spec)
        var target = recovery.recoveryTarget
        while true {
            try servers.prepareClone(dataDirectory: spec.dataDirectory, branch: branch, project: project)
            let settings = WALArchive.recoverySettings(
                restoreDirectory: paths.restoreWalDirectory ?? recovery.restoreWal, scriptDirectory: paths.scriptDirectory ?? layout.scripts,
                target: target)
            try Files.writeAtomically(settings, to: "\(spec.dataDirectory)/\(WALArchive.recoveryConfigName)", mode: 0o600, owner: ClusterFiles.superuser)
            try Files.writeAtomically("", to: "\(spec.dataDirectory)/recovery.signal", mode: 0o600, owner: ClusterFiles.superuser)
            do {
                try await op.step(target == nil ? "replay all WAL" : "replay WAL") {
                    try await servers.start(branch, restoreWal: recovery.restoreWal, timeout: configuration.recoveryTimeout)
                    await FaultInjection.point("branch.create-at.after-start")
                    try await waitForPromotion(spec)
                }
                break
            } catch {
                let log = LogFiles.tail(in: spec.logDirectory, lines: 80)
                guard target != nil, log.contains("recovery ended before configured recovery target was reached") else { throw error }
                try? await runtime.stop(spec)
                try await storage.deleteSubvolume(at: spec.subvolume)
                try await storage.snapshot(from: basePath, to: spec.subvolume, readOnly: false)
                target = nil
            }
        }
        try Files.remove("\(spec.dataDirectory)/\(WALArchive.recoveryConfigName)")
        if try await catalog.isMirror(branch.project), let project = try await catalog.project(branch.project) {
            try await servers.detachFromMirror(branch, project: project)
        }

        // The state at the target becomes the branch's base and its lineage's starting point.
        var base = SnapshotRecord(
            id: try await snapshots.unusedID(), project: branch.project, name: nil, sourceBranch: branch.name, kind: .base,
            state: .ready, createdAt: Date(), operationID: op.id)
        base.lineage = branch.lineage
        let basePathAfter = layout.snapshot(branch.project, base.id)
        try await servers.checkpointIfRunning(branch)
        op.onFailure("delete base snapshot") { try await storage.deleteSubvolume(at: basePathAfter) }
        try await storage.snapshot(from: spec.subvolume, to: basePathAfter, readOnly: true)
        await FaultInjection.point("branch.create-at.after-base-snapshot")
        base.walStart = await lineages.walStart(of: branch)
        branch.baseSnapshot = base.id
        let lineageID = branch.lineage
        try await catalog.write { [branch, base] tx in
            try tx.insert(base)
            try tx.update(branch)
            if let lineageID, var lineage = try tx.lineage(lineageID) {
                lineage.startSnapshot = base.id
                try tx.update(lineage)
            }
        }
        op.onFailure("remove base row") { try await catalog.write { [base] tx in try tx.deleteSnapshot(base.id) } }
    }

    /// Polls until the server has left recovery; fails if it stopped instead.
    func waitForPromotion(_ spec: ServerSpec) async throws {
        let deadline = ContinuousClock.now + configuration.recoveryTimeout
        while ContinuousClock.now < deadline {
            if !runtime.state(spec).isRunning {
                throw PostgresError(.postgresStartFailed, "Postgres stopped during recovery: \(LogFiles.tail(in: spec.logDirectory, lines: 5))")
            }
            let inRecovery = try? await withConnection(spec.superuserConnection) { try await $0.query("SELECT pg_is_in_recovery()").scalar }
            if inRecovery == "f" { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw PostgresError(.postgresStartFailed, "Recovery did not finish within \(configuration.recoveryTimeout).")
    }

    /// `2026-11-21 10:15:30.000000+00`, what recovery_target_time expects.
    static func postgresTimestamp(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss.SSSSSS"
        return formatter.string(from: date) + "+00"
    }

    /// `2026-11-21T10:15:30Z`, for messages.
    static func format(_ date: Date) -> String {
        ISO8601DateFormatter().string(from: date)
    }
}
