import BranchAPI
import Foundation
import Hummingbird

/// `/activity` (`?project=` to narrow it): every change from the audit log (who, when, what, from
/// the console or the API, how it ended) with an Undo button where the change can be reversed,
/// and what branch servers did on their own. The audit log is for a project's owners and the
/// instance admin; others see their projects' operations journal and events instead.
struct ActivityPages: Sendable {
    let environment: ConsoleEnvironment

    struct Row: Sendable {
        var at: String
        var age: String
        var who: String
        /// The full actor (with the token), for the tooltip.
        var actor: String
        var action: String
        var project: String?
        var projectHref: String?
        var target: String?
        var source: String
        var outcome: String
        var failed: Bool
        var cli: String?
        var undo: UndoAction?
        var mayUndo: Bool
    }

    struct Event: Sendable {
        var at: String
        var age: String
        var project: String
        var branch: String?
        var kind: String
        var detail: String
    }

    struct ProjectOption: Sendable {
        var name: String
        var selected: Bool
    }

    struct Model: Sendable {
        var filter: String?
        var projects: [ProjectOption]
        var rows: [Row]
        var empty: Bool
        var journalOnly: [String]
        var journalNote: String?
        var events: [Event]
        var noEvents: Bool
    }

    func register<Context: RequestContext>(on pages: RouterGroup<Context>) {
        pages.get("/activity") { request, _ -> Response in
            try await feed(filter: FormFields(request.uri.query ?? "").text("project"))
        }
        pages.post("/activity/undo") { request, _ -> Response in
            try await undo(form: try await environment.form(request))
        }
    }

    func feed(filter: String?) async throws -> Response {
        let session = try ConsoleSession.required()
        let viewer = session.viewer
        let visible = try await environment.call("listProjects") { try await $0.listProjects(.init()).ok.body.json.projects.map(\.name) }.sorted()
        if let filter, !visible.contains(filter) { throw ConsoleFailure.notFound("Project \(filter)") }
        let scope = filter.map { [$0] } ?? visible
        let owned = scope.filter { viewer.may(.owner, in: $0) }
        // The instance admin reads the whole log at once (also the changes outside projects).
        let audit: [Components.Schemas.AuditEntry] = try await {
            if viewer.isInstanceAdmin && filter == nil {
                return try await environment.call("listAudit") { try await $0.listAudit(.init(query: .init(limit: 300))).ok.body.json.entries }
            }
            var all: [Components.Schemas.AuditEntry] = []
            for project in owned {
                all += try await environment.call("listAudit", project: project) {
                    try await $0.listAudit(.init(query: .init(project: project, limit: 300))).ok.body.json.entries
                }
            }
            return all
        }()
        let facts = try await withThrowingTaskGroup(of: ProjectFacts.self) { group in
            for project in scope { group.addTask { try await ProjectFacts.load(project, environment: environment, undoable: viewer.may(.developer, in: project)) } }
            return try await group.reduce(into: [String: ProjectFacts]()) { $0[$1.project] = $1 }
        }
        let operations = facts.values.flatMap(\.operations)
        let matches = ActivityUndo.match(audit, operations: operations)
        var rows: [(Date, Row)] = audit.map { entry in
            let operation = matches[entry.id]
            let project = entry.project.flatMap { facts[$0] }
            let undo = operation.flatMap { ActivityUndo.undo(for: $0, snapshots: project?.snapshots ?? [], branches: project?.branches ?? []) }
            return (entry.at, Row(
                at: Formatting.utc(entry.at), age: Formatting.age(entry.at), who: Self.person(entry.actor), actor: entry.actor, action: entry.action, project: entry.project,
                projectHref: entry.project.map { "/projects/\(ConsolePath.segment($0))" }, target: Self.consoleTarget(entry.path) ?? operation?.target,
                source: entry.path.hasPrefix("console") ? "console" : "\(entry.method) \(entry.path)", outcome: entry.outcome, failed: entry.outcome != "ok",
                cli: ActivityCLI.command(for: entry.action), undo: undo, mayUndo: undo.map { viewer.may(.developer, in: $0.project) } ?? false))
        }
        // Projects whose audit log this user may not read: their operations journal, without who.
        let journalOnly = scope.filter { !owned.contains($0) && !(viewer.isInstanceAdmin && filter == nil) }
        for project in journalOnly {
            guard let facts = facts[project] else { continue }
            for operation in facts.operations {
                let undo = ActivityUndo.undo(for: operation, snapshots: facts.snapshots, branches: facts.branches)
                rows.append((operation.startedAt, Row(
                    at: Formatting.utc(operation.startedAt), age: Formatting.age(operation.startedAt), who: "—", actor: "the operations journal does not record who", action: operation.kind, project: project,
                    projectHref: "/projects/\(ConsolePath.segment(project))", target: operation.target, source: "journal",
                    outcome: operation.state == "succeeded" ? "ok" : operation.errorCode ?? operation.state, failed: operation.state == "failed",
                    cli: ActivityCLI.command(for: operation.kind), undo: undo, mayUndo: undo != nil && viewer.may(.developer, in: project))))
            }
        }
        let sorted = rows.sorted { $0.0 > $1.0 }.prefix(300).map(\.1)
        let events = facts.values.flatMap(\.events).sorted { $0.at > $1.at }.prefix(100).map { event in
            Event(at: Formatting.utc(event.at), age: Formatting.age(event.at), project: event.project, branch: event.branch, kind: event.kind, detail: event.detail)
        }
        let model = Model(
            filter: filter, projects: visible.map { .init(name: $0, selected: $0 == filter) }, rows: Array(sorted), empty: sorted.isEmpty,
            journalOnly: journalOnly,
            journalNote: journalOnly.isEmpty ? nil
                : "Who did what is in the audit log, which a project's owners read. For \(journalOnly.joined(separator: ", ")) you see the operations journal instead.",
            events: Array(events), noEvents: events.isEmpty)
        return try await environment.page(
            "activity", title: "Activity", instance: .activity,
            cli: filter.map { "branch audit --project \($0)" } ?? (viewer.isInstanceAdmin ? "branch audit" : "branch operations"), body: model)
    }

