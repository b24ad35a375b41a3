import BranchAPI
import Foundation
import MCP
import OpenAPIRuntime

/// run_sql.
enum SQLTools {
    static let all = [runSQL]

    static let runSQL = ToolSpec(
        name: "run_sql", title: "Run SQL",
        description: """
            Runs SQL on a branch as the project's owner role and answers one result per statement: command, \
            columns (name and Postgres type), rows as arrays, row count, duration and notices. All the \
            statements run in one transaction: if one fails, none has any effect, and the error names the \
            statement's index, SQLSTATE and position. int8 and numeric values come as strings when JSON \
            numbers would lose precision; large results are cut off (truncated: true). For schema changes \
            prefer apply_migration, which records them and can be rolled back.
            """,
        properties: [
            .project,
            .string("branch", "The branch to run it on (e.g. main, or a branch made to try things).", required: true),
            .string("query", "One or more SQL statements separated by semicolons.", required: true),
            .list("params", "Values for $1, $2…: strings, numbers, booleans, null, or JSON. Needs a query of exactly one statement."),
            .bool("readOnly", "Run in a read-only transaction: nothing can be changed (default false)."),
            .integer("timeoutMs", "Statement timeout in milliseconds (default 30000).", minimum: 1, maximum: 3_600_000),
        ]
    ) { arguments, context in
        let request = Components.Schemas.SQLRequest(
            params: try arguments.optionalList("params").map(SQLParameters.containers),
            query: try arguments.text("query"), readOnly: try arguments.optionalBool("readOnly"),
            timeoutMs: try arguments.optionalInt("timeoutMs", in: 1...3_600_000))
        let result = try await context.api.runSQL(
            path: .init(project: try arguments.project(), branch: try arguments.string("branch")), body: .json(request)
        ).ok.body.json
        return try ToolOutput.json(encoding: result)
    }
}

/// SQL parameters as the generated client sends them: any JSON value.
enum SQLParameters {
    static func containers(_ values: [Value]) throws -> [OpenAPIValueContainer] {
        try values.map { value in
            let data = try JSONEncoder().encode(value)
            return try JSONDecoder().decode(OpenAPIValueContainer.self, from: data)
        }
    }
}
