import BranchAPI
import Foundation
import Hummingbird

/// `/projects/{p}/branches/{b}`: one branch: its state, connection strings, and the actions
/// start/stop, check out, reset from parent (with a link to the diff of what it discards),
/// rename, protect, expire and delete (typed confirmation: it cannot be undone). Every action is a form that redirects back.
struct BranchDetailPages: Sendable {
    let environment: ConsoleEnvironment

    struct Model: Sendable {
        var project: String
        var name: String
        var status: String
        var running: Bool
        var checkedOut: Bool
        var port: Int
        var restarts: Int
        var size: String
        var created: String
        var createdAge: String
        /// What it was made from (`main @ HEAD`, `main @ 0/16B3748`, …); nil for main.
        var createdFrom: String?
        var protected: Bool
        var expires: String?
        var expiresIn: String
        var ttlChoices: [BranchesPages.Option]
        var cliProtect: String
        var cliExpire: String
        /// Why it cannot be renamed (main, protected); nil when it can.
        var renameRefusal: String?
        var cliRename: String
        var earliest: String
        var parent: String?
        var parentHref: String?
        var compareHref: String?
        var timelineHref: String
        var sqlHref: String
        var connections: [BranchConnections.Entry]
        var connectionsHidden: Bool
        var mayWrite: Bool
        var action: String
        var cliStart: String
        var cliStop: String
        var cliCheckout: String
        var cliReset: String
        var cliDelete: String
        var needsForce: Bool
        var childrenText: String?
    }

    func register<Context: RequestContext>(on pages: RouterGroup<Context>) {
        pages.get("/projects/:project/branches/:branch") { _, context -> Response in
            try await detail(project: try context.parameters.require("project"), name: try context.parameters.require("branch"))
        }
        pages.post("/projects/:project/branches/:branch/:action") { request, context -> Response in
            let project = try context.parameters.require("project")
            let name = try context.parameters.require("branch")
            let action = try context.parameters.require("action")
            let form = try await environment.form(request)
            return try await perform(action, project: project, name: name, form: form)
        }
    }

    func detail(project: String, name: String) async throws -> Response {
        async let branchInfo = environment.call("getBranch", project: project) {
            try await $0.getBranch(.init(path: .init(project: project, branch: name))).ok.body.json
        }
        async let projectInfo = environment.call("getProject", project: project) {
            try await $0.getProject(.init(path: .init(project: project))).ok.body.json
        }
        async let branchList = environment.call("listBranches", project: project) {
            try await $0.listBranches(.init(path: .init(project: project))).ok.body.json.branches
        }
        let branch = try await branchInfo
        let info = try await projectInfo
        let children = try await branchList.filter { $0.parent == name }.map(\.name)
        let mayWrite = PageAccess.mayWrite(project)
        let connections = try await BranchConnections.load(project: info, branches: [branch], reveal: mayWrite, environment: environment)
        let base = "/projects/\(ConsolePath.segment(project))"
        let here = "\(base)/branches/\(ConsolePath.segment(name))"
        let model = Model(
            project: project, name: name, status: branch.status, running: branch.status == "running", checkedOut: branch.checkedOut,
            port: branch.port, restarts: branch.restarts, size: Formatting.bytes(branch.exclusiveBytes),
            created: Instants.utc(branch.createdAt), createdAge: Formatting.age(branch.createdAt),
            createdFrom: branch.createdFrom?.text(parent: branch.parent), protected: branch.protected,
            expires: branch.expiresAt.map(Instants.utc), expiresIn: branch.expiresAt.map { Formatting.timeLeft(until: $0) } ?? "",
            ttlChoices: BranchCreation.ttlOptions,
            cliProtect: "branch protect \(name)\(branch.protected ? " --off" : "") --project \(project)",
            cliExpire: "branch expire \(name) --in 7d --project \(project)",
            renameRefusal: name == "main"
                ? "main keeps its name: new branches start from it by default."
                : branch.protected ? "Unprotect it to rename it: its own addresses change with its name." : nil,
            cliRename: "branch rename \(name) NEW-NAME --project \(project)", earliest: branch.earliestRestorableAt.map(Instants.utc) ?? "—",
            parent: branch.parent, parentHref: branch.parent.map { "\(base)/branches/\(ConsolePath.segment($0))" },
            compareHref: branch.parent.map { "\(base)/diff?from=\(FormFields.encode($0))&to=\(FormFields.encode(name))" },
            timelineHref: "\(base)/timeline?branch=\(FormFields.encode(name))", sqlHref: "\(base)/sql?branch=\(FormFields.encode(name))",
            connections: connections, connectionsHidden: !mayWrite, mayWrite: mayWrite, action: here,
            cliStart: "branch start \(name) --project \(project)", cliStop: "branch stop \(name) --project \(project)",
            cliCheckout: "branch checkout \(name) --project \(project)", cliReset: "branch reset \(name) --project \(project)",
            cliDelete: "branch delete \(name)\(name == "main" || !children.isEmpty ? " --force" : "") --project \(project)",
            needsForce: name == "main" || !children.isEmpty, childrenText: children.isEmpty ? nil : children.joined(separator: ", "))
        return try await environment.page(
            "branch-detail", title: "\(name) · \(project)", project: project, branch: name, branches: try await branchList.map(\.name), section: .branches,
            cli: "branch list --project \(project) --json", body: model)
    }

