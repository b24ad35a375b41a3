import BranchAPI

/// create_snapshot, restore_snapshot.
enum SnapshotTools {
    static let all = [create, restore]

    static let create = ToolSpec(
        name: "create_snapshot", title: "Take a snapshot",
        description: """
            Takes a read-only snapshot of a branch (default: the checked-out one) in milliseconds, whatever \
            its size. Restore it later as a new branch or into a branch in place, or diff against it.
            """,
        properties: [
            .project,
            .string("branch", "The branch to snapshot (default: the checked-out one)."),
            .string("name", "A name to find it by (e.g. before-cleanup)."),
        ]
    ) { arguments, context in
        let result = try await context.api.createSnapshot(
            path: .init(project: try arguments.project()),
            body: .json(.init(branch: try arguments.optionalString("branch"), name: try arguments.optionalString("name")))
        ).created.body.json
        return try ToolOutput.json(encoding: result)
    }

    static let restore = ToolSpec(
        name: "restore_snapshot", title: "Restore a snapshot",
        description: """
            Restores a snapshot, either as a new branch (as) or into a branch in place (inPlace, into the \
            snapshot's own branch unless branch names another); with table, only that table is restored. \
            An in-place restore snapshots the state it replaces first and answers its id, so it can be \
            undone with another restore.
            """,
        properties: [
            .project,
            .string("snapshot", "The snapshot's id or name.", required: true),
            .string("as", "Restore as a new branch with this name."),
            .bool("inPlace", "Restore into an existing branch, replacing its state (default false)."),
            .string("branch", "With inPlace: the branch to restore into (default: the snapshot's own)."),
            .string("table", "Only this table (table or schema.table)."),
        ],
        destructive: true
    ) { arguments, context in
        let request = Components.Schemas.RestoreRequest(
            _as: try arguments.optionalString("as"), branch: try arguments.optionalString("branch"),
            inPlace: try arguments.optionalBool("inPlace"), table: try arguments.optionalString("table"))
        let result = try await context.api.restoreSnapshot(
            path: .init(project: try arguments.project(), snapshot: try arguments.string("snapshot")), body: .json(request)
        ).ok.body.json
        return try ToolOutput.json(encoding: result)
    }
}
