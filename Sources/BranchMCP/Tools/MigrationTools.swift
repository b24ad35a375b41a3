import BranchAPI
import MCP

/// check_migration, apply_migration, list_migrations, rollback_migration.
enum MigrationTools {
    static let all = [check, apply, list, rollback]

    static let migrationProperties: [ToolProperty] = [
        .project,
        .string("branch", "The branch to migrate.", required: true),
        .string("name", "A short name for the migration, like create_todos.", required: true),
        .string("sql", "The migration: SQL statements, run in one transaction (so not CREATE INDEX CONCURRENTLY or VACUUM).", required: true),
        .string("down", "SQL that undoes it, run by rollback_migration (without it, a rollback restores the snapshot taken before)."),
    ]

    static let check = ToolSpec(
        name: "check_migration", title: "Check a migration",
        description: """
            Tries a migration on a throw-away copy of the branch and reports what it would do, leaving the \
            branch untouched: whether it applies (ok, or the error with its statement and position), the \
            schema changes classified additive or breaking, the REST endpoints and columns that would \
            change, the rows affected and the time taken. Run this before apply_migration.
            """,
        properties: migrationProperties, readOnly: true
    ) { arguments, context in
        try await migrate(arguments, context, check: true)
    }

    static let apply = ToolSpec(
        name: "apply_migration", title: "Apply a migration",
        description: """
            Applies a migration to a branch: a snapshot of the branch first, then its SQL in one transaction, \
            so it applies completely or not at all, then a record in the branch's migration history \
            (version, name, checksum). A failure (code migration_failed) changes nothing and names the \
            statement, SQLSTATE and position. The data API sees the new schema on its next request.
            """,
        properties: migrationProperties + [.string("version", "Digits that order migrations (default: the current UTC time as YYYYMMDDHHMMSS).")]
    ) { arguments, context in
        try await migrate(arguments, context, check: false)
    }

    static func migrate(_ arguments: ToolArguments, _ context: ToolContext, check: Bool) async throws -> CallTool.Result {
        let request = Components.Schemas.MigrationRequest(
            down: try arguments.optionalString("down"), name: try arguments.string("name"), sql: try arguments.text("sql"),
            version: check ? nil : try arguments.optionalString("version"))
        let output = try await context.api.applyMigration(
            path: .init(project: try arguments.project(), branch: try arguments.string("branch")),
            query: .init(check: check ? true : nil), body: .json(request))
        switch output {
        case .created(let created): return try ToolOutput.json(encoding: try created.body.json)
        case .ok(let checked): return try ToolOutput.json(encoding: try checked.body.json)
        default: throw ToolFailure(code: "bad_response", message: "The service answered the migration with an unexpected status.")
        }
    }

    static let list = ToolSpec(
        name: "list_migrations", title: "List migrations",
        description: """
            Lists the migrations applied to a branch, oldest first: version, name, checksum, when and how \
            long. The history lives in the branch's own database, so a branch carries its parent's history \
            from the moment it was made.
            """,
        properties: [.project, .string("branch", "The branch.", required: true)], readOnly: true
    ) { arguments, context in
        let result = try await context.api.listMigrations(
            path: .init(project: try arguments.project(), branch: try arguments.string("branch"))
        ).ok.body.json
        return try ToolOutput.json(encoding: result)
    }

    static let rollback = ToolSpec(
        name: "rollback_migration", title: "Roll back a migration",
        description: """
            Rolls back a migration: runs its down script if it has one, else restores the snapshot taken \
            before it. Without confirm it is a dry run that changes nothing and lists the writes made since \
            the migration that would be lost; call again with confirm: true to roll back.
            """,
        properties: [
            .project,
            .string("branch", "The branch.", required: true),
            .string("version", "The migration's version (list_migrations shows them).", required: true),
            .bool("confirm", "Roll back for real (default false: a dry run)."),
        ],
        destructive: true
    ) { arguments, context in
        let result = try await context.api.rollbackMigration(
            path: .init(project: try arguments.project(), branch: try arguments.string("branch"), version: try arguments.string("version")),
            query: .init(confirm: try arguments.optionalBool("confirm"))
        ).ok.body.json
        return try ToolOutput.json(encoding: result)
    }
}
