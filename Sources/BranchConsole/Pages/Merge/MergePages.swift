import BranchAPI
import Foundation
import Hummingbird

/// `/projects/{p}/merge?source=B&target=T`: a three-way merge. The engine finds the base (the
/// source's base snapshot); the page shows base → ours (the target) and base → theirs (the
/// source), a dry run's plan and its conflicts with a choice per row, then applies it. The result
/// links the pre-merge snapshot and offers "Undo merge" (an in-place restore of it).
struct MergePages: Sendable {
    let environment: ConsoleEnvironment

    func register<Context: RequestContext>(on pages: RouterGroup<Context>) {
        let page = MergePage(environment: environment)
        pages.get("/projects/:project/merge") { request, context -> Response in
            try await page.render(project: try DiffPages.project(context), query: FormFields(request.uri.query ?? ""))
        }
        pages.post("/projects/:project/merge") { request, context -> Response in
            try await page.submit(project: try DiffPages.project(context), form: try await environment.form(request))
        }
        pages.post("/projects/:project/merge/undo") { request, context -> Response in
            try await undo(project: try DiffPages.project(context), form: try await environment.form(request))
        }
    }

    /// Restores `branch` in place from `snapshot` (the state a merge or an apply replaced).
    func undo(project: String, form: FormFields) async throws -> Response {
        guard let snapshot = form.text("snapshot"), let branch = form.text("branch") else {
            throw ConsoleFailure(status: 400, code: "invalid_request", message: "Undo needs the snapshot and the branch.")
        }
        let back = form.text("back").flatMap { $0.hasPrefix("/projects/") && !$0.hasPrefix("//") ? $0 : nil }
            ?? "/projects/\(ConsolePath.segment(project))/merge"
        do {
            let result = try await environment.call("restoreSnapshot", project: project, changes: true, target: "\(branch) from snapshot \(snapshot)") {
                try await $0.restoreSnapshot(.init(path: .init(project: project, snapshot: snapshot), body: .json(.init(branch: branch, inPlace: true))))
                    .ok.body.json
            }
            let replaced = result.replacedStateSnapshot.map { " The state it replaced is snapshot \($0.id)." } ?? ""
            return environment.redirect(back, flash: "Restored \(branch) from snapshot \(snapshot).\(replaced)")
        } catch let failure as ConsoleFailure where failure.status != 403 && failure.status != 404 {
            return environment.redirect(back, flash: "\(failure.message) (\(failure.code))", error: true)
        }
    }
}
