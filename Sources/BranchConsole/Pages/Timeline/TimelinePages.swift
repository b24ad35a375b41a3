import BranchAPI
import Foundation
import Hummingbird

/// `/projects/{p}/timeline`, the signature page: branches as lanes with fork edges, snapshots as
/// dots, the point-in-time window as a band, backups and restores/merges as marks, all in one
/// server-rendered SVG (`TimelineLayout` places it; timeline.js adds zoom, pan and hover cards).
/// Every mark links to a point panel with Query here, Branch here, Diff against… and Restore to
/// here; two points can be selected (`a=`, `b=`) and diffed.
struct TimelinePages: Sendable {
    let environment: ConsoleEnvironment

    func register<Context: RequestContext>(on pages: RouterGroup<Context>) {
        pages.get("/projects/:project/timeline") { request, context -> Response in
            let project = try context.parameters.require("project")
            return try await timeline(project: project, parameters: FormFields(request.uri.query ?? ""))
        }
    }

    func timeline(project: String, parameters: FormFields) async throws -> Response {
        async let projectInfo = environment.call("getProject", project: project) {
            try await $0.getProject(.init(path: .init(project: project))).ok.body.json
        }
        async let branchList = environment.call("listBranches", project: project) {
            try await $0.listBranches(.init(path: .init(project: project))).ok.body.json.branches
        }
        async let snapshotList = environment.call("listSnapshots", project: project) {
            try await $0.listSnapshots(.init(path: .init(project: project))).ok.body.json.snapshots
        }
        async let backupList = environment.call("listBackups", project: project) {
            try await $0.listBackups(.init(query: .init(project: project))).ok.body.json.backups
        }
        async let operationList = environment.call("listOperations", project: project) {
            try await $0.listOperations(.init(query: .init(project: project, limit: 200))).ok.body.json.operations
        }
        let info = try await projectInfo
        let branches = try await branchList
        let snapshots = try await snapshotList
        let backups = try await backupList
        let operations = try await operationList
        let query = TimelineQuery(project: project, parameters: parameters, defaultLane: info.checkedOut)
        let now = Date()
        let names = Set(branches.map(\.name))
        let shown = branches.filter { branch in query.search.map { branch.name.localizedCaseInsensitiveContains($0) } ?? true }
        let shownNames = Set(shown.map(\.name))
        // Marks of a branch hidden by the search go with it; those of deleted branches get their own lane.
        func keep(_ branch: String) -> Bool { shownNames.contains(branch) || (!names.contains(branch) && query.search == nil) }
        let hidden: Set<String> = query.hideAutomatic ? ["automatic", "base"] : []
        let layout = TimelineLayout(
            branches: shown.map { .init(name: $0.name, parent: $0.parent, createdAt: $0.createdAt, earliestRestorableAt: $0.earliestRestorableAt, checkedOut: $0.checkedOut) },
            snapshots: snapshots.filter { keep($0.sourceBranch) && !hidden.contains($0.kind) }
                .map { .init(id: $0.id, name: $0.name, kind: $0.kind, branch: $0.sourceBranch, createdAt: $0.createdAt) },
            backups: backups.filter { keep($0.branch) }.map { .init(id: $0.id, branch: $0.branch, startedAt: $0.startedAt, status: $0.status) },
            changes: operations.compactMap(Self.change),
            now: now, since: query.since.map { now.addingTimeInterval(-$0) })
        let mayWrite = PageAccess.mayWrite(project)
        let model = TimelineView(
            layout: layout, query: query, project: info, branches: branches, snapshots: snapshots, backups: backups, mayWrite: mayWrite,
            csrf: ConsoleSession.current?.csrf ?? "")
        return try await environment.page(
            "timeline", title: "Timeline · \(project)", project: project, branch: query.branch, branches: branches.map(\.name), section: .timeline,
            cli: "branch snapshot list --all --project \(project)", script: "timeline.js", body: model)
    }

    /// A journal entry that rewrote a branch: restores, resets and merges (`source→target`).
    static func change(_ operation: Components.Schemas.OperationInfo) -> TimelineLayout.Change? {
        guard operation.state == "succeeded", let target = operation.target else { return nil }
        switch operation.kind {
        case "snapshot.restore", "backup.restore", "branch.reset":
            return .init(kind: operation.kind, branch: target, source: nil, at: operation.finishedAt ?? operation.startedAt)
        case "table.restore":
            return .init(kind: operation.kind, branch: String(target.split(separator: ":").first ?? ""), source: nil, at: operation.finishedAt ?? operation.startedAt)
        case "branch.merge":
            let sides = target.components(separatedBy: "→")
            guard sides.count == 2 else { return nil }
            return .init(kind: operation.kind, branch: sides[1], source: sides[0], at: operation.finishedAt ?? operation.startedAt)
        default:
            return nil
        }
    }
}