    func perform(_ action: String, project: String, name: String, form: FormFields) async throws -> Response {
        let path = Operations.GetBranch.Input.Path(project: project, branch: name)
        let here = "/projects/\(ConsolePath.segment(project))/branches/\(ConsolePath.segment(name))"
        try await PageAccess.requireWrite(environment, project: project)
        return try await PageAccess.action(environment, back: here) {
            switch action {
            case "start":
                _ = try await environment.call("startBranch", project: project, changes: true) {
                    try await $0.startBranch(.init(path: .init(project: path.project, branch: path.branch))).ok.body.json
                }
                return environment.redirect(here, flash: "Started \(name).")
            case "stop":
                _ = try await environment.call("stopBranch", project: project, changes: true) {
                    try await $0.stopBranch(.init(path: .init(project: path.project, branch: path.branch))).ok.body.json
                }
                return environment.redirect(here, flash: "Stopped \(name); it stays stopped until started.")
            case "checkout":
                let moved = try await environment.call("checkout", project: project, changes: true) {
                    try await $0.checkout(.init(path: .init(project: project), body: .json(.init(branch: name)))).ok.body.json
                }
                return environment.redirect(here, flash: "The project's pooled endpoint now reaches \(moved.checkedOut) (was \(moved.previous)).")
            case "reset":
                let reset = try await environment.call("resetBranch", project: project, changes: true) {
                    try await $0.resetBranch(.init(path: .init(project: path.project, branch: path.branch))).ok.body.json
                }
                let kept = reset.replacedStateSnapshot.map { " The old state is snapshot \($0.id)." } ?? ""
                return environment.redirect(here, flash: "Reset \(name) from \(reset.branch.parent ?? "its parent").\(kept)")
            case "protect", "unprotect":
                _ = try await environment.call("updateBranch", project: project, changes: true) {
                    try await $0.updateBranch(.init(path: .init(project: path.project, branch: path.branch), body: .json(.init(protected: action == "protect")))).ok.body.json
                }
                return environment.redirect(
                    here, flash: action == "protect" ? "Protected \(name): delete and reset are refused until it is unprotected." : "\(name) is no longer protected.")
            case "expire":
                guard let seconds = form.text("ttl").flatMap(Int.init), seconds >= 0 else {
                    return environment.redirect(here, flash: "Choose when to delete \(name), or never.", error: true)
                }
                let updated = try await environment.call("updateBranch", project: project, changes: true) {
                    try await $0.updateBranch(.init(path: .init(project: path.project, branch: path.branch), body: .json(.init(ttlSeconds: seconds)))).ok.body.json
                }
                return environment.redirect(
                    here, flash: updated.expiresAt.map { "\(name) is deleted at \(Instants.utc($0))." } ?? "\(name) is kept until it is deleted.")
            case "rename":
                guard let newName = form.text("name"), !newName.isEmpty else {
                    return environment.redirect(here, flash: "Type the new name of \(name).", error: true)
                }
                let renamed = try await environment.call("renameBranch", project: project, changes: true) {
                    try await $0.renameBranch(.init(path: .init(project: path.project, branch: path.branch), body: .json(.init(name: newName)))).ok.body.json
                }
                let moved = "/projects/\(ConsolePath.segment(project))/branches/\(ConsolePath.segment(renamed.branch.name))"
                return environment.redirect(moved, flash: "Renamed \(name) to \(renamed.branch.name). Its own connection strings changed with its name.")
            case "delete":
                guard form.text("confirm") == name else {
                    return environment.redirect(here, flash: "Type the branch's name, \(name), to delete it.", error: true)
                }
                let force = form["force"] == "on"
                _ = try await environment.call("deleteBranch", project: project, changes: true) {
                    try await $0.deleteBranch(.init(path: .init(project: path.project, branch: path.branch), query: .init(force: force))).ok.body.json
                }
                return environment.redirect("/projects/\(ConsolePath.segment(project))/branches", flash: "Deleted branch \(name).")
            default:
                throw ConsoleFailure(status: 404, code: "not_found", message: "No action \(action) on branches.")
            }
        }
    }
}
