import BranchCatalog
package import BranchCore

extension Projects {
    /// The networks a project's clients may come from (open when there is no such project), from
    /// memory: the HTTP API asks on every request (see `Catalog.allowlist(of:)`).
    package func allowlist(of project: String) async throws -> Allowlist {
        try await catalog.allowlist(of: project)
    }
}
