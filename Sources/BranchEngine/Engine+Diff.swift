public import BranchAPI
import BranchBackup
import BranchCatalog
import BranchCore
import BranchDiff
import BranchPostgres
import BranchRuntime
import BranchStorage
import Foundation
import Logging

/// One side of a diff: where to read it, and how to put away what was started for it.
struct DiffSide: Sendable {
    let label: String
    let connection: ConnectionInfo
    /// The server's data directory, readable by the service (every side is on the pool).
    let dataDirectory: String
    let close: @Sendable () async -> Void
}

/// Where a paginated diff resumes: the table and the position inside it.
struct DiffCursor: Codable {
    var table: String
    var position: [String?]

    var encoded: String { (try? JSONEncoder().encode(self))?.base64EncodedString() ?? "" }

    static func decode(_ text: String) throws -> DiffCursor {
        guard let data = Data(base64Encoded: text), let cursor = try? JSONDecoder().decode(DiffCursor.self, from: data) else {
            throw EngineError.invalidRequest("The cursor is not one this service gave out.", hint: "Use the nextCursor of a previous diff.")
        }
        return cursor
    }
}

extension Engine {
    /// Opens a side of a diff: a live branch as it is; a snapshot, a branch at an instant or a
    /// backup through a throw-away read-only Postgres started for the diff.
    func openSide(_ spec: String, project: ProjectRecord, operation: String) async throws -> DiffSide {
        var database = ConnectionInfo(host: "", port: 0, user: ClusterFiles.superuser, database: project.database)
        if spec.hasPrefix("backup:") {
            let id = String(spec.dropFirst("backup:".count))
            let key = try requireBackupKey()
            let chain = try await chain(for: id, key: key)
            // Its database is named after its project, and its files must be this project's.
            guard let last = chain.last, last.project == project.name.rawValue else {
                throw EngineError(
                    "diff_side_not_found", 404, "Backup \(id) is not a backup of project '\(project.name)'.",
                    hint: "List this project's backups with `branch backup list`; restore another project's backup as a branch first.")
            }
            guard Int(last.postgresVersion.split(separator: ".").first ?? "") == installation.major else {
                throw EngineError(
                    "postgres_version_mismatch", 409, "Backup \(id) is of Postgres \(last.postgresVersion); this service runs \(installation.version).",
                    hint: "Compare it on a service with the same Postgres major version.")
            }
            let directory = layout.work("\(operation)-\(Identifiers.shortID(length: 4))", "receive")
            do {
                let received = try await receive(chain, key: key, into: directory, job: operation)
                let scratch = try await ScratchServer.start(engine: self, from: received, name: "\(operation)-\(Identifiers.shortID(length: 4))")
                database = scratch.connection(database: project.database)
                return DiffSide(label: spec, connection: database, dataDirectory: scratch.dataDirectory) {
                    await scratch.stop()
                    await self.removeReceived(directory)
                }
            } catch {
                await removeReceived(directory)
                throw error
            }
        }
        if let at = spec.lastIndex(of: "@") {
            let name = String(spec[..<at])
            guard let instant = Instant.parse(String(spec[spec.index(after: at)...])) else {
                throw EngineError.invalidRequest("'\(spec[spec.index(after: at)...])' is not an instant.", hint: "Use BRANCH@2026-11-21T10:00:00Z.")
            }
            let branch = try await catalog.read { try self.requireBranch(project.name, name, in: $0) }
            let (lineage, snapshot) = try await pointInTimeSource(branch, at: instant)
            if lineage.id == branch.lineage { try await archiveCurrentWAL(of: branch) }
            let scratch = try await ScratchServer.start(
                engine: self, from: layout.snapshot(project.name, snapshot.id), name: "\(operation)-\(Identifiers.shortID(length: 4))",
                recovery: Recovery(restoreWal: layout.wal(project.name, lineage: lineage.id), target: instant))
            return DiffSide(label: spec, connection: scratch.connection(database: project.database), dataDirectory: scratch.dataDirectory) {
                await scratch.stop()
            }
        }
        let (branch, snapshot) = try await catalog.read { tx -> (BranchRecord?, SnapshotRecord?) in
            let branch = (try? ResourceName(validating: spec)).flatMap { try? tx.branch(project.name, $0) }
            return (branch, branch == nil ? try tx.snapshot(project.name, idOrName: spec) : nil)
        }
        if let branch {
            guard branch.state == .ready else { throw EngineError.notReady("Branch '\(spec)'", state: branch.state.rawValue) }
            try await resumeIfSuspended(branch, cause: "a diff reads it")
            let server = self.spec(branch)
            guard runtime.state(server).isRunning else {
                throw EngineError("branch_stopped", 409, "Branch '\(spec)' is stopped.", hint: "Start it with `branch start \(spec)`.")
            }
            database = server.superuserConnection
            database.database = project.database
            // Not idle while the diff reads it, so scale to zero leaves it running.
            let key = SupervisorState.key(branch)
            await supervision.use(key)
            return DiffSide(label: spec, connection: database, dataDirectory: PoolLayout.dataDirectory(in: layout.branch(project.name, branch.name))) {
                await self.supervision.release(key)
            }
        }
        if let snapshot, snapshot.state == .ready {
            let scratch = try await ScratchServer.start(
                engine: self, from: layout.snapshot(project.name, snapshot.id), name: "\(operation)-\(Identifiers.shortID(length: 4))")
            return DiffSide(label: spec, connection: scratch.connection(database: project.database), dataDirectory: scratch.dataDirectory) {
                await scratch.stop()
            }
        }
        throw EngineError(
            "diff_side_not_found", 404, "'\(spec)' is not a branch, a snapshot, a branch at an instant or a backup of project '\(project.name)'.",
            hint: "Use a branch (main), a snapshot id or name, main@2026-11-21T10:00:00Z, or backup:ID.")
    }

