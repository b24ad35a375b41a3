import BranchAPI
import Foundation
import MCP

/// get_schema, get_agent_brief: the documents a branch's data API serves about itself, read with
/// the project's service_role key.
enum DocumentTools {
    static let all = [schema, brief]

    static let branchProperty = ToolProperty.string("branch", "The branch (default: the checked-out one).")

    static let schema = ToolSpec(
        name: "get_schema", title: "Get a branch's schema",
        description: """
            Answers the OpenAPI document of a branch's data API (the Supabase-compatible REST API): every \
            table, view and function with its columns, types, nullability, defaults, foreign keys and \
            comments, and an example per operation. Read it before writing queries or migrations instead of \
            guessing names. It follows the branch's current schema (it is regenerated after each migration).
            """,
        properties: [.project, branchProperty], readOnly: true
    ) { arguments, context in
        let place = try await DataAPIPlace.resolve(try arguments.project(), branch: try arguments.optionalString("branch"), context)
        let document = try await place.fetch("/openapi.json", accept: "application/json", context)
        if document.status == 200, let value = try? PlainJSON.value(from: document.body), value.objectValue != nil {
            return ToolOutput.object(value)
        }
        // A service without the per-branch document still serves the REST API's root document
        // (Swagger 2.0, as PostgREST does): it names the same tables and columns.
        let root = try await place.fetch("/rest/v1/", accept: "application/openapi+json", context)
        guard root.status == 200, let value = try? PlainJSON.value(from: root.body), value.objectValue != nil else {
            throw ToolFailure.fromAPI(status: document.status, body: document.body)
        }
        var result = ToolOutput.object(value)
        let note = "This service has no OpenAPI 3.1 document per branch yet: this is its REST API's Swagger 2.0 document."
        result = CallTool.Result(
            content: [.text(text: note, annotations: nil, _meta: nil)] + result.content, structuredContent: result.structuredContent)
        return result
    }

    static let brief = ToolSpec(
        name: "get_agent_brief", title: "Get the agent brief",
        description: """
            Answers a branch's brief for agents, in Markdown, to read in one go: its schema and relations, \
            its row-level security policies in words, example calls per table (supabase-js, supabase-py, \
            curl), how to change the schema safely (check_migration, apply_migration, rollback_migration), \
            what each key may do and the limits.
            """,
        properties: [.project, branchProperty], readOnly: true
    ) { arguments, context in
        let place = try await DataAPIPlace.resolve(try arguments.project(), branch: try arguments.optionalString("branch"), context)
        let document = try await place.fetch("/ai-spec.md", accept: "text/markdown", context)
        guard document.status == 200 else {
            var failure = ToolFailure.fromAPI(status: document.status, body: document.body)
            if document.status == 404 || document.status == 401 || failure.code.hasPrefix("http_") {
                failure = ToolFailure(
                    code: "brief_unavailable", message: "This service does not serve an agent brief for the branch (HTTP \(document.status)).",
                    hint: "get_schema answers the branch's API document.", httpStatus: document.status)
            }
            throw failure
        }
        return ToolOutput.text(String(decoding: document.body, as: UTF8.self))
    }
}

/// Where a branch's data API lives and the key it takes: `/p/<project>[/b/<branch>]` with the
/// project's service_role key, from the project's keys. A caller whose key may not read the keys
/// uses its own key there.
struct DataAPIPlace {
    let prefix: String
    let key: String?

    static func resolve(_ project: String, branch: String?, _ context: ToolContext) async throws -> DataAPIPlace {
        var base = "/p/\(project.pathEscaped)"
        var key = context.connection.token
        do {
            let keys = try await context.api.getProjectKeys(path: .init(project: project)).ok.body.json
            base = keys.path
            key = keys.serviceRoleKey
        } catch {
            let unwrapped = APIConnection.unwrapped(error)
            // A project that does not exist is the answer; a key that may not read keys is not.
            guard let failure = unwrapped as? ToolFailure, failure.httpStatus == 401 || failure.httpStatus == 403 else { throw unwrapped }
        }
        return DataAPIPlace(prefix: base + (branch.map { "/b/\($0.pathEscaped)" } ?? ""), key: key)
    }

    func fetch(_ document: String, accept: String, _ context: ToolContext) async throws -> (status: Int, body: Data) {
        try await context.connection.fetch(path: prefix + document, key: key, accept: accept)
    }
}

extension String {
    /// The string as one path segment.
    var pathEscaped: String {
        addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? self
    }
}
