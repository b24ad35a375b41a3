import BranchAPI
import Foundation
import Hummingbird

/// `/projects/{p}/sql?branch=B[&at=ISO]`: run SQL on a branch (developers and owners, through
/// `runSQL`; viewers read-only through `querySQL`, not at a past instant), with guards on destructive statements and an automatic LIMIT; run it on a scratch
/// branch first and see the row diff before applying it; query a past instant read-only; keep
/// snippets in Branch (shared with the project) and each user's history.
struct SQLEditorPages: Sendable {
    let environment: ConsoleEnvironment

    /// The page's place: project, branch and, for a historical query, the instant.
    struct Place: Sendable {
        var project: String
        var branch: String
        var at: String?

        var base: String { "/projects/\(ConsolePath.segment(project))/sql" }
        func href(_ path: String = "", extra: [(String, String)] = []) -> String {
            var items = [("branch", branch)]
            if let at { items.append(("at", at)) }
            items += extra
            return base + path + "?" + items.map { "\($0.0)=\(FormFields.encode($0.1))" }.joined(separator: "&")
        }
    }

    func register<Context: RequestContext>(on pages: RouterGroup<Context>) {
        pages.get("/projects/:project/sql") { request, context -> Response in
            let place = try await place(request, context: context)
            let query = FormFields(request.uri.query ?? "")
            var model = try await blank(place)
            // `run_as` and `run_as_user` in the URL: the auth users page's "Run SQL as".
            if query.text("run_as") != nil { model.choose(RunAs(query)) }
            if let id = query.text("snippet"), let snippet = (model.snippets + model.history).first(where: { $0.id == id }) {
                model.sql = snippet.sql
                if model.snippets.contains(where: { $0.id == id }) {
                    model.snippetName = snippet.name
                    model.snippetFolder = snippet.folder
                    model.snippetID = snippet.id
                }
            }
            return try await render(model, place: place)
        }
        pages.post("/projects/:project/sql") { request, context -> Response in
            let place = try await place(request, context: context)
            let form = try await environment.form(request)
            let runner = SQLRunner(environment: environment, place: place)
            var model = try await blank(place)
            model.sql = SQLRunner.text(form["sql"])
            model.confirm = form["confirm"] == "on"
            model.choose(RunAs(form))
            let status: HTTPResponse.Status
            switch form["action"] {
            case "explain", "analyze":
                status = model.sql.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
                    ? try await runner.run(&model, scratch: false) : await runner.explain(&model, analyze: form["action"] == "analyze")
            default:
                status = try await runner.run(&model, scratch: form["action"] == "scratch")
            }
            try await refreshLists(&model, place: place)
            return try await render(model, place: place, status: status)
        }
        pages.post("/projects/:project/sql/apply") { request, context -> Response in
            let place = try await place(request, context: context)
            let form = try await environment.form(request)
            let runner = SQLRunner(environment: environment, place: place)
            var model = try await blank(place)
            model.sql = SQLRunner.text(form["sql"])
            model.confirm = form["confirm"] == "on"
            model.choose(RunAs(form))
            let status = try await runner.run(&model, scratch: false)
            if let scratch = form.text("scratch") {
                if status == .ok {
                    try await runner.discard(scratch)
                    model.flash = "Applied to \(place.branch); scratch branch \(scratch) deleted."
                } else {
                    // Not applied (refused or failed): the scratch branch stays, with its diff and buttons.
                    model.scratch = try? await ScratchDiff(environment: environment, project: place.project)
                        .compare(base: place.branch, scratch: scratch, place: place, needsConfirm: model.refused)
                }
            }
            try await refreshLists(&model, place: place)
            return try await render(model, place: place, status: status)
        }
        pages.post("/projects/:project/sql/discard") { request, context -> Response in
            let place = try await place(request, context: context)
            let form = try await environment.form(request)
            let scratch = form.text("scratch") ?? ""
            try await SQLRunner(environment: environment, place: place).discard(scratch)
            return environment.redirect(place.href(), flash: "Discarded: scratch branch \(scratch) deleted; \(place.branch) was not changed.")
        }
        pages.post("/projects/:project/sql/snippets") { request, context -> Response in
            let place = try await place(request, context: context)
            let form = try await environment.form(request)
            let project = place.project
            let name = form.text("name") ?? "", sql = SQLRunner.text(form["sql"]), id = form.text("id")
            let folder = form["folder"] ?? ""
            do {
                let saved = try await environment.call("saveSnippet", project: project, changes: true, target: name) {
                    try await $0.saveSnippet(
                        .init(path: .init(project: project), body: .json(.init(id: id, kind: "snippet", name: name, sql: sql, folder: folder)))
                    ).created.body.json
                }
                let filed = saved.folder.isEmpty ? "" : " in \(saved.folder)"
                return environment.redirect(place.href(extra: [("snippet", saved.id)]), flash: "Snippet \(saved.name) saved\(filed) for the project's members.")
            } catch let failure as ConsoleFailure where failure.status == 400 || failure.status == 422 {
                return environment.redirect(place.href(), flash: failure.message, error: true)
            }
        }
        pages.post("/projects/:project/sql/snippets/delete") { request, context -> Response in
            let place = try await place(request, context: context)
            let form = try await environment.form(request)
            let project = place.project
            let id = form.text("id") ?? ""
            _ = try await environment.call("deleteSnippet", project: project, changes: true, target: id) {
                try await $0.deleteSnippet(.init(path: .init(project: project, snippet: id))).ok.body.json
            }
            return environment.redirect(place.href(), flash: "Snippet deleted.")
        }
    }

