import BranchAPI
import Foundation
import Hummingbird

/// `/`: every project the user may see, with its state, size, branches, checked-out branch, last
/// backup and last verified restore; "New project", whose answer shows the URL and keys; and
/// "Import a database" (`ImportPages`).
struct ProjectsPages: Sendable {
    let environment: ConsoleEnvironment

    struct Row: Sendable {
        var name: String
        var href: String
        var role: String
        var running: Int
        var branches: Int
        var state: String
        var size: String
        var checkedOut: String
        var lastBackup: String
        var lastBackupFailed: Bool
        var lastVerified: String
        var verificationFailed: Bool
    }

    struct Model: Sendable {
        var projects: [Row]
        var empty: Bool
        var mayCreate: Bool
        var error: String?
        var name: String
        var importForm: ImportForm
    }

    struct Created: Sendable {
        var name: String
        var href: String
        var url: String
        var apiURL: String
        var anonKey: String
        var serviceRoleKey: String
        var milliseconds: String
    }

    func register<Context: RequestContext>(on pages: RouterGroup<Context>) {
        pages.get("/") { _, _ -> Response in try await dashboard() }
        pages.post("/projects") { request, _ -> Response in
            let form = try await environment.form(request)
            let name = form.text("name") ?? ""
            do {
                let created = try await environment.call("createProject", changes: true) {
                    try await $0.createProject(.init(body: .json(.init(backups: form["backups"] == nil ? nil : form["backups"] == "on", name: name)))).created.body.json
                }
                let model = Created(
                    name: created.project.name, href: "/projects/\(ConsolePath.segment(created.project.name))", url: created.connection.url,
                    apiURL: created.keys.url, anonKey: created.keys.anonKey, serviceRoleKey: created.keys.serviceRoleKey,
                    milliseconds: String(format: "%.0f", created.operation.durationMs))
                return try await environment.page(
                    "project-created", title: "Project \(created.project.name) created", instance: .projects,
                    cli: "branch project create \(created.project.name)", status: .created, body: model)
            } catch let failure as ConsoleFailure {
                return try await dashboard(error: "\(failure.message) (\(failure.code))", name: name, status: .init(code: failure.status))
            }
        }
    }

    func dashboard(error: String? = nil, name: String = "", status: HTTPResponse.Status = .ok, importForm: ImportForm = .init()) async throws -> Response {
        let session = try ConsoleSession.required()
        let projects = try await environment.call("listProjects") { try await $0.listProjects(.init()).ok.body.json.projects }
        // The instance admin reads every project's backups in one call; others may only ask per project.
        let allBackups: [String: [Components.Schemas.BackupInfo]]? = session.viewer.isInstanceAdmin && !projects.isEmpty
            ? Dictionary(grouping: try await environment.call("listBackups") { try await $0.listBackups(.init()).ok.body.json.backups }, by: \.project)
            : nil
        let rows = try await withThrowingTaskGroup(of: Row.self) { group in
            for project in projects { group.addTask { try await row(project, backups: allBackups.map { $0[project.name] ?? [] }) } }
            return try await group.reduce(into: []) { $0.append($1) }.sorted { $0.name < $1.name }
        }
        let model = Model(projects: rows, empty: rows.isEmpty, mayCreate: true, error: error, name: name, importForm: importForm)
        return try await environment.page(
            "projects", title: "Projects", instance: .projects, cli: "branch project list", status: status, body: model)
    }

    /// `backups`: the project's, when already read; else they are read here.
    func row(_ project: Components.Schemas.ProjectInfo, backups known: [Components.Schemas.BackupInfo]?) async throws -> Row {
        let name = project.name
        let backups: [Components.Schemas.BackupInfo]
        if let known {
            backups = known
        } else {
            backups = try await environment.call("listBackups", project: name) {
                try await $0.listBackups(.init(query: .init(project: name))).ok.body.json.backups
            }
        }
        let running = project.runningBranches ?? 0
        let newest = backups.max { $0.startedAt < $1.startedAt }
        let verification = project.lastVerification
        return Row(
            name: name, href: "/projects/\(ConsolePath.segment(name))", role: project.role, running: running, branches: project.branches,
            state: running > 0 ? "running" : (project.suspendedBranches ?? 0) > 0 ? "suspended" : "stopped",
            size: Formatting.bytes(project.exclusiveBytes), checkedOut: project.checkedOut,
            lastBackup: newest.map { "\(Formatting.age($0.startedAt)) · \($0.status)" } ?? "never",
            lastBackupFailed: newest.map { $0.status == "failed" } ?? false,
            lastVerified: verification.map { "\(Formatting.age($0.at)) · \($0.ok ? "restored OK" : "FAILED")" } ?? "never",
            verificationFailed: verification.map { !$0.ok } ?? false)
    }
}
