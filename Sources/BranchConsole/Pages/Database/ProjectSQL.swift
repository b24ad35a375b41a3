/// Fixed, parameterised reads on a branch for the database page's catalog queries, through
/// `EditorSQL` (so `runSQL` for developers and owners, the read-only `querySQL` for viewers, and
/// values as text the same way), with a shorter timeout.
struct ProjectSQL: Sendable {
    let environment: ConsoleEnvironment
    let project: String
    let branch: String

    /// The rows of the first statement's result, every value as text (nil for SQL NULL).
    func rows(_ query: String, _ params: [String?] = []) async throws -> [[String?]] {
        try await EditorSQL(environment: environment, project: project, branch: branch).run(query, params, timeoutMs: 10_000).first?.rows ?? []
    }
}
