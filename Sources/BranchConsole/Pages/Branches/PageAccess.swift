import BranchAPI
import Foundation
import Hummingbird

/// The role checks pages make to hide what the signed-in user may not press (the gateway refuses
/// it anyway).
enum PageAccess {
    static func mayWrite(_ project: String) -> Bool {
        ConsoleSession.current?.viewer.may(.developer, in: project) ?? false
    }

    /// Refuses a form of someone who may not change `project`: 404 for a project they may not see
    /// (the gateway says so), 403 for a viewer.
    static func requireWrite(_ environment: ConsoleEnvironment, project: String) async throws {
        _ = try await environment.call("getProject", project: project) { try await $0.getProject(.init(path: .init(project: project))).ok.body.json.name }
        guard mayWrite(project) else {
            throw ConsoleFailure(status: 403, code: "forbidden", message: "Your role in \(project) may only look, not change anything.")
        }
    }

    /// Runs a form action; an API refusal (not signed in, not allowed, not found) is rethrown so the
    /// answer keeps its status (the error page), any other failure becomes a flash on `back`.
    static func action(
        _ environment: ConsoleEnvironment, back: String, _ body: () async throws -> Response
    ) async throws -> Response {
        do {
            return try await body()
        } catch let failure as ConsoleFailure where ![401, 403, 404].contains(failure.status) {
            let hint = failure.hint.map { " \($0)" } ?? ""
            return environment.redirect(back, flash: "\(failure.message)\(hint) (\(failure.code))", error: true)
        }
    }

    /// A same-site path under the project to go back to after a form, else `fallback`.
    static func back(_ value: String?, project: String, fallback: String) -> String {
        guard let value, value.hasPrefix("/projects/\(ConsolePath.segment(project))"), !value.contains("//") else { return fallback }
        return value
    }
}
