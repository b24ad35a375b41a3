import BranchBackup
import BranchCatalog
import BranchCore
import Foundation
import Logging

extension Scheduler {
    /// Backs up the project's checked-out branch, prunes its backups, and reports to the webhook.
    func runBackupSchedule(_ schedule: ScheduleRecord) async {
        guard let project = try? await catalog.project(schedule.project), project.state == .ready,
            let branch = try? await catalog.branch(project.name, project.checkedOut)
        else { return }
        let id = Backups.newBackupID()
        let job = await context.jobs.run(id: id, kind: .backupCreate, project: project.name.rawValue) { progress in
            .backup(BackupSummary(try await backups.run(id: id, project: project, branch: branch, progress: progress)))
        }
        if case .backup(let backup)? = job.outcome, job.status == .succeeded {
            await pruneBackups(schedule)
            notify(schedule, event: "backup.succeeded", backup: backup, error: nil)
        } else {
            logger.error("scheduled backup failed", metadata: ["project": "\(project.name)", "error": "\(job.error?.message ?? "unknown")"])
            notify(schedule, event: "backup.failed", backup: nil, error: job.error?.message ?? "unknown error")
            await context.alert(AlertEvent(
                .backupFailed, severity: .critical, project: project.name.rawValue, branch: branch.name.rawValue,
                title: "Scheduled backup of \(project.name) failed",
                detail: "\(job.error?.message ?? "unknown error"). Run `branch backup create -p \(project.name)` to see why and retry."))
        }
    }

    /// Deletes backups the schedule's policy no longer keeps, never one a kept backup builds on.
    func pruneBackups(_ schedule: ScheduleRecord, now: Date = Date()) async {
        guard let backups = try? await catalog.read({ try $0.backups(schedule.project) }).filter({ $0.status == .complete }) else { return }
        let policy = RetentionPolicy(
            keepLast: schedule.keepLast, hourly: schedule.hourly, daily: schedule.daily, weekly: schedule.weekly, monthly: schedule.monthly)
        for branch in Set(backups.map(\.branch)) {
            let own = backups.filter { $0.branch == branch }
            var keep = policy.keep(own.map { ($0.id, $0.startedAt) }, now: now)
            for id in keep {
                var parent = own.first { $0.id == id }?.parentID
                while let current = parent {
                    keep.insert(current)
                    parent = own.first { $0.id == current }?.parentID
                }
            }
            for backup in own.sorted(by: { $0.startedAt > $1.startedAt }) where !keep.contains(backup.id) {
                do {
                    _ = try await self.backups.delete(backup.id)
                } catch {
                    logger.warning("could not prune backup", metadata: ["backup": "\(backup.id)", "error": "\(error)"])
                }
            }
        }
    }

    /// Posts the webhook in the background: its retries (up to 21 s) hold up no schedule.
    func notify(_ schedule: ScheduleRecord, event: String, backup: BackupSummary?, error: String?) {
        guard let url = schedule.webhookURL else { return }
        var json = ["event": event, "project": schedule.project.rawValue, "service": configuration.publicHost]
        if let backup {
            json["backup"] = backup.id
            json["branch"] = backup.branch
            json["kind"] = backup.kind.rawValue
            json["rawBytes"] = String(backup.rawBytes)
            json["storedBytes"] = String(backup.storedBytes)
            json["durationSeconds"] = String(format: "%.1f", (backup.finishedAt ?? Date()).timeIntervalSince(backup.startedAt))
        }
        if let error { json["error"] = error }
        let slack = schedule.webhookSlack
            ? (backup.map { "Branch backup of \(schedule.project)/\($0.branch) succeeded: \($0.kind), \(ByteCount.format($0.storedBytes)) stored (\($0.id))." }
                ?? "Branch backup of \(schedule.project) FAILED: \(json["error"] ?? "unknown error")")
            : nil
        context.notifications.post(url: url, json: json, slackText: slack, event: event)
    }
}
