import BranchCatalog
import BranchCore
import BranchPostgres
import BranchSystem
import Foundation

/// What `branch export` writes.
package enum ExportFormat: String, Sendable {
    /// pg_dump's plain SQL.
    case sql
    /// JSON Lines, one `{"table": "schema.name", "row": {…}}` per row.
    case json
}

extension Branches {
    /// A logical export of a branch, pulled by the consumer piece by piece: nothing is read from
    /// the server before the consumer asks for it (a slow client slows pg_dump, the service holds
    /// a few pieces at most), and a consumer that stops early (a client hanging up) ends the dump.
    package func export(project projectName: String, branch name: String, format: ExportFormat, table: String?) async throws -> ExportStream {
        let (project, branch) = try await catalog.read { tx in
            let project = try tx.requireProject(projectName)
            return (project, try tx.requireBranch(project.name, name))
        }
        try await servers.resumeIfSuspended(branch, cause: "an export was asked for")
        guard servers.isRunning(branch) else {
            throw EngineError(.branchStopped, "Branch '\(name)' is stopped.", hint: "Start it with `branch start \(name)`.")
        }
        let database = servers.databaseConnection(branch, database: project.database)
        return try await ExportStream.of(database, described: "Branch '\(name)'", format: format, table: table, context: context)
    }
}

extension ExportStream {
    /// An export of `database` (`described` names it in errors); `cleanup` runs once, when the
    /// stream ends, fails or is dropped, and also when no stream is made.
    static func of(
        _ database: ConnectionInfo, described: String, format: ExportFormat, table: String?, context: EngineContext,
        cleanup: (@Sendable () async -> Void)? = nil
    ) async throws -> ExportStream {
        do {
            if let table {
                // A name Postgres cannot even parse (empty, unbalanced quotes) names no table either.
                let found: String?
                do {
                    found = try await withConnection(database) { try await $0.query("SELECT to_regclass($1)", [table]).scalar }
                } catch let error as PostgresError where error.sqlState != nil {
                    found = nil
                }
                guard found != nil else { throw EngineError(.tableNotFound, "\(described) has no table '\(table)'.") }
            }
            switch format {
            case .sql:
                var arguments = ["--no-password", "-h", database.host, "-p", String(database.port), "-U", database.user, "-d", database.database]
                if let table { arguments += ["-t", table] }
                let dump = try StreamingProcess(context.installation.tool("pg_dump"), arguments)
                return ExportStream(source: .dump(dump), gate: context.streamsClosed, cleanup: cleanup)
            case .json:
                return ExportStream(source: .rows(RowExport(connection: database, table: table)), gate: context.streamsClosed, cleanup: cleanup)
            }
        } catch {
            await cleanup?()
            throw error
        }
    }
}

/// An export's bytes, read on demand. Dropping it before the end stops pg_dump or closes the
/// connection; so does the service beginning to shut down (the stream then ends with
/// `service_stopping`).
package struct ExportStream: AsyncSequence, Sendable {
    package typealias Element = [UInt8]

    enum Source: Sendable {
        case dump(StreamingProcess)
        case rows(RowExport)
    }

    let source: Source
    let gate: StreamGate
    /// What was started for the export (a throw-away server), put away when it ends.
    var cleanup: (@Sendable () async -> Void)? = nil

    package func makeAsyncIterator() -> Iterator { Iterator(source: source, gate: gate, cleanup: cleanup) }

    package struct Iterator: AsyncIteratorProtocol {
        let state: ExportState

        init(source: Source, gate: StreamGate, cleanup: (@Sendable () async -> Void)?) {
            state = ExportState(source: source, gate: gate, cleanup: cleanup)
        }

        package mutating func next() async throws -> [UInt8]? { try await state.next() }
    }
}

/// The reading end of one export; ends the dump when it is dropped before the end.
final class ExportState: @unchecked Sendable {
    private let source: ExportStream.Source
    private let gate: StreamGate
    private var cleanup: (@Sendable () async -> Void)?
    private var pieces: AsyncThrowingStream<[UInt8], any Error>.AsyncIterator?
    private var finished = false
    private var lines = ExportLineFilter()

    init(source: ExportStream.Source, gate: StreamGate, cleanup: (@Sendable () async -> Void)?) {
        self.source = source
        self.gate = gate
        self.cleanup = cleanup
        if case .dump(let dump) = source { pieces = dump.output(pieceSize: 256 << 10).makeAsyncIterator() }
    }

    deinit {
        if !finished, case .dump(let dump) = source { dump.abandon() }
        if let cleanup { Task { await cleanup() } }
    }

    func next() async throws -> [UInt8]? {
        do {
            let piece = try await read()
            if piece == nil { await cleanUp() }
            return piece
        } catch {
            // pg_dump, if still running, is stopped when the stream is dropped (deinit).
            await cleanUp()
            throw error
        }
    }

    private func cleanUp() async {
        guard let cleanup else { return }
        self.cleanup = nil
        await cleanup()
    }

    private func read() async throws -> [UInt8]? {
        if finished { return nil }
        // Between pieces: a shutdown ends the export (deinit stops pg_dump or closes the cursor).
        if gate.isClosed { throw EngineError.serviceStopping("the export") }
        switch source {
        case .dump(let dump):
            while let piece = try await pieces?.next() {
                let kept = lines.filter(piece)
                if !kept.isEmpty { return kept }
            }
            finished = true
            let (status, errors) = await dump.wait()
            if status != 0 { throw PostgresError(.postgresQueryFailed, "pg_dump failed: \(errors)") }
            let rest = lines.finish()
            return rest.isEmpty ? nil : rest
        case .rows(let rows):
            guard let piece = try await rows.next() else {
                finished = true
                return nil
            }
            return piece
        }
    }
}

/// JSON Lines of every row of every table (or one), read in one repeatable-read transaction
/// through a cursor, 1000 rows per piece.
final class RowExport: @unchecked Sendable {
    private let info: ConnectionInfo
    private let table: String?
    private var connection: PGConnection?
    private var tables: [String] = []
    private var cursorOpen = false

    init(connection info: ConnectionInfo, table: String?) {
        self.info = info
        self.table = table
    }

    deinit { connection?.close() }

    func next() async throws -> [UInt8]? {
        let connection = try await open()
        while true {
            if !cursorOpen {
                guard let name = tables.first else {
                    try await connection.execute("COMMIT")
                    connection.close()
                    return nil
                }
                try await connection.execute("""
                    DECLARE export_rows NO SCROLL CURSOR FOR
                    SELECT json_build_object('table', \(SQL.literal(name)), 'row', to_jsonb(t))::text FROM \(name) t
                    """)
                cursorOpen = true
            }
            let batch = try await connection.execute("FETCH 1000 FROM export_rows")
            if batch.rows.isEmpty {
                try await connection.execute("CLOSE export_rows")
                cursorOpen = false
                tables.removeFirst()
                continue
            }
            var piece: [UInt8] = []
            for row in batch.rows {
                piece.append(contentsOf: (row.first.flatMap { $0 } ?? "null").utf8)
                piece.append(0x0A)
            }
            return piece
        }
    }

    private func open() async throws -> PGConnection {
        if let connection { return connection }
        let opened = try await PGConnection.connect(info)
        connection = opened
        try await opened.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        if let table {
            tables = [try await opened.query("SELECT to_regclass($1)::text", [table]).scalar ?? table]
        } else {
            tables = try await opened.query("""
                SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
                ORDER BY 1
                """).rows.compactMap { $0.first ?? nil }
        }
        return opened
    }
}
