import BranchAPI
import Foundation

/// What `/projects/{p}/backups` shows: snapshots, the two schedules and the backups with their
/// chains and last verification, and which buttons the signed-in user may press.
struct BackupsModel: Sendable {
    struct SnapshotRow: Sendable {
        var id: String
        var name: String?
        var label: String
        var kind: String
        var branch: String
        var created: String
        var age: String
        var size: String
        var retention: String
        var protected: Bool
        var baseOf: String?
        var restoreHref: String
        var diffHref: String
        var deleteAction: String
        var deleteCLI: String
        var mayDelete: Bool
        var pinned: Bool
        var pinAction: String
        var pinCLI: String
        var mayPin: Bool
    }

    struct ScheduleForm: Sendable {
        var kind: String
        var title: String
        var exists: Bool
        var expression: String
        var keepLast: Int
        var hourly: Int
        var daily: Int
        var weekly: Int
        var monthly: Int
        var next: String
        var last: String
        var action: String
        var offAction: String
        var cli: String
    }

    struct BackupRow: Sendable {
        var id: String
        var href: String
        var branch: String
        var kind: String
        var full: Bool
        var status: String
        var failed: Bool
        var error: String?
        var raw: String
        var stored: String
        var started: String
        var startedAge: String
        var duration: String
        var parent: String?
        var parentHref: String?
        var chain: String
        var target: String
        /// The fingerprint of the key it is encrypted with ("—" when not recorded); whether that is
        /// a key a rotation retired (the service still reads it), or a key the service does not
        /// hold at all (a restore then needs that key).
        var keyID: String
        var retiredKey: Bool
        var otherKey: Bool
        var verification: String?
        var verificationFailed: Bool
    }

    var project: String
    var branch: String
    var filtered: Bool
    var allHref: String
    var showBase: Bool
    var baseToggleHref: String
    var hiddenBase: Int
    var branches: [Option]
    var snapshots: [SnapshotRow]
    var noSnapshots: Bool
    var schedules: [ScheduleForm]
    var backups: [BackupRow]
    var noBackups: Bool
    /// The fingerprint of the key new backups are encrypted with.
    var serviceKey: String?
    var projectVerification: String?
    var projectVerificationFailed: Bool
    var mayWrite: Bool
    var mayOwn: Bool
    var isAdmin: Bool
    var snapshotAction: String
    var snapshotCLI: String
    var backupAction: String
    var backupCLI: String
    var error: String?

    struct Option: Sendable {
        var value: String
        var selected: Bool
    }
}

/// Turning API answers into rows: sizes, ages, chains and retention in the console's words.
enum BackupsRows {
    static func snapshot(_ snapshot: Components.Schemas.SnapshotInfo, project: String, mayWrite: Bool) -> BackupsModel.SnapshotRow {
        let base = "/projects/\(ConsolePath.segment(project))"
        let reference = snapshot.name ?? snapshot.id
        let retention: String
        switch snapshot.kind {
        case _ where snapshot.pinned: retention = "pinned: kept whatever the schedule's rules"
        case "automatic": retention = "pruned by the schedule's rules"
        case "pre-restore": retention = "kept until deleted (undo point)"
        default: retention = "kept until deleted"
        }
        let protected = !snapshot.baseOf.isEmpty
        return .init(
            id: snapshot.id, name: snapshot.name, label: snapshot.name.map { "\($0) (\(snapshot.id))" } ?? snapshot.id, kind: snapshot.kind,
            branch: snapshot.sourceBranch, created: Formatting.utc(snapshot.createdAt), age: Formatting.age(snapshot.createdAt),
            size: Formatting.bytes(snapshot.exclusiveBytes), retention: retention, protected: protected,
            baseOf: protected ? snapshot.baseOf.joined(separator: ", ") : nil,
            restoreHref: "\(base)/restore?restore=" + FormFields.encode("snapshot:\(snapshot.id)"),
            diffHref: "\(base)/diff?from=\(FormFields.encode(snapshot.id))&to=\(FormFields.encode(snapshot.sourceBranch))",
            deleteAction: "\(base)/backups/snapshots/\(ConsolePath.segment(snapshot.id))/delete",
            deleteCLI: "branch snapshot delete \(reference) --project \(project)", mayDelete: mayWrite && !protected,
            pinned: snapshot.pinned, pinAction: "\(base)/backups/snapshots/\(ConsolePath.segment(snapshot.id))/pin",
            pinCLI: "branch snapshot pin \(reference)\(snapshot.pinned ? " --off" : "") --project \(project)", mayPin: mayWrite)
    }

