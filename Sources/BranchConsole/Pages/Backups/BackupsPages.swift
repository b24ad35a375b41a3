import BranchAPI
import Foundation
import Hummingbird

/// `/projects/{p}/backups`: snapshots (take, delete, restore), the snapshot and backup schedules
/// with their retention, and the backups (back up now, verify, restore, detail, job progress).
/// The restore flow itself is `RestorePages`.
struct BackupsPages: Sendable {
    let environment: ConsoleEnvironment

    func register<Context: RequestContext>(on pages: RouterGroup<Context>) {
        pages.get("/projects/:project/backups") { request, context -> Response in
            let query = FormFields(request.uri.query ?? "")
            // The timeline's "Restore to here" lands here with the point: the restore flow.
            if query.text("restore") != nil || query.text("restore_at") != nil {
                return try await RestorePages(environment: environment).preview(project: try Self.project(context), query: query)
            }
            return try await list(project: try Self.project(context), query: query)
        }
        let actions = BackupActions(environment: environment)
        pages.post("/projects/:project/backups/snapshots") { request, context -> Response in
            try await actions.takeSnapshot(project: try Self.project(context), request: request)
        }
        pages.post("/projects/:project/backups/snapshots/:snapshot/delete") { request, context -> Response in
            try await actions.deleteSnapshot(project: try Self.project(context), snapshot: try Self.parameter("snapshot", context), request: request)
        }
        pages.post("/projects/:project/backups/snapshots/:snapshot/pin") { request, context -> Response in
            try await actions.pinSnapshot(project: try Self.project(context), snapshot: try Self.parameter("snapshot", context), request: request)
        }
        pages.post("/projects/:project/backups/schedules/:kind") { request, context -> Response in
            try await actions.setSchedule(project: try Self.project(context), kind: try Self.parameter("kind", context), request: request)
        }
        pages.post("/projects/:project/backups/schedules/:kind/off") { request, context -> Response in
            try await actions.scheduleOff(project: try Self.project(context), kind: try Self.parameter("kind", context), request: request)
        }
        pages.post("/projects/:project/backups/run") { request, context -> Response in
            try await actions.backUpNow(project: try Self.project(context), request: request)
        }
        pages.get("/projects/:project/backups/:backup") { _, context -> Response in
            try await BackupDetailPage(environment: environment).render(project: try Self.project(context), backup: try Self.parameter("backup", context))
        }
        pages.get("/projects/:project/backups/:backup/download.sql") { _, context -> Response in
            try await BackupDetailPage(environment: environment).download(project: try Self.project(context), backup: try Self.parameter("backup", context))
        }
        pages.post("/projects/:project/backups/:backup/verify") { request, context -> Response in
            try await actions.verify(project: try Self.project(context), backup: try Self.parameter("backup", context), request: request)
        }
        pages.post("/projects/:project/backups/:backup/delete") { request, context -> Response in
            try await actions.deleteBackup(project: try Self.project(context), backup: try Self.parameter("backup", context), request: request)
        }
        pages.post("/projects/:project/backups/:backup/restore") { request, context -> Response in
            try await actions.restoreBackup(project: try Self.project(context), backup: try Self.parameter("backup", context), request: request)
        }
        pages.get("/projects/:project/jobs/:job") { _, context -> Response in
            try await JobPage(environment: environment).render(project: try Self.project(context), job: try Self.parameter("job", context))
        }
        RestorePages(environment: environment).register(on: pages)
    }

    static func project<Context: RequestContext>(_ context: Context) throws -> String { try parameter("project", context) }

    static func parameter<Context: RequestContext>(_ name: String, _ context: Context) throws -> String {
        guard let value = context.parameters.get(name) else { throw ConsoleFailure.notFound("Page") }
        return value.removingPercentEncoding ?? value
    }

    /// The page's URL for `branch` (nil: every branch).
    static func href(project: String, branch: String?) -> String {
        "/projects/\(ConsolePath.segment(project))/backups" + (branch.map { "?branch=" + FormFields.encode($0) } ?? "")
    }

    func list(project: String, query: FormFields, error: String? = nil) async throws -> Response {
        let session = try ConsoleSession.required()
        let chosen = query.text("branch")
        let showBase = query["all"] == "1"
        async let branchList = environment.call("listBranches", project: project) {
            try await $0.listBranches(.init(path: .init(project: project))).ok.body.json.branches
        }
        async let snapshotList = environment.call("listSnapshots", project: project) {
            try await $0.listSnapshots(.init(path: .init(project: project))).ok.body.json.snapshots
        }
        async let scheduleList = environment.call("listSchedules", project: project) {
            try await $0.listSchedules(.init(path: .init(project: project))).ok.body.json.schedules
        }
        async let backupList = environment.call("listBackups", project: project) {
            try await $0.listBackups(.init(query: .init(project: project))).ok.body.json
        }
        let branches = try await branchList
        let checkedOut = branches.first { $0.checkedOut }?.name ?? branches.first?.name ?? "main"
        let branch = chosen ?? checkedOut
        let mayWrite = session.viewer.may(.developer, in: project)
        let all = try await snapshotList.filter { chosen == nil || $0.sourceBranch == chosen }.sorted { $0.createdAt > $1.createdAt }
        let visible = all.filter { showBase || $0.kind != "base" }
        let schedules = try await scheduleList
        let backups = try await backupList
        let verification = backups.verifications?.first { $0.project == project }
        let rows = BackupsRows.backups(backups.backups.filter { chosen == nil || $0.branch == chosen }, verification: verification, project: project, keys: ServiceKeys(backups))
        let base = "/projects/\(ConsolePath.segment(project))"
        let model = BackupsModel(
            project: project, branch: branch, filtered: chosen != nil, allHref: Self.href(project: project, branch: nil),
            showBase: showBase,
            baseToggleHref: Self.href(project: project, branch: chosen) + (chosen == nil ? "?" : "&") + (showBase ? "all=0" : "all=1"),
            hiddenBase: all.count - visible.count,
            branches: branches.map { .init(value: $0.name, selected: $0.name == branch) },
            snapshots: visible.map { BackupsRows.snapshot($0, project: project, mayWrite: mayWrite) }, noSnapshots: visible.isEmpty,
            schedules: ["snapshot", "backup"].map { kind in BackupsRows.schedule(kind: kind, schedules.first { $0.kind == kind }, project: project) },
            backups: rows, noBackups: rows.isEmpty, serviceKey: backups.keyID,
            projectVerification: verification.map {
                "Last verified restore: backup \($0.backup), \(Formatting.age($0.at)), \($0.ok ? "restored OK" : "FAILED\($0.error.map { ": \($0)" } ?? "")")"
            },
            projectVerificationFailed: verification.map { !$0.ok } ?? false,
            mayWrite: mayWrite, mayOwn: session.viewer.may(.owner, in: project), isAdmin: session.viewer.isInstanceAdmin,
            snapshotAction: "\(base)/backups/snapshots", snapshotCLI: "branch snapshot create \(branch) --name NAME --project \(project)",
            backupAction: "\(base)/backups/run", backupCLI: "branch backup create \(branch) --project \(project)", error: error)
        return try await environment.page(
            "backups", title: "Snapshots & backups · \(project)", project: project, branch: branch, branches: branches.map(\.name), section: .backups,
            cli: "branch snapshot list --project \(project) && branch backup list --project \(project)", script: "backups.js", body: model)
    }
}