    /// Opens both sides of a diff. Errors about the request (unknown sides, bad cursor) come from
    /// here, before anything is streamed; the session then streams the lines and closes the sides.
    public func openDiff(project projectName: String, _ request: DiffRequest) async throws -> DiffSession {
        let project = try await catalog.read { try self.requireProject(projectName, in: $0) }
        if let limit = request.limit, limit < 1 { throw EngineError.invalidRequest("The limit must be at least 1.") }
        let cursor = try request.cursor.map(DiffCursor.decode)
        let operation = "diff-" + Identifiers.shortID(length: 6)
        let first = try await openSide(request.from, project: project, operation: operation)
        let second: DiffSide
        do {
            second = try await openSide(request.to, project: project, operation: operation)
        } catch {
            await first.close()
            throw error
        }
        return DiffSession(engine: self, request: request, first: first, second: second, cursor: cursor)
    }

    func runDiff(
        _ request: DiffRequest, first: DiffSide, second: DiffSide, cursor: DiffCursor?, emit: (DiffLine) async throws -> Void
    ) async throws {
        let watch = Stopwatch()
        let left = try await PGConnection.connect(first.connection)
        let right = try await PGConnection.connect(second.connection)
        // Checkpointed after their snapshots, both sides' files can be compared page by page.
        async let leftReady = RowDiffer.prepare(left, checkpoint: true)
        async let rightReady = RowDiffer.prepare(right, checkpoint: true)
        let readable = try await (leftReady, rightReady)
        let pages = readable.0 && readable.1
            ? try? await RowDiffer.PageAccess(firstDirectory: first.dataDirectory, secondDirectory: second.dataDirectory) : nil
        async let a = SchemaIntrospector.snapshot(left, schemas: request.schemas)
        async let b = SchemaIntrospector.snapshot(right, schemas: request.schemas)
        let (before, after) = try await (a, b)
        let wanted = request.tables.map { names in
            Set(names.flatMap { name in [name, "public.\(name)"] })
        }
        func included(_ table: String) -> Bool {
            guard let wanted else { return true }
            return wanted.contains(table) || wanted.contains(table.replacingOccurrences(of: "\"", with: ""))
        }
        var end = DiffEnd(
            from: first.label, to: second.label, schemaChanges: 0, breakingChanges: 0, rowsAdded: 0, rowsRemoved: 0, rowsChanged: 0,
            nextCursor: nil, bytesFromFirst: 0, bytesFromSecond: 0, durationMs: 0)
        if cursor == nil {
            for change in SchemaDiff.compare(before, after) where included(Self.tableOf(change.name)) {
                end.schemaChanges += 1
                if change.classification == "breaking" { end.breakingChanges += 1 }
                try await emit(DiffLine(type: "schema", schema: Self.apiChange(change)))
            }
        }
        if request.schemaOnly != true {
            let differ = RowDiffer(first: left, second: right, pages: pages)
            var budget = request.limit
            let tables = before.tables.filter { table in after.table(table.qualifiedName) != nil && included(table.qualifiedName) }
            for table in tables {
                if let cursor, table.qualifiedName < cursor.table { continue }
                let comparison = TableComparison(from: table, to: after.table(table.qualifiedName)!)
                let resume = cursor.flatMap { $0.table == table.qualifiedName && !$0.position.isEmpty ? $0.position : nil }
                let outcome = try await withoutActuallyEscaping(emit) { emit in
                    // A summary needs counts only: rows in differing segments are then hashed, not fetched.
                    let rows: ((RowDelta) async throws -> Void)? = request.summary == true ? nil : { delta in
                        try await emit(DiffLine(type: "row", row: RowDiffer.change(delta, table: comparison)))
                    }
                    return try await differ.compare(comparison, resumeAfter: resume, budget: request.summary == true ? nil : budget, emit: rows)
                }
                end.rowsAdded += outcome.summary.added
                end.rowsRemoved += outcome.summary.removed
                end.rowsChanged += outcome.summary.changed
                try await emit(DiffLine(type: "table", table: outcome.summary))
                if let position = outcome.resumeAfter {
                    end.nextCursor = DiffCursor(table: table.qualifiedName, position: position).encoded
                    break
                }
                if let remaining = budget {
                    budget = remaining - (outcome.summary.added + outcome.summary.removed + outcome.summary.changed)
                    if budget! <= 0 {
                        if let next = tables.first(where: { $0.qualifiedName > table.qualifiedName }) {
                            end.nextCursor = DiffCursor(table: next.qualifiedName, position: []).encoded
                        }
                        break
                    }
                }
            }
        }
        end.bytesFromFirst = left.bytesReceived
        end.bytesFromSecond = right.bytesReceived
        end.durationMs = watch.milliseconds
        try await emit(DiffLine(type: "end", end: end))
    }

    /// The table a schema change belongs to (`schema.table` of `schema.table.column`).
    static func tableOf(_ name: String) -> String {
        let parts = name.split(separator: ".")
        return parts.count >= 2 ? "\(parts[0]).\(parts[1])" : name
    }

    static func apiChange(_ change: SchemaChange) -> DiffSchemaChange {
        DiffSchemaChange(
            objectType: change.objectType, name: change.name, change: change.change, classification: change.classification,
            from: change.from, to: change.to, reason: change.reason)
    }
}

/// An open diff: both sides readable. `run` streams its lines with backpressure (the next segment
/// is read only once `emit` has taken the previous line), then closes the sides.
public struct DiffSession: Sendable {
    let engine: Engine
    let request: DiffRequest
    let first: DiffSide
    let second: DiffSide
    let cursor: DiffCursor?

    public func run(emit: (DiffLine) async throws -> Void) async throws {
        do {
            try await engine.runDiff(request, first: first, second: second, cursor: cursor, emit: emit)
        } catch {
            await close()
            throw error
        }
        await close()
    }

    /// Stops what was started for the sides (scratch servers, received backups).
    public func close() async {
        await first.close()
        await second.close()
    }
}
