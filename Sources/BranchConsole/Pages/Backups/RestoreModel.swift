import BranchAPI
import Foundation

/// What a restore goes back to: a snapshot, a backup, or a branch at an instant.
struct RestoreTarget: Sendable {
    enum Kind: String, Sendable { case snapshot, backup, instant }

    var kind: Kind
    /// The form's `target`: `snapshot:ID`, `backup:ID` or `at:ISO`.
    var reference: String
    /// The id, or the instant as given.
    var id: String
    var label: String
    var branch: String?
    var created: String
    var detail: String
    /// The diff API's name for this point (`ID`, `backup:ID`, `BRANCH@ISO`).
    var diffSide: String
    var suggestedName: String

    static func resolve(query: FormFields, project: String, environment: ConsoleEnvironment) async throws -> RestoreTarget {
        if let iso = query.text("restore_at") {
            guard let instant = Formatting.instant(iso) else {
                throw ConsoleFailure(status: 400, code: "invalid_request", message: "\(iso) is not an ISO 8601 instant.")
            }
            let branch = query.text("branch") ?? "main"
            let canonical = ISO8601DateFormatter().string(from: instant)
            return .init(
                kind: .instant, reference: "at:\(canonical)", id: canonical, label: "\(branch) at \(Formatting.utc(instant))", branch: branch,
                created: Formatting.utc(instant), detail: "The branch as it was at this instant, replayed from its archived WAL.",
                diffSide: "\(branch)@\(canonical)", suggestedName: "\(branch)-at-\(stamp(instant))")
        }
        let restore = query.text("restore") ?? ""
        let parts = restore.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { throw ConsoleFailure.notFound("Restore point \(restore)") }
        switch parts[0] {
        case "snapshot":
            let snapshots = try await environment.call("listSnapshots", project: project) {
                try await $0.listSnapshots(.init(path: .init(project: project))).ok.body.json.snapshots
            }
            guard let snapshot = snapshots.first(where: { $0.id == parts[1] || $0.name == parts[1] }) else { throw ConsoleFailure.notFound("Snapshot \(parts[1])") }
            return .init(
                kind: .snapshot, reference: "snapshot:\(snapshot.id)", id: snapshot.id,
                label: "snapshot \(snapshot.name.map { "\($0) (\(snapshot.id))" } ?? snapshot.id)", branch: snapshot.sourceBranch,
                created: Formatting.utc(snapshot.createdAt),
                detail: "A \(snapshot.kind) snapshot of \(snapshot.sourceBranch), \(Formatting.age(snapshot.createdAt)), \(Formatting.bytes(snapshot.exclusiveBytes)) of its own.",
                diffSide: snapshot.id, suggestedName: "\(snapshot.sourceBranch)-restored-\(snapshot.id)")
        case "backup":
            let list = try await BackupDetailPage.backups(of: project, environment: environment)
            guard let backup = list.backups.first(where: { $0.id == parts[1] }) else { throw ConsoleFailure.notFound("Backup \(parts[1])") }
            return .init(
                kind: .backup, reference: "backup:\(backup.id)", id: backup.id, label: "backup \(backup.id)", branch: backup.branch,
                created: Formatting.utc(backup.startedAt),
                detail: "A \(backup.kind) backup of \(backup.branch) (\(backup.status)), \(Formatting.bytes(backup.storedBytes)) stored in \(backup.target).",
                diffSide: "backup:\(backup.id)", suggestedName: "\(backup.branch)-from-backup")
        default:
            throw ConsoleFailure.notFound("Restore point \(restore)")
        }
    }

    static func stamp(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd-HHmm"
        return formatter.string(from: date)
    }
}

/// The restore page: the target, its diff against now, and the modes this target offers.
struct RestoreModel: Sendable {
    struct Option: Sendable {
        var value: String
        var selected: Bool
    }

    var project: String
    var target: RestoreTarget
    var isSnapshot: Bool
    var isBackup: Bool
    var isInstant: Bool
    var branch: String
    var branches: [Option]
    var diffHref: String
    var action: String
    var backupAction: String
    var mayWrite: Bool
    var isAdmin: Bool
    var mayRestoreBackup: Bool
    var newCLI: String
    var inPlaceCLI: String
    var tableCLI: String
    var error: String?
    /// Open connections per running branch right now (an in-place restore drops the restored branch's).
    var connections: [Connections] = []
    var hasConnections = false
    var defaultCLI: String { newCLI }

    struct Connections: Sendable {
        var branch: String
        var count: String
    }

    init(target: RestoreTarget, project: String, branch: String, branches: [String], mayWrite: Bool, isAdmin: Bool, error: String?) {
        let base = "/projects/\(ConsolePath.segment(project))"
        self.project = project
        self.target = target
        isSnapshot = target.kind == .snapshot
        isBackup = target.kind == .backup
        isInstant = target.kind == .instant
        self.branch = branch
        self.branches = branches.map { .init(value: $0, selected: $0 == branch) }
        diffHref = "\(base)/diff?from=\(FormFields.encode(target.diffSide))&to=\(FormFields.encode(branch))"
        action = "\(base)/restore"
        backupAction = "\(base)/backups/\(ConsolePath.segment(target.id))/restore"
        self.mayWrite = mayWrite
        self.isAdmin = isAdmin
        mayRestoreBackup = isAdmin
        switch target.kind {
        case .snapshot: newCLI = "branch restore \(target.id) --as \(target.suggestedName) --project \(project)"
        case .instant: newCLI = "branch create \(target.suggestedName) --from \(branch) --at \(target.id) --project \(project)"
        case .backup: newCLI = "branch backup restore \(target.id) --as \(target.suggestedName) --project \(project)"
        }
        inPlaceCLI = "branch restore \(target.id) --in-place --branch \(branch) --project \(project)"
        tableCLI = "branch restore \(target.id) --table TABLE --branch \(branch) --project \(project)"
        self.error = error
    }
}
