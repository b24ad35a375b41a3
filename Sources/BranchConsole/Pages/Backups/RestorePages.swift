import BranchAPI
import Foundation
import Hummingbird

/// The restore flow: `/projects/{p}/restore?restore=snapshot:ID` (or `backup:ID`, or
/// `?restore_at=ISO&branch=B` from the timeline) previews the target (a link to its diff against
/// now), offers a new branch (the default) or in place (whole branch or one table), says what
/// drops, and after an in-place restore offers "Undo restore" from the pre-restore snapshot.
struct RestorePages: Sendable {
    let environment: ConsoleEnvironment

    static func href(project: String, restore: String) -> String {
        "/projects/\(ConsolePath.segment(project))/restore?restore=" + FormFields.encode(restore)
    }

    func register<Context: RequestContext>(on pages: RouterGroup<Context>) {
        pages.get("/projects/:project/restore") { request, context -> Response in
            try await preview(project: try BackupsPages.project(context), query: FormFields(request.uri.query ?? ""))
        }
        pages.post("/projects/:project/restore") { request, context -> Response in
            try await restore(project: try BackupsPages.project(context), request: request)
        }
        pages.get("/projects/:project/restore/done") { request, context -> Response in
            try await done(project: try BackupsPages.project(context), query: FormFields(request.uri.query ?? ""))
        }
        pages.post("/projects/:project/restore/undo") { request, context -> Response in
            let project = try BackupsPages.project(context)
            let form = try await environment.form(request)
            guard let snapshot = form.text("snapshot"), let branch = form.text("branch") else {
                throw ConsoleFailure(status: 400, code: "invalid_request", message: "Undo needs the snapshot and the branch.")
            }
            return try await undo(project: project, snapshot: snapshot, branch: branch)
        }
    }

    /// Restores `snapshot` (the state an in-place restore replaced) into `branch` in place: the
    /// undo is itself undoable, as it too keeps the state it replaces.
    func undo(project: String, snapshot: String, branch: String) async throws -> Response {
        do {
            let result = try await environment.call("restoreSnapshot", project: project, changes: true, target: "\(branch) in place from snapshot \(snapshot) (undo)") {
                try await $0.restoreSnapshot(.init(path: .init(project: project, snapshot: snapshot), body: .json(.init(branch: branch, inPlace: true)))).ok.body.json
            }
            return environment.redirect(
                Self.doneHref(project: project, branch: branch, source: snapshot, previous: result.replacedStateSnapshot?.id, table: nil, undone: true),
                flash: "Undone: \(branch) is back to snapshot \(snapshot) (\(BackupActions.milliseconds(result.operation.durationMs))).")
        } catch let failure as ConsoleFailure where !failure.isRefusal {
            return environment.redirect(BackupsPages.href(project: project, branch: branch), flash: BackupActions.describe(failure), error: true)
        }
    }

    static func doneHref(project: String, branch: String, source: String, previous: String?, table: String?, undone: Bool = false) -> String {
        var query = "branch=\(FormFields.encode(branch))&source=\(FormFields.encode(source))"
        if let previous { query += "&previous=\(FormFields.encode(previous))" }
        if let table { query += "&table=\(FormFields.encode(table))" }
        if undone { query += "&undone=1" }
        return "/projects/\(ConsolePath.segment(project))/restore/done?\(query)"
    }

    // MARK: Preview

    func preview(project: String, query: FormFields, error: String? = nil) async throws -> Response {
        let session = try ConsoleSession.required()
        let target = try await RestoreTarget.resolve(query: query, project: project, environment: environment)
        let branches = try await environment.call("listBranches", project: project) {
            try await $0.listBranches(.init(path: .init(project: project))).ok.body.json.branches
        }
        let branch = target.branch ?? branches.first { $0.checkedOut }?.name ?? "main"
        var model = RestoreModel(
            target: target, project: project, branch: branch, branches: branches.map(\.name), mayWrite: session.viewer.may(.developer, in: project),
            isAdmin: session.viewer.isInstanceAdmin, error: error)
        model.connections = try await openConnections(project: project, branches: branches)
        model.hasConnections = !model.connections.isEmpty
        return try await environment.page(
            "restore", title: "Restore \(target.label)", project: project, branch: branch, section: .backups, cli: model.defaultCLI,
            body: model)
    }

    /// Each running branch's open connections in the newest sample: what an in-place restore drops.
    func openConnections(project: String, branches: [Components.Schemas.BranchInfo]) async throws -> [RestoreModel.Connections] {
        let series = try await environment.call("getMetrics", project: project) {
            try await $0.getMetrics(.init(query: .init(project: project, minutes: 1))).ok.body.json.series
        }
        return branches.filter { $0.status == "running" }.map { branch in
            let latest = series.first(where: { $0.branch == branch.name })?.samples.last(where: { $0.connections != nil })?.connections
            return .init(branch: branch.name, count: latest.map { $0 == 1 ? "1 connection" : "\($0) connections" } ?? "not sampled yet")
        }
    }

    // MARK: Restore