    /// "owner@example.com" of "owner@example.com (token tk_…)".
    static func person(_ actor: String) -> String {
        actor.components(separatedBy: " (token ").first ?? actor
    }

    /// What a console change acted on: its audit path is "console TARGET".
    static func consoleTarget(_ path: String) -> String? {
        guard path.hasPrefix("console ") else { return nil }
        return String(path.dropFirst("console ".count))
    }

    func undo(form: FormFields) async throws -> Response {
        guard let project = form.text("project"), let kind = form.text("kind").flatMap(UndoAction.Kind.init(rawValue:)) else {
            throw ConsoleFailure(status: 400, code: "invalid_request", message: "Nothing to undo.")
        }
        let activity = "/activity" + (form.text("return_project").map { "?project=" + FormFields.encode($0) } ?? "")
        // The project's overview offers undo too, and its forms come back to it.
        let back = PageAccess.back(form.text("return_to"), project: project, fallback: activity)
        switch kind {
        case .restore:
            guard let snapshot = form.text("snapshot"), let branch = form.text("branch") else { break }
            return try await RestorePages(environment: environment).undo(project: project, snapshot: snapshot, branch: branch)
        case .deleteSnapshot:
            guard let snapshot = form.text("snapshot") else { break }
            do {
                _ = try await environment.call("deleteSnapshot", project: project, changes: true, target: "snapshot \(snapshot) (undo)") {
                    try await $0.deleteSnapshot(.init(path: .init(project: project, snapshot: snapshot))).ok.body.json
                }
                return environment.redirect(back, flash: "Undone: deleted snapshot \(snapshot).")
            } catch let failure as ConsoleFailure where !failure.isRefusal {
                return environment.redirect(back, flash: BackupActions.describe(failure), error: true)
            }
        case .deleteBranch:
            guard let branch = form.text("branch") else { break }
            do {
                _ = try await environment.call("deleteBranch", project: project, changes: true, target: "\(branch) (undo)") {
                    try await $0.deleteBranch(.init(path: .init(project: project, branch: branch))).ok.body.json
                }
                return environment.redirect(back, flash: "Undone: deleted branch \(branch).")
            } catch let failure as ConsoleFailure where !failure.isRefusal {
                return environment.redirect(back, flash: BackupActions.describe(failure), error: true)
            }
        case .renameBack:
            guard let branch = form.text("branch"), let name = form.text("name") else { break }
            do {
                _ = try await environment.call("renameBranch", project: project, changes: true, target: "\(branch) (undo)") {
                    try await $0.renameBranch(.init(path: .init(project: project, branch: branch), body: .json(.init(name: name)))).ok.body.json
                }
                return environment.redirect(back, flash: "Undone: renamed \(branch) back to \(name).")
            } catch let failure as ConsoleFailure where !failure.isRefusal {
                return environment.redirect(back, flash: BackupActions.describe(failure), error: true)
            }
        }
        throw ConsoleFailure(status: 400, code: "invalid_request", message: "The undo is missing what it applies to.")
    }
}

