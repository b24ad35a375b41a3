package import BranchCatalog
package import BranchCore

/// The backup schedule every new project gets (unless `--no-backups`, or `--no-default-backups`
/// for the instance): one backup a day at a quiet hour, kept grandfather-father-son.
package enum DefaultBackupSchedule {
    /// Backups start at 03:00 UTC plus `offsetMinutes(for:)`, so fifty projects do not all read
    /// their data, compress and upload at the same minute.
    package static let quietHour = 3
    /// The spread of start times: 03:00 to 04:59 UTC.
    package static let spreadMinutes = 120
    /// Kept: the newest, one a day for 7 days, one a week for 4 weeks, one a month for 6 months.
    package static let retention = RetentionPolicy(keepLast: 1, hourly: 0, daily: 7, weekly: 4, monthly: 6)

    /// A stable offset in `0..<spreadMinutes` from the project's name (FNV-1a): the same on every
    /// start and machine, different across most projects.
    package static func offsetMinutes(for project: String) -> Int {
        var hash: UInt32 = 2_166_136_261
        for byte in project.utf8 {
            hash ^= UInt32(byte)
            hash = hash &* 16_777_619
        }
        return Int(hash % UInt32(spreadMinutes))
    }

    /// The cron expression of the project's daily backup, e.g. `17 4 * * *`.
    package static func expression(for project: String) -> String {
        let minutes = quietHour * 60 + offsetMinutes(for: project)
        return "\(minutes % 60) \(minutes / 60) * * *"
    }

    /// The schedule record for `project`, enabled, with no webhook: failures raise a
    /// `backup_failed` alert (`branch events`, the alert channels).
    package static func record(for project: ResourceName) -> ScheduleRecord {
        ScheduleRecord(
            project: project, kind: .backup, expression: expression(for: project.rawValue), enabled: true, keepLast: retention.keepLast,
            hourly: retention.hourly, daily: retention.daily, weekly: retention.weekly, monthly: retention.monthly, lastRunAt: nil,
            webhookURL: nil, webhookSlack: false)
    }
}
