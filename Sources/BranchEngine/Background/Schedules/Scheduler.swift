import BranchBackup
import BranchCatalog
import BranchCore
import BranchPostgres
import BranchRuntime
import BranchStorage
import Foundation
import Logging

/// Snapshot and backup schedules: cron expressions with GFS retention, per project.
package struct Scheduler: EnginePart {
    let context: EngineContext

    /// The schedule every new project gets: a snapshot of each running branch every hour, kept
    /// as the last 3, hourly for a day, daily for a week, weekly for a month.
    static func defaultSnapshotSchedule(_ project: ResourceName) -> ScheduleRecord {
        ScheduleRecord(
            project: project, kind: .snapshot, expression: "0 * * * *", enabled: true, keepLast: 3, hourly: 24, daily: 7, weekly: 4,
            monthly: 0, lastRunAt: nil, webhookURL: nil, webhookSlack: false)
    }

    package func list(project projectName: String) async throws -> [ScheduleView] {
        let records = try await catalog.read { tx in
            let project = try tx.requireProject(projectName)
            return [try tx.schedule(project.name, .snapshot), try tx.schedule(project.name, .backup)].compactMap { $0 }
        }
        return records.map(view)
    }

    /// Creates or replaces a project's snapshot or backup schedule.
    package func set(project projectName: String, kind rawKind: String, _ request: ScheduleChange) async throws -> ScheduleView {
        guard let kind = ScheduleKind(rawValue: rawKind) ?? ScheduleKind(rawValue: String(rawKind.dropLast())) else {
            throw EngineError.invalidRequest("There are snapshot and backup schedules, not '\(rawKind)'.")
        }
        do {
            _ = try CronSchedule(parsing: request.expression)
        } catch {
            throw EngineError.invalidRequest(error.description, hint: "Use cron fields like '0 * * * *', a macro like @daily, or @every 30m.")
        }
        if let url = request.webhookURL, URL(string: url)?.scheme.map({ ["http", "https"].contains($0) }) != true {
            throw EngineError.invalidRequest("The webhook must be an http:// or https:// URL.")
        }
        let policy = [request.keepLast, request.hourly, request.daily, request.weekly, request.monthly].compactMap { $0 }
        if policy.contains(where: { $0 < 0 }) { throw EngineError.invalidRequest("Retention counts cannot be negative.") }
        let projectKey = try ResourceName(validating: projectName, kind: "project name")
        return try await context.withProjectLock(projectKey.rawValue, checking: { tx in try tx.requireProject(projectName) }) { project in
            let record = try await catalog.write { tx -> ScheduleRecord in
                let existing = try tx.schedule(project.name, kind)
                let defaults = Self.defaultSnapshotSchedule(project.name)
                let record = ScheduleRecord(
                    project: project.name, kind: kind, expression: request.expression, enabled: request.enabled ?? true,
                    keepLast: request.keepLast ?? existing?.keepLast ?? defaults.keepLast, hourly: request.hourly ?? existing?.hourly ?? defaults.hourly,
                    daily: request.daily ?? existing?.daily ?? defaults.daily, weekly: request.weekly ?? existing?.weekly ?? defaults.weekly,
                    monthly: request.monthly ?? existing?.monthly ?? defaults.monthly, lastRunAt: existing?.lastRunAt ?? Date(),
                    webhookURL: request.webhookURL ?? existing?.webhookURL, webhookSlack: request.webhookSlack ?? existing?.webhookSlack ?? false)
                try tx.save(record)
                return record
            }
            return view(record)
        }
    }

    package func delete(project projectName: String, kind rawKind: String) async throws -> [ScheduleView] {
        guard let kind = ScheduleKind(rawValue: rawKind) ?? ScheduleKind(rawValue: String(rawKind.dropLast())) else {
            throw EngineError.invalidRequest("There are snapshot and backup schedules, not '\(rawKind)'.")
        }
        let project = try await catalog.read { try $0.requireProject(projectName) }
        try await catalog.write { try $0.deleteSchedule(project.name, kind) }
        return try await list(project: projectName)
    }

    func view(_ record: ScheduleRecord) -> ScheduleView {
        let next = (try? CronSchedule(parsing: record.expression)).map { $0.next(after: record.lastRunAt ?? Date()) }
        return ScheduleView(record: record, nextRunAt: record.enabled ? next : nil)
    }

    /// The schedules due at `now`, each marked as run (so a slow run is not started twice).
    func claimDue(now: Date) async -> [ScheduleRecord] {
        guard let schedules = try? await catalog.read({ try $0.schedules() }) else { return [] }
        var due: [ScheduleRecord] = []
        for var schedule in schedules where schedule.enabled {
            guard let cron = try? CronSchedule(parsing: schedule.expression) else { continue }
            let last = schedule.lastRunAt ?? now
            guard cron.next(after: last) <= now else {
                if schedule.lastRunAt == nil {
                    schedule.lastRunAt = now
                    try? await catalog.write { [schedule] in try $0.save(schedule) }
                }
                continue
            }
            schedule.lastRunAt = now
            try? await catalog.write { [schedule] in try $0.save(schedule) }
            due.append(schedule)
        }
        return due
    }

    /// Runs one due schedule.
    func run(_ schedule: ScheduleRecord) async {
        switch schedule.kind {
        case .snapshot: await runSnapshotSchedule(schedule)
        case .backup: await runBackupSchedule(schedule)
        }
    }

    /// Snapshots every running branch of the project, then prunes its automatic snapshots.
    func runSnapshotSchedule(_ schedule: ScheduleRecord) async {
        guard let branches = try? await catalog.branches(schedule.project) else { return }
        for branch in branches where branch.state == .ready && !branch.suspended && servers.isRunning(branch) {
            do {
                _ = try await context.withProjectLock(branch.project.rawValue) {
                    try await journal.run("snapshot.scheduled", project: branch.project, target: branch.name.rawValue) { op in
                        try await snapshots.take(of: branch, kind: .automatic, name: nil, op: op)
                    }
                }
            } catch {
                logger.error("scheduled snapshot failed", metadata: ["branch": "\(Activity.key(branch))", "error": "\(error)"])
            }
        }
        await pruneAutomaticSnapshots(schedule)
    }

    /// Deletes automatic snapshots the schedule's policy no longer keeps, except those something
    /// still needs (see `protectedSnapshots`).
    func pruneAutomaticSnapshots(_ schedule: ScheduleRecord, now: Date = Date()) async {
        let policy = RetentionPolicy(
            keepLast: schedule.keepLast, hourly: schedule.hourly, daily: schedule.daily, weekly: schedule.weekly, monthly: schedule.monthly)
        guard let snapshots = try? await catalog.snapshots(schedule.project), let protected = try? await protectedSnapshots(schedule.project, now: now)
        else { return }
        // A pinned snapshot counts for nothing here: it is kept, and takes no other's place.
        let automatic = snapshots.filter { $0.kind == .automatic && $0.state == .ready && !$0.pinned }
        for branch in Set(automatic.map(\.sourceBranch)) {
            let own = automatic.filter { $0.sourceBranch == branch }
            let keep = policy.keep(own.map { ($0.id, $0.createdAt) }, now: now)
            for snapshot in own where !keep.contains(snapshot.id) && !protected.contains(snapshot.id) {
                do {
                    try await context.withProjectLock(schedule.project.rawValue) {
                        try await storage.deleteSubvolume(at: layout.snapshot(snapshot.project, snapshot.id))
                        try await catalog.write { try $0.deleteSnapshot(snapshot.id) }
                    }
                } catch {
                    logger.error("could not prune snapshot", metadata: ["snapshot": "\(snapshot.id)", "error": "\(error)"])
                }
            }
        }
    }

    /// Snapshots retention must not delete: branches' bases, the starting snapshot of every
    /// lineage, the anchor of each lineage's point-in-time window, and each branch's newest
    /// backed-up snapshot (the parent of its next incremental backup).
    func protectedSnapshots(_ project: ResourceName, now: Date = Date()) async throws -> Set<String> {
        let (record, branches, lineages, snapshots, backups) = try await catalog.read { tx in
            (try tx.project(project), try tx.branches(project), try tx.lineages(project), try tx.snapshots(project), try tx.backups(project))
        }
        var protected = Set(branches.compactMap(\.baseSnapshot))
        protected.formUnion(lineages.compactMap(\.startSnapshot))
        let horizon = now.addingTimeInterval(-Double(record?.retentionDays ?? configuration.retentionDays) * 86400)
        for lineage in lineages {
            if let anchor = PointInTime.anchor(lineage, snapshots: snapshots, horizon: horizon) { protected.insert(anchor.id) }
        }
        for branch in branches {
            if let newest = backups.filter({ $0.branch == branch.name && $0.status == .complete }).max(by: { $0.startedAt < $1.startedAt }) {
                protected.insert(newest.snapshotID)
            }
        }
        return protected
    }
}
