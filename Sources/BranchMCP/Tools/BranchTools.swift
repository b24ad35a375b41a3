import BranchAPI
import BranchCore
import Foundation

/// list_branches, create_branch, delete_branch, checkout_branch.
enum BranchTools {
    static let all = [list, create, delete, checkout]

    static let list = ToolSpec(
        name: "list_branches", title: "List branches",
        description: """
            Lists a project's branches: name, parent, state (running, suspended, stopped), port, which one \
            is checked out (the one the project's pooled URL reaches) and the bytes only it holds.
            """,
        properties: [.project], readOnly: true
    ) { arguments, context in
        try ToolOutput.json(encoding: try await context.api.listBranches(path: .init(project: try arguments.project())).ok.body.json)
    }

    static let create = ToolSpec(
        name: "create_branch", title: "Create a branch",
        description: """
            Creates a branch: an instant copy-on-write copy of another branch (default main), of a snapshot, \
            or of a branch as it was at an instant, with its own running Postgres. Takes well under a \
            second whatever the database's size. Use one to try a change (a migration, a data fix) without \
            touching main, then diff it against main.
            """,
        properties: [
            .project,
            .string("name", "The new branch's name: lowercase letters, digits and '-'.", required: true),
            .string("from", "The branch to copy (default: main)."),
            .string("snapshot", "A snapshot (id or name) to start from instead of a branch."),
            .string(
                "at",
                "Copy the source branch as it was at this point: an instant in ISO 8601 (2026-11-21T10:15:30Z), a time ago (15m-ago, 2h-ago), or a WAL position of its current history (0/16B3748, what SELECT pg_current_wal_lsn() gave). Needs point-in-time history."),
        ]
    ) { arguments, context in
        let point = try arguments.optionalString("at").map { text -> PastPoint in
            guard let point = PastPoint.parse(text) else {
                throw ToolFailure.invalidArgument(
                    "'at': '\(text)' is not an instant or a WAL position; use ISO 8601 like 2026-11-21T10:15:30Z, 15m-ago, or 0/16B3748.")
            }
            return point
        }
        let request = Components.Schemas.CreateBranchRequest(
            at: point?.instant, atLsn: point?.position?.description, from: try arguments.optionalString("from"), name: try arguments.string("name"),
            snapshot: try arguments.optionalString("snapshot"))
        return try ToolOutput.json(
            encoding: try await context.api.createBranch(path: .init(project: try arguments.project()), body: .json(request)).created.body.json)
    }

    static let delete = ToolSpec(
        name: "delete_branch", title: "Delete a branch",
        description: """
            Deletes a branch and its data. main, the checked-out branch or a branch with children needs \
            force (children keep their data and move under its parent). There is no undo: take a snapshot \
            first if the data may be needed.
            """,
        properties: [
            .project, .string("branch", "The branch to delete.", required: true),
            .bool("force", "Also delete main or a branch with children (default false)."),
        ],
        destructive: true, idempotent: true
    ) { arguments, context in
        let result = try await context.api.deleteBranch(
            path: .init(project: try arguments.project(), branch: try arguments.string("branch")),
            query: .init(force: try arguments.optionalBool("force"))
        ).ok.body.json
        return try ToolOutput.json(encoding: result)
    }

    static let checkout = ToolSpec(
        name: "checkout_branch", title: "Check out a branch",
        description: """
            Points the project's pooled connection URL (the one apps use) at a branch: new connections reach \
            it, without the app changing its configuration. Answers the previous and the new branch.
            """,
        properties: [.project, .string("branch", "The branch the project's pooled URL should reach.", required: true)],
        idempotent: true
    ) { arguments, context in
        let result = try await context.api.checkout(
            path: .init(project: try arguments.project()), body: .json(.init(branch: try arguments.string("branch")))
        ).ok.body.json
        return try ToolOutput.json(encoding: result)
    }
}