    static func schedule(kind: String, _ info: Components.Schemas.ScheduleInfo?, project: String) -> BackupsModel.ScheduleForm {
        let base = "/projects/\(ConsolePath.segment(project))/backups/schedules/\(kind)"
        let expression = info?.expression ?? (kind == "snapshot" ? "0 * * * *" : "0 3 * * *")
        let keepLast = info?.keepLast ?? 3, hourly = info?.hourly ?? 24, daily = info?.daily ?? 7
        let weekly = info?.weekly ?? 4, monthly = info?.monthly ?? 0
        return .init(
            kind: kind, title: kind == "snapshot" ? "Snapshot schedule" : "Backup schedule", exists: info != nil, expression: expression,
            keepLast: keepLast, hourly: hourly, daily: daily, weekly: weekly, monthly: monthly,
            next: info.map { $0.enabled ? ($0.nextRunAt.map(Formatting.utc) ?? "—") : "off" } ?? "no schedule",
            last: info?.lastRunAt.map { Formatting.age($0) } ?? "never", action: base, offAction: base + "/off",
            cli: scheduleCLI(kind: kind, expression: expression, keepLast: keepLast, hourly: hourly, daily: daily, weekly: weekly, monthly: monthly, project: project))
    }

    static func scheduleCLI(kind: String, expression: String, keepLast: Int, hourly: Int, daily: Int, weekly: Int, monthly: Int, project: String) -> String {
        "branch schedule set \(kind) --cron '\(expression)' --keep-last \(keepLast) --hourly \(hourly) --daily \(daily) --weekly \(weekly) --monthly \(monthly) --project \(project)"
    }

    static func backups(
        _ list: [Components.Schemas.BackupInfo], verification: Components.Schemas.BackupVerification?, project: String, keys: ServiceKeys
    ) -> [BackupsModel.BackupRow] {
        let byID = Dictionary(list.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        return list.sorted { $0.startedAt > $1.startedAt }.map { backup in
            let verified = verification.flatMap { $0.backup == backup.id ? $0 : nil }
            return row(backup, chain: chain(of: backup, in: byID), verification: verified, project: project, keys: keys)
        }
    }

    static func row(
        _ backup: Components.Schemas.BackupInfo, chain: [String], verification: Components.Schemas.BackupVerification?, project: String,
        keys: ServiceKeys
    ) -> BackupsModel.BackupRow {
        let base = "/projects/\(ConsolePath.segment(project))/backups/"
        let duration = backup.finishedAt.map { String(format: "%.1f s", $0.timeIntervalSince(backup.startedAt)) } ?? "running"
        let chainText = chain.count <= 1 ? "full" : "\(chain.count) backups: full \(chain.first ?? "") → … → this"
        return .init(
            id: backup.id, href: base + ConsolePath.segment(backup.id), branch: backup.branch, kind: backup.kind, full: backup.parentID == nil,
            status: backup.status, failed: backup.status == "failed", error: backup.error, raw: Formatting.bytes(backup.rawBytes),
            stored: Formatting.bytes(backup.storedBytes), started: Formatting.utc(backup.startedAt), startedAge: Formatting.age(backup.startedAt), duration: duration, parent: backup.parentID,
            parentHref: backup.parentID.map { base + ConsolePath.segment($0) }, chain: chainText, target: backup.target,
            keyID: backup.keyID ?? "—", retiredKey: backup.keyID.map(keys.retired.contains) ?? false,
            otherKey: backup.keyID.map { $0 != keys.current && !keys.retired.contains($0) } ?? false,
            verification: verification.map { "\($0.ok ? "restored OK" : "FAILED") \(Formatting.age($0.at)) in \(String(format: "%.1f s", $0.durationMs / 1000))\($0.error.map { ": \($0)" } ?? "")" },
            verificationFailed: verification.map { !$0.ok } ?? false)
    }

    /// The backups a restore of `backup` needs, full first.
    static func chain(of backup: Components.Schemas.BackupInfo, in byID: [String: Components.Schemas.BackupInfo]) -> [String] {
        var chain = [backup.id]
        var current = backup
        while let parent = current.parentID, !chain.contains(parent) {
            chain.insert(parent, at: 0)
            guard let next = byID[parent] else { break }
            current = next
        }
        return chain
    }
}

/// The keys the service reads backups with, from `GET /backups`: its current key and the ones a
/// rotation retired.
struct ServiceKeys: Sendable {
    var current: String?
    var retired: Set<String>

    init(_ list: Components.Schemas.BackupList) {
        current = list.keyID
        retired = Set(list.retiredKeyIDs ?? [])
    }
}
