import BranchAPI

/// list_projects, create_project.
enum ProjectTools {
    static let all = [list, create]

    static let list = ToolSpec(
        name: "list_projects", title: "List projects",
        description: """
            Lists every project on this Branch service: its name, Postgres version, checked-out branch, \
            branch count and size. A project is one Postgres database with any number of copy-on-write \
            branches (main is the first).
            """,
        properties: [], readOnly: true
    ) { _, context in
        try ToolOutput.json(encoding: try await context.api.listProjects().ok.body.json)
    }

    static let create = ToolSpec(
        name: "create_project", title: "Create a project",
        description: """
            Creates a project: its own Postgres database with a running main branch. Answers the project, \
            its pooled connection URL and its data API keys (anon and service_role, for Supabase clients).
            """,
        properties: [.string("name", "The new project's name: lowercase letters, digits and '-', starting with a letter.", required: true)]
    ) { arguments, context in
        let name = try arguments.string("name")
        return try ToolOutput.json(encoding: try await context.api.createProject(body: .json(.init(name: name))).created.body.json)
    }
}