    func place(_ request: Request, context: some RequestContext) async throws -> Place {
        guard let project = context.parameters.get("project") else { throw ConsoleFailure.notFound("The project") }
        let query = FormFields(request.uri.query ?? "")
        let branch = try await TableLocation.resolveBranch(project: project, chosen: query.text("branch"), environment: environment)
        return Place(project: project, branch: branch, at: try Formatting.canonicalPoint(query.text("at")))
    }

    /// The empty editor with the snippets and history.
    func blank(_ place: Place) async throws -> SQLEditorModel {
        let session = try ConsoleSession.required()
        let mayWrite = session.viewer.may(.developer, in: place.project)
        // A viewer runs read-only SQL on the present; a past instant needs a temporary branch, which needs a developer.
        let mayRun = mayWrite || (place.at == nil && session.viewer.role(in: place.project) != nil)
        var model = SQLEditorModel(
            project: place.project, branch: place.branch, at: place.at, mayRun: mayRun,
            notice: mayRun ? nil : "Your role in \(place.project) is viewer: querying a past instant needs the developer role. You can run read-only SQL on the present and read the project's saved snippets.",
            sql: "", confirm: false, action: place.href(), scratchAllowed: mayWrite && place.at == nil, results: [], hasResults: false,
            ranOn: nil, executed: nil, limitNotice: nil, refusal: [], refused: false, failure: nil, scratch: nil, flash: nil, snippets: [],
            history: [], hasSnippets: false, hasHistory: false, snippetName: "", snippetID: nil,
            saveSnippetAction: place.href("/snippets"), deleteSnippetAction: place.href("/snippets/delete"),
            cli: "branch sql \"…\" --branch \(place.branch) --project \(place.project)" + (mayWrite ? "" : " --read-only"))
        model.mayWrite = mayWrite
        model.viewerReadOnly = !mayWrite && mayRun
        model.choose(RunAs())
        try await refreshLists(&model, place: place)
        return model
    }

    func refreshLists(_ model: inout SQLEditorModel, place: Place) async throws {
        let project = place.project
        let all = try await environment.call("listSnippets", project: project) {
            try await $0.listSnippets(.init(path: .init(project: project))).ok.body.json.snippets
        }
        func view(_ snippet: Components.Schemas.Snippet) -> SQLEditorModel.Snippet {
            .init(
                id: snippet.id, name: snippet.name, author: snippet.author, when: Formatting.age(snippet.updatedAt),
                href: place.href(extra: [("snippet", snippet.id)]), sql: snippet.sql, folder: snippet.folder)
        }
        model.snippets = all.filter { $0.kind == "snippet" }.map(view)
        // The API lists them by folder, then name: one group per folder, the unfiled first.
        model.folders = Dictionary(grouping: model.snippets, by: \.folder).sorted { $0.key < $1.key }.map { .init(name: $0.key, snippets: $0.value) }
        model.folderNames = model.folders.map(\.name).filter { !$0.isEmpty }
        model.history = all.filter { $0.kind == "history" }.map(view)
        model.hasSnippets = !model.snippets.isEmpty
        model.hasHistory = !model.history.isEmpty
    }

    func render(_ model: SQLEditorModel, place: Place, status: HTTPResponse.Status = .ok) async throws -> Response {
        var cli = "branch sql \"…\" --branch \(place.branch) --project \(place.project)"
        if let at = place.at { cli = "branch create tmp --from \(place.branch) --at \(at) --project \(place.project) && branch sql \"…\" --read-only --branch tmp --project \(place.project)" }
        return try await environment.page(
            "sql", title: "SQL editor", project: place.project, branch: place.branch, point: place.at, section: .sql, cli: cli,
            script: "sql-editor.js", status: status, body: model)
    }
}
