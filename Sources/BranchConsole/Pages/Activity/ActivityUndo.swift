import BranchAPI
import Foundation

/// How an action is undone, worked out from what it left behind: the audit log says what was done
/// and when; the operations journal says to which branch; the snapshots and branches say what
/// still exists. Restores, resets and merges are undone by restoring in place the `pre-restore`
/// snapshot taken right before them; a snapshot taken is undone by deleting it; a branch created
/// (also by `restore --as` or a backup restore) by deleting it; a rename by renaming it back.
struct UndoAction: Sendable {
    enum Kind: String, Sendable { case restore, deleteSnapshot = "delete-snapshot", deleteBranch = "delete-branch", renameBack = "rename-back" }

    /// `Kind`'s raw value (templates read stored properties only).
    var kindValue: String
    var project: String
    var snapshot: String?
    var branch: String?
    var label: String
    var warning: String
    var cli: String
    /// For a rename: the name `branch` goes back to.
    var renameTo: String? = nil
}

enum ActivityUndo {
    /// The journal kinds each audited operation shows up as.
    static let journalKinds: [String: Set<String>] = [
        "createSnapshot": ["snapshot.create"],
        "restoreSnapshot": ["snapshot.restore", "table.restore", "branch.create"],
        "merge": ["branch.merge"],
        "createBranch": ["branch.create", "branch.create-at"],
        "resetBranch": ["branch.reset"],
        "renameBranch": ["branch.rename"],
        "restoreBackup": ["backup.restore"],
    ]

    /// Jobs: the audit entry is written when the job is accepted, so the journal entry starts after it.
    static let jobs: Set<String> = ["restoreBackup"]

    /// Pairs each successful audited action with the journal entry it produced: same project, a
    /// kind it can produce, finished within 30 s before the audit entry was written (that happens
    /// as the call returns), or for a job started after it. Each journal entry pairs at most once,
    /// nearest first.
    static func match(
        _ entries: [Components.Schemas.AuditEntry], operations: [Components.Schemas.OperationInfo]
    ) -> [Int: Components.Schemas.OperationInfo] {
        var used = Set<String>()
        var matches: [Int: Components.Schemas.OperationInfo] = [:]
        for entry in entries.sorted(by: { $0.at < $1.at }) where entry.outcome == "ok" {
            guard let kinds = journalKinds[entry.action] else { continue }
            let job = jobs.contains(entry.action)
            let candidates = operations.filter { operation in
                guard operation.project == entry.project, kinds.contains(operation.kind), operation.state == "succeeded",
                      !used.contains(operation.id), operation.finishedAt != nil else { return false }
                let gap = entry.at.timeIntervalSince(reference(operation, job: job))
                return job ? gap > -3600 && gap < 2 : gap > -2 && gap < 30
            }
            if let nearest = candidates.min(by: { abs(entry.at.timeIntervalSince(reference($0, job: job))) < abs(entry.at.timeIntervalSince(reference($1, job: job))) }) {
                used.insert(nearest.id)
                matches[entry.id] = nearest
            }
        }
        return matches
    }

    /// The instant an operation is matched by: its end, or for a job its start.
    static func reference(_ operation: Components.Schemas.OperationInfo, job: Bool) -> Date {
        job ? operation.startedAt : operation.finishedAt ?? operation.startedAt
    }

    /// The undo of a journal entry, if what it needs still exists.
    static func undo(
        for operation: Components.Schemas.OperationInfo, snapshots: [Components.Schemas.SnapshotInfo], branches: [Components.Schemas.BranchInfo]
    ) -> UndoAction? {
        guard let project = operation.project, let target = operation.target, operation.state == "succeeded" else { return nil }
        let started = operation.startedAt.addingTimeInterval(-1)
        let finished = (operation.finishedAt ?? operation.startedAt).addingTimeInterval(1)
        func madeDuring(_ snapshot: Components.Schemas.SnapshotInfo) -> Bool { snapshot.createdAt >= started && snapshot.createdAt <= finished }
        switch operation.kind {
        case "snapshot.restore", "table.restore", "branch.reset", "branch.merge":
            let branch: String
            switch operation.kind {
            case "table.restore": branch = String(target.split(separator: ":").first ?? Substring(target))
            case "branch.merge": branch = target.components(separatedBy: "→").last ?? target
            default: branch = target
            }
            guard let previous = snapshots.filter({ $0.kind == "pre-restore" && $0.sourceBranch == branch && madeDuring($0) }).max(by: { $0.createdAt < $1.createdAt }),
                  branches.contains(where: { $0.name == branch }) else { return nil }
            let what = operation.kind == "branch.merge" ? "merge" : operation.kind == "branch.reset" ? "reset" : "restore"
            return .init(
                kindValue: UndoAction.Kind.restore.rawValue, project: project, snapshot: previous.id, branch: branch, label: "Undo \(what)",
                warning: "Restores \(branch) in place from snapshot \(previous.id), taken right before the \(what): its server restarts and what was written since is replaced (kept as a new pre-restore snapshot).",
                cli: "branch restore \(previous.id) --in-place --branch \(branch) --project \(project)")
        case "snapshot.create":
            guard let made = snapshots.filter({ $0.kind == "manual" && $0.sourceBranch == target && madeDuring($0) }).max(by: { $0.createdAt < $1.createdAt }),
                  made.baseOf.isEmpty else { return nil }
            return .init(
                kindValue: UndoAction.Kind.deleteSnapshot.rawValue, project: project, snapshot: made.id, branch: nil, label: "Undo: delete snapshot",
                warning: "Deletes snapshot \(made.name ?? made.id).", cli: "branch snapshot delete \(made.id) --project \(project)")
        case "branch.create", "branch.create-at", "backup.restore":
            guard let branch = branches.first(where: { $0.name == target && $0.createdAt >= started && $0.createdAt <= finished }), !branch.checkedOut else { return nil }
            return .init(
                kindValue: UndoAction.Kind.deleteBranch.rawValue, project: project, snapshot: nil, branch: branch.name, label: "Undo: delete branch",
                warning: "Deletes branch \(branch.name) and its data.", cli: "branch delete \(branch.name) --project \(project)")
        case "branch.rename":
            // The journal's target is `old→new`.
            let names = target.components(separatedBy: "→")
            guard names.count == 2, let renamed = branches.first(where: { $0.name == names[1] }), !renamed.protected,
                  !branches.contains(where: { $0.name == names[0] }) else { return nil }
            return .init(
                kindValue: UndoAction.Kind.renameBack.rawValue, project: project, snapshot: nil, branch: names[1], label: "Undo: rename back",
                warning: "Renames \(names[1]) back to \(names[0]): its server restarts and its own connection strings change back.",
                cli: "branch rename \(names[1]) \(names[0]) --project \(project)", renameTo: names[0])
        default:
            return nil
        }
    }
}
