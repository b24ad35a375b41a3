import Foundation

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

    /// Several fixed reads in one call (one connection, one round trip): each query's rows, in
    /// order. `$1` in a query is `schema`, inlined as a quoted literal (a simple-protocol script
    /// takes no parameters); the queries themselves are the console's own constants.
    func batch(_ queries: [String], schema: String) async throws -> [[[String?]]] {
        let literal = try SQLQuoting.literal(schema)
        let script = queries.map { $0.replacingOccurrences(of: "$1", with: literal) }.joined(separator: ";\n")
        let results = try await EditorSQL(environment: environment, project: project, branch: branch).run(script, timeoutMs: 10_000)
        guard results.count == queries.count else {
            throw ConsoleFailure(status: 500, code: "internal_error", message: "The catalog reads returned \(results.count) results for \(queries.count) queries.")
        }
        return results.map(\.rows)
    }
}
