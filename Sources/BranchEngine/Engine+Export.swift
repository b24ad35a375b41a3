public import BranchAPI
import BranchCatalog
import BranchCore
import BranchSystem
import BranchPostgres
import BranchRuntime
import BranchStorage
import Foundation

extension Engine {
    /// A logical export of a branch, streamed: `sql` is pg_dump's plain SQL; `json` is JSON Lines,
    /// one `{"table": "schema.name", "row": {…}}` per row, read in one repeatable-read transaction.
    public func export(project projectName: String, branch name: String, format: String, table: String?) async throws
        -> AsyncThrowingStream<[UInt8], any Error>
    {
        guard ["sql", "json"].contains(format) else {
            throw EngineError.invalidRequest("Export format '\(format)' is not known.", hint: "Use sql or json.")
        }
        let (project, branch) = try await catalog.read { tx in
            let project = try self.requireProject(projectName, in: tx)
            return (project, try self.requireBranch(project.name, name, in: tx))
        }
        try await resumeIfSuspended(branch, cause: "an export was asked for")
        let spec = spec(branch)
        guard runtime.state(spec).isRunning else {
            throw EngineError(.branchStopped, "Branch '\(name)' is stopped.", hint: "Start it with `branch start \(name)`.")
        }
        var database = spec.superuserConnection
        database.database = project.database
        if let table {
            let connection = try await PGConnection.connect(database)
            guard try await connection.query("SELECT to_regclass($1)", [table]).scalar != nil else {
                throw EngineError(.tableNotFound, "Branch '\(name)' has no table '\(table)'.")
            }
        }
        return format == "sql" ? try sqlDump(database, table: table) : jsonLines(database, table: table)
    }

    private func sqlDump(_ info: ConnectionInfo, table: String?) throws -> AsyncThrowingStream<[UInt8], any Error> {
        var arguments = ["--no-password", "-h", info.host, "-p", String(info.port), "-U", info.user, "-d", info.database]
        if let table { arguments += ["-t", table] }
        let dump = try StreamingProcess(installation.tool("pg_dump"), arguments)
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    for try await piece in dump.output(pieceSize: 256 << 10) { continuation.yield(piece) }
                    let (status, errors) = await dump.wait()
                    if status != 0 { throw PostgresError(.postgresQueryFailed, "pg_dump failed: \(errors)") }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in
                task.cancel()
                dump.terminate()
            }
        }
    }

    private func jsonLines(_ info: ConnectionInfo, table: String?) -> AsyncThrowingStream<[UInt8], any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    let connection = try await PGConnection.connect(info)
                    try await connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    let tables: [String]
                    if let table {
                        tables = [try await connection.query("SELECT to_regclass($1)::text", [table]).scalar ?? table]
                    } else {
                        tables = try await connection.query("""
                            SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                            WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
                            ORDER BY 1
                            """).rows.compactMap { $0.first ?? nil }
                    }
                    for name in tables {
                        try await connection.execute("""
                            DECLARE export_rows NO SCROLL CURSOR FOR
                            SELECT json_build_object('table', \(SQL.literal(name)), 'row', to_jsonb(t))::text FROM \(name) t
                            """)
                        while !Task.isCancelled {
                            let batch = try await connection.execute("FETCH 1000 FROM export_rows")
                            if batch.rows.isEmpty { break }
                            var piece: [UInt8] = []
                            for row in batch.rows {
                                piece.append(contentsOf: (row.first.flatMap { $0 } ?? "null").utf8)
                                piece.append(0x0A)
                            }
                            continuation.yield(piece)
                        }
                        try await connection.execute("CLOSE export_rows")
                    }
                    try await connection.execute("COMMIT")
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Replaces one table's rows in a branch (default: the snapshot's) with its rows in a snapshot,
    /// in one transaction, after snapshotting the branch so this can be undone. A table the branch
    /// lacks is created from the snapshot's definition first.
    public func restoreTable(project projectName: String, snapshot idOrName: String, table: String, into target: String?) async throws
        -> BranchResult
    {
        let projectKey = try ResourceName(validating: projectName, kind: "project name")
        return try await withProjectLock(projectKey.rawValue, checking: { tx in
            let project = try self.requireProject(projectName, in: tx)
            let snapshot = try self.requireSnapshot(project.name, idOrName, in: tx)
            return (project, snapshot, try self.requireBranch(project.name, target ?? snapshot.sourceBranch.rawValue, in: tx))
        }) { (project, snapshot, branch) in
            try await resumeIfSuspended(branch, cause: "a table restore was asked for")
            let (previous, timing) = try await journal.run("table.restore", project: project.name, target: "\(branch.name):\(table)") { op in
                let previous = try await self.takeSnapshot(of: branch, kind: .preRestore, name: nil, op: op)
                let scratch = try await op.step("scratch server") {
                    try await ScratchServer.start(engine: self, from: self.layout.snapshot(project.name, snapshot.id), name: op.id)
                }
                do {
                    try await op.step("copy rows") { try await self.copyTable(table, from: scratch, into: branch, project: project) }
                } catch {
                    await scratch.stop()
                    throw error
                }
                await scratch.stop()
                return previous
            }
            return BranchResult(
                branch: try await branchInfo(branch, project: project), replacedStateSnapshot: try await snapshotInfo(previous), operation: timing)
        }
    }

    private func copyTable(_ table: String, from scratch: ScratchServer, into branch: BranchRecord, project: ProjectRecord) async throws {
        let source = try await PGConnection.connect(scratch.connection(database: project.database))
        let named = try await source.query("""
            SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.oid = to_regclass($1)
            """, [table])
        guard let qualified = named.scalar else {
            throw EngineError(.tableNotFound, "The snapshot has no table '\(table)'.")
        }
        let columns = try await source.query("""
            SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
            WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
            """, [qualified]).scalar ?? ""
        var targetInfo = spec(branch).superuserConnection
        targetInfo.database = project.database
        let target = try await PGConnection.connect(targetInfo)
        if try await target.query("SELECT to_regclass($1)", [qualified]).scalar == nil {
            let dump = try await Command.run(
                installation.tool("pg_dump"),
                ["--no-password", "--schema-only", "-h", scratch.sockets, "-p", String(scratch.port), "-U", ClusterFiles.superuser,
                 "-d", project.database, "-t", qualified])
            // Recent pg_dump brackets its output in psql meta-commands (\\restrict …); libpq runs SQL only.
            let sql = dump.stdout.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("\\") }.joined(separator: "\n")
            try await target.execute(sql)
            try await target.execute("SET search_path TO DEFAULT")
        }
        try await target.execute("BEGIN")
        do {
            try await target.execute("TRUNCATE ONLY \(qualified)")
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
