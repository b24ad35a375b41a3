import BranchAPI
import Foundation
import HTTPTypes
import Hummingbird

/// "Import a database": the dashboard's form posts to `/imports`, which starts a `project.import`
/// job and sends the browser to `/imports/{job}`: the progress, server-rendered and refreshed by
/// the browser itself (a `Refresh` header, no script) while it runs; then the report, or the error
/// with the form again.
struct ImportPages: Sendable {
    let environment: ConsoleEnvironment

    static func href(job: String) -> String { "/imports/\(ConsolePath.segment(job))" }

    /// Seconds between two loads of a running job's page.
    static let refreshSeconds = 2

    func register<Context: RequestContext>(on pages: RouterGroup<Context>) {
        pages.post("/imports") { request, _ -> Response in try await start(request) }
        pages.get("/imports/:job") { _, context -> Response in
            try await job(try context.parameters.require("job"))
        }
    }

    func start(_ request: Request) async throws -> Response {
        let fields = try await environment.form(request)
        var form = ImportForm(fields)
        let source = fields.text("from")
        let body: Components.Schemas.ImportProjectRequest
        switch form.request(from: source) {
        case .success(let request): body = request
        case .failure(let problem):
            form.importError = problem.message
            return try await ProjectsPages(environment: environment).dashboard(status: .unprocessableContent, importForm: form)
        }
        do {
            let job = try await environment.call("importProject", changes: true, target: "project \(form.importName)") {
                try await $0.importProject(.init(body: .json(body))).accepted.body.json
            }
            return environment.redirect(Self.href(job: job.id), flash: "Import of \(form.importName) started.")
        } catch let failure as ConsoleFailure where failure.status != 401 {
            // A bad URL, a wrong password, a refusal of the source: said next to the form, the URL not filled in again.
            form.importError = ImportForm.redacting("\(failure.message) (\(failure.code))", source: source)
            form.importHint = failure.hint.map { ImportForm.redacting($0, source: source) }
            return try await ProjectsPages(environment: environment).dashboard(status: .init(code: failure.status), importForm: form)
        }
    }

    func job(_ id: String) async throws -> Response {
        let job = try await environment.call("getJob") { try await $0.getJob(.init(path: .init(job: id))).ok.body.json }
        guard job.kind == "project.import" else { throw ConsoleFailure.notFound("Import \(id)") }
        let model = ImportJobModel(job)
        let title = "Import of \(model.project.isEmpty ? id : model.project) · \(job.status)"
        let cli = model.report.map { "branch project show \($0.project)" }
            ?? "branch project import \(model.project.isEmpty ? "NAME" : model.project) --from 'postgres://USER:PASSWORD@HOST:PORT/DATABASE'"
        var response = try await environment.page("import-job", title: title, instance: .projects, cli: cli, body: model)
        if model.running { response.headers[HTTPField.Name("Refresh")!] = String(Self.refreshSeconds) }
        return response
    }
}