/// What the feed needs of one project: its journal and events, and for undo its snapshots and branches.
struct ProjectFacts: Sendable {
    var project: String
    var operations: [Components.Schemas.OperationInfo]
    var events: [Components.Schemas.EventInfo]
    var snapshots: [Components.Schemas.SnapshotInfo]
    var branches: [Components.Schemas.BranchInfo]

    static func load(_ project: String, environment: ConsoleEnvironment, undoable: Bool) async throws -> ProjectFacts {
        async let operations = environment.call("listOperations", project: project) {
            try await $0.listOperations(.init(query: .init(project: project, limit: 300))).ok.body.json.operations
        }
        async let events = environment.call("listEvents", project: project) {
            try await $0.listEvents(.init(query: .init(project: project, limit: 50))).ok.body.json.events
        }
        async let snapshots = undoable ? environment.call("listSnapshots", project: project) {
            try await $0.listSnapshots(.init(path: .init(project: project))).ok.body.json.snapshots
        } : []
        async let branches = undoable ? environment.call("listBranches", project: project) {
            try await $0.listBranches(.init(path: .init(project: project))).ok.body.json.branches
        } : []
        return try await ProjectFacts(project: project, operations: operations, events: events, snapshots: snapshots, branches: branches)
    }
}

/// The CLI command behind an API operation or a journal kind.
enum ActivityCLI {
    static let commands: [String: String] = [
        "createProject": "branch project create", "deleteProject": "branch project delete", "updateProject": "branch project set",
        "createBranch": "branch create", "deleteBranch": "branch delete", "updateBranch": "branch protect / expire", "resetBranch": "branch reset", "renameBranch": "branch rename", "startBranch": "branch start",
        "stopBranch": "branch stop", "checkout": "branch checkout", "createSnapshot": "branch snapshot create",
        "deleteSnapshot": "branch snapshot delete", "restoreSnapshot": "branch restore", "setSchedule": "branch schedule set",
        "deleteSchedule": "branch schedule off", "createBackup": "branch backup create", "restoreBackup": "branch backup restore",
        "verifyBackup": "branch backup verify", "deleteBackup": "branch backup delete", "merge": "branch merge", "runSQL": "branch sql", "querySQL": "branch sql --read-only",
        "applyMigration": "branch migrate apply", "rollbackMigration": "branch migrate rollback", "rotateProjectKeys": "branch keys rotate",
        "revokeProjectKey": "branch keys revoke", "setMember": "branch member add", "removeMember": "branch member remove",
        "createUser": "branch user create", "deleteUser": "branch user delete", "setPassword": "branch user passwd",
        "createToken": "branch token create", "revokeToken": "branch token revoke",
        "project.create": "branch project create", "project.delete": "branch project delete", "project.update": "branch project set",
        "branch.create": "branch create", "branch.create-at": "branch create --at", "branch.delete": "branch delete", "branch.reset": "branch reset", "branch.rename": "branch rename",
        "branch.start": "branch start", "branch.stop": "branch stop", "snapshot.create": "branch snapshot create",
        "snapshot.scheduled": "branch schedule show", "snapshot.delete": "branch snapshot delete", "snapshot.restore": "branch restore --in-place",
        "table.restore": "branch restore --table", "backup.snapshot": "branch backup create", "backup.restore": "branch backup restore",
        "branch.merge": "branch merge",
    ]

    static func command(for action: String) -> String? { commands[action] }
}