    func restore(project: String, request: Request) async throws -> Response {
        let form = try await environment.form(request)
        let reference = form.text("target") ?? ""
        let query = FormFields(reference.hasPrefix("at:") ? "restore_at=\(FormFields.encode(String(reference.dropFirst(3))))&branch=\(FormFields.encode(form.text("branch") ?? ""))" : "restore=\(FormFields.encode(reference))")
        let mode = form.text("mode") ?? "new"
        let branch = form.text("branch")
        do {
            switch (mode, reference.split(separator: ":", maxSplits: 1).first.map(String.init)) {
            case ("new", "snapshot"?):
                let name = try Self.required(form.text("as"), "Name the new branch.")
                let snapshot = String(reference.dropFirst("snapshot:".count))
                let result = try await environment.call("restoreSnapshot", project: project, changes: true, target: "\(name) from snapshot \(snapshot)") {
                    try await $0.restoreSnapshot(.init(path: .init(project: project, snapshot: snapshot), body: .json(.init(_as: name)))).ok.body.json
                }
                return environment.redirect(
                    "/projects/\(ConsolePath.segment(project))?branch=\(FormFields.encode(name))",
                    flash: "Restored \(snapshot) as branch \(name) in \(BackupActions.milliseconds(result.operation.durationMs)); port \(result.branch.port).")
            case ("new", "at"?):
                let name = try Self.required(form.text("as"), "Name the new branch.")
                let iso = String(reference.dropFirst(3))
                guard let instant = Formatting.instant(iso) else { throw ConsoleFailure(status: 400, code: "invalid_request", message: "\(iso) is not an ISO 8601 instant.") }
                let result = try await environment.call("createBranch", project: project, changes: true, target: "\(name) from \(branch ?? "main") at \(iso)") {
                    try await $0.createBranch(.init(path: .init(project: project), body: .json(.init(at: instant, from: branch, name: name)))).created.body.json
                }
                return environment.redirect(
                    "/projects/\(ConsolePath.segment(project))?branch=\(FormFields.encode(name))",
                    flash: "Created \(name) from \(branch ?? "main") as of \(Formatting.utc(instant)) in \(BackupActions.milliseconds(result.operation.durationMs)).")
            case ("in-place", "snapshot"?), ("table", "snapshot"?):
                guard form["confirm"] == "on" else { throw ConsoleFailure(status: 400, code: "invalid_request", message: "Tick the box to confirm the restore replaces the branch's data.") }
                let snapshot = String(reference.dropFirst("snapshot:".count))
                let table = mode == "table" ? try Self.required(form.text("table"), "Name the table to restore.") : nil
                let into = branch ?? "its branch"
                let result = try await environment.call(
                    "restoreSnapshot", project: project, changes: true,
                    target: table.map { "\(into) table \($0) from snapshot \(snapshot)" } ?? "\(into) in place from snapshot \(snapshot)"
                ) {
                    try await $0.restoreSnapshot(.init(
                        path: .init(project: project, snapshot: snapshot),
                        body: .json(.init(branch: branch, inPlace: table == nil ? true : nil, table: table)))).ok.body.json
                }
                return environment.redirect(
                    Self.doneHref(project: project, branch: result.branch.name, source: snapshot, previous: result.replacedStateSnapshot?.id, table: table),
                    flash: "Restored \(table.map { "table \($0) from " } ?? "")\(snapshot) into \(result.branch.name) in \(BackupActions.milliseconds(result.operation.durationMs)).")
            default:
                throw ConsoleFailure(status: 400, code: "invalid_request", message: "That restore is not offered for this target.")
            }
        } catch let failure as ConsoleFailure where !failure.isRefusal {
            return try await preview(project: project, query: query, error: BackupActions.describe(failure))
        }
    }

    static func required(_ value: String?, _ message: String) throws -> String {
        guard let value else { throw ConsoleFailure(status: 400, code: "invalid_request", message: message) }
        return value
    }

    // MARK: Done

    struct DoneModel: Sendable {
        var project: String
        var branch: String
        var source: String
        var table: String?
        var undone: Bool
        var previous: String?
        var undoAction: String
        var undoCLI: String?
        var mayWrite: Bool
        var diffHref: String?
        var backHref: String
        var activityHref: String
    }

    func done(project: String, query: FormFields) async throws -> Response {
        let session = try ConsoleSession.required()
        guard let branch = query.text("branch"), let source = query.text("source") else { throw ConsoleFailure.notFound("Restore") }
        let previous = query.text("previous")
        let model = DoneModel(
            project: project, branch: branch, source: source, table: query.text("table"), undone: query["undone"] == "1", previous: previous,
            undoAction: "/projects/\(ConsolePath.segment(project))/restore/undo",
            undoCLI: previous.map { "branch restore \($0) --in-place --branch \(branch) --project \(project)" },
            mayWrite: session.viewer.may(.developer, in: project),
            diffHref: previous.map { "/projects/\(ConsolePath.segment(project))/diff?from=\(FormFields.encode($0))&to=\(FormFields.encode(branch))" },
            backHref: BackupsPages.href(project: project, branch: branch), activityHref: "/activity?project=\(FormFields.encode(project))")
        return try await environment.page(
            "restore-done", title: "Restored \(branch)", project: project, branch: branch, section: .backups,
            cli: model.undoCLI ?? "branch snapshot list --project \(project)", body: model)
    }
}
