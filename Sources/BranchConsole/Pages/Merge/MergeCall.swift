import BranchAPI
import Foundation

/// One call of the API's merge as the console makes it: the merge page's dry runs and merges, and
/// the rehearsal's merge into a temporary copy of the target.
struct MergeCall: Sendable {
    let environment: ConsoleEnvironment
    let project: String
    let source: String
    let prefer: String?
    let resolutions: [Components.Schemas.MergeResolution]
    let allowDestructive: Bool

    /// Merges `source` into `target` (or plans it, with `dryRun`); `audit` names it in the audit log.
    func run(into target: String, dryRun: Bool, audit: String) async throws -> Components.Schemas.MergeResult {
        let project = project
        let body: Operations.Merge.Input.Body = .json(.init(
            allowDestructive: allowDestructive, dryRun: dryRun, into: target, prefer: prefer,
            resolutions: resolutions.isEmpty ? nil : resolutions, source: source))
        return try await environment.call("merge", project: project, changes: !dryRun, target: audit) {
            try await $0.merge(.init(path: .init(project: project), body: body)).ok.body.json
        }
    }
}
