import BranchStorage
import BranchCatalog
import BranchCore
import BranchPostgres
import BranchSystem
import Foundation

extension Restores {
    /// Replaces one table's rows in a branch (default: the snapshot's) with its rows in a snapshot,
    /// in one transaction, after snapshotting the branch so this can be undone. A table the branch
    /// lacks is created from the snapshot's definition first.
    func restoreTable(project projectName: String, snapshot idOrName: String, table: String, into target: String?) async throws
        -> BranchChange
    {
        let projectKey = try ResourceName(validating: projectName, kind: "project name")
        guard !table.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw EngineError.invalidRequest("The table to restore has no name.", hint: "Name it as `table` or `schema.table`.")
        }
        return try await context.withProjectLock(projectKey.rawValue, checking: { tx in
            let project = try tx.requireProject(projectName)
            let snapshot = try tx.requireSnapshot(project.name, idOrName)
            return (project, snapshot, try tx.requireBranch(project.name, target ?? snapshot.sourceBranch.rawValue))
        }) { (project, snapshot, branch) in
            try await servers.resumeIfSuspended(branch, cause: "a table restore was asked for")
            let (previous, timing) = try await journal.run("table.restore", project: project.name, target: "\(branch.name):\(table)") { op in
                let previous = try await snapshots.take(of: branch, kind: .preRestore, name: nil, op: op)
                await FaultInjection.point("table.restore.after-snapshot")
                try await withScratchServer(context, from: layout.snapshot(project.name, snapshot.id), name: op.id) { scratch in
                    try await op.step("copy rows") { try await copyTable(table, from: scratch, into: branch, project: project) }
                }
                return previous
            }
            return BranchChange(
                branch: try await presenter.branch(branch, project: project), replacedState: try await presenter.snapshot(previous),
                operation: timing)
        }
    }

    /// `schema.table` of the table `name` names in `connection`'s database; nil when there is none,
    /// also for a name Postgres cannot parse (unbalanced quotes).
    private static func qualifiedName(of name: String, on connection: PGConnection) async throws -> String? {
        do {
            return try await connection.query("""
                SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.oid = to_regclass($1)
                """, [name]).scalar
        } catch where error.sqlState != nil {
            return nil
        }
    }

    private func copyTable(_ table: String, from scratch: ScratchServer, into branch: BranchRecord, project: ProjectRecord) async throws {
        let source = try await PGConnection.connect(scratch.connection(database: project.database))
        defer { source.close() }
        let named = try await Self.qualifiedName(of: table, on: source)
        guard let qualified = named else {
            throw EngineError(.tableNotFound, "The snapshot has no table '\(table)'.")
        }
        let columns = try await source.query("""
            SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
            WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
            """, [qualified]).scalar ?? ""
        let target = try await PGConnection.connect(servers.databaseConnection(branch, database: project.database))
        defer { target.close() }
        if try await target.query("SELECT to_regclass($1)", [qualified]).scalar == nil {
            let dump = try await Command.run(
                installation.tool("pg_dump"),
                ["--no-password", "--schema-only", "-h", scratch.sockets, "-p", String(scratch.port), "-U", ClusterFiles.superuser,
                 "-d", project.database, "-t", qualified])
            try await target.executeDump(dump.stdout)
        }
        try await target.execute("BEGIN")
        do {
            try await target.execute("TRUNCATE ONLY \(qualified)")
            await FaultInjection.point("table.restore.after-truncate")
            try await source.beginCopyOut("COPY \(qualified) (\(columns)) TO STDOUT")
            try await target.beginCopyIn("COPY \(qualified) (\(columns)) FROM STDIN")
            while let piece = try await source.readCopy() { try await target.writeCopy(piece) }
            try await target.endCopyIn()
            try await target.execute("COMMIT")
        } catch {
            _ = try? await target.execute("ROLLBACK")
            throw error
        }
    }
}
