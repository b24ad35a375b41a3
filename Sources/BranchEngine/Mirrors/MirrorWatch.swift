import BranchCatalog
import BranchCore
package import Foundation
import BranchPostgres
import BranchSystem
import Logging
import ServiceLifecycle
import Synchronization

/// How a mirror is doing, as the last check found it: what `branch project show`, the API and
/// the metrics report.
package struct MirrorState: Sendable {
    package var source: String
    package var publication: String
    package var subscription: String
    /// Bytes of the source's WAL the mirror has not confirmed yet (nil: the source did not answer).
    package var lagBytes: Int64?
    /// Seconds since the subscription last heard from the source.
    package var lastMessageSecondsAgo: Double?
    /// Whether the subscription's apply worker runs.
    package var following = false
    package var checkedAt: Date?
    /// What stops it (the source unreachable, main stopped), if anything.
    package var problem: String?
    /// Schema changes of the source this check could not apply, each with the SQL to run.
    package var pendingChanges: [String] = []
    var stalledChecks = 0
    var alerted = false

    /// A mirror not checked yet: what its record says.
    init(_ mirror: MirrorRecord) {
        source = mirror.displayURL
        publication = mirror.publication
        subscription = mirror.subscription
    }
}

/// Every mirror's state, kept by the watch and read by the API and the metrics.
final class MirrorStates: Sendable {
    private let states = Mutex<[String: MirrorState]>([:])

    func get(_ project: String) -> MirrorState? { states.withLock { $0[project] } }
    func all() -> [String: MirrorState] { states.withLock { $0 } }
    func set(_ project: String, _ state: MirrorState) { states.withLock { $0[project] = state } }
    func forget(_ project: String) { _ = states.withLock { $0.removeValue(forKey: project) } }
}

/// Checks every mirror every `mirrorCheckInterval`.
struct MirrorWatchService: Service {
    let context: EngineContext

    func run() async throws {
        let context = context
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await MirrorWatch(context: context).checkAll()
                try? await Task.sleep(for: context.configuration.mirrorCheckInterval)
            }
        }
    }
}

/// One round of checks: lag, the source's schema (changes applied to main), alerts.
struct MirrorWatch: EnginePart {
    let context: EngineContext

    func checkAll() async {
        let mirrors = (try? await catalog.read { try $0.mirrors() }) ?? []
        let known = Set(mirrors.map(\.project))
        for project in context.mirrorStates.all().keys where !known.contains(project) { context.mirrorStates.forget(project) }
        for mirror in mirrors { await check(mirror) }
    }

    func check(_ mirror: MirrorRecord) async {
        var state = context.mirrorStates.get(mirror.project) ?? MirrorState(mirror)
        state.checkedAt = Date()
        state.problem = nil
        do {
            guard let (project, main) = try await catalog.read({ tx -> (ProjectRecord, BranchRecord)? in
                guard let project = try tx.project(ResourceName(validating: mirror.project)), project.state == .ready,
                      let main = try tx.branch(project.name, .main) else { return nil }
                return (project, main)
            }) else { return }
            guard servers.isRunning(main) else {
                state.problem = "main is stopped: the mirror does not follow its source until it runs (`branch start main`)"
                state.following = false
                return await finish(mirror, &state)
            }
            let source = try ExternalDatabase(url: mirror.sourceURL)
            try await withConnection(servers.databaseConnection(main, database: project.database)) { database in
                let subscriber = try await database.query("""
                    SELECT pid IS NOT NULL, extract(epoch FROM now() - last_msg_receipt_time) FROM pg_stat_subscription
                    WHERE subname = $1 AND relid IS NULL
                    """, [mirror.subscription]).rows.first
                state.following = subscriber?[0] == "t"
                state.lastMessageSecondsAgo = subscriber?[1].flatMap(Double.init)
                let connection: PGConnection
                do {
                    connection = try await source.connect(timeout: .seconds(5))
                } catch {
                    state.lagBytes = nil
                    state.problem = "the source does not answer: \((error as? EngineError)?.message ?? "\(error)")"
                    return
                }
                defer { connection.close() }
                state.lagBytes = try await connection.query("""
                    SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint FROM pg_replication_slots WHERE slot_name = $1
                    """, [mirror.subscription]).scalar.flatMap { Int64($0) }
                if state.lagBytes == nil { state.problem = "the source has no replication slot '\(mirror.subscription)' any more" }
                state.pendingChanges = try await followSchema(
                    mirror, project: project, main: main, source: source, sourceConnection: connection, database: database)
            }
        } catch {
            state.problem = "checking the mirror failed: \(error)"
        }
        await finish(mirror, &state)
    }

    /// Applies the source's schema changes to main; answers those that failed, with their SQL.
    private func followSchema(
        _ mirror: MirrorRecord, project: ProjectRecord, main: BranchRecord, source: ExternalDatabase, sourceConnection: PGConnection,
        database: PGConnection
    ) async throws -> [String] {
        let published = try await sourceConnection.query(Self.columnsSQL(fromPublication: true), [mirror.publication]).rows.map(Self.column)
        let here = try await database.query(Self.columnsSQL(fromPublication: false), [MirrorGuards.trigger]).rows.map(Self.column)
        var pending: [String] = []
        var refresh = false
        for change in MirrorSchemaPlan.changes(source: published, mirror: here) {
            do {
                switch change {
                case .addTable(let table):
                    try await restoreTable(table, from: source, owner: project.role, into: database)
                    refresh = true
                case .tableGone:
                    pending.append(change.summary)
                    continue
                default:
                    if let sql = change.sql { try await database.execute(sql) }
                }
                await context.record("mirror_schema", main, "Applied from the source: \(change.summary).")
            } catch {
                pending.append("\(change.summary): \((error as? PostgresError)?.message ?? "\(error)"); to apply it yourself: \(change.sql ?? "pg_dump -s -t the table from the source")")
            }
        }
        if refresh { try await database.execute("ALTER SUBSCRIPTION \(SQL.identifier(mirror.subscription)) REFRESH PUBLICATION") }
        return pending
    }

    /// A table new on the source: its definition (without owner or grants), then the guards.
    private func restoreTable(_ table: String, from source: ExternalDatabase, owner: String, into database: PGConnection) async throws {
        let dump = try await Command.run(
            installation.tool("pg_dump"),
            ["--no-password", "--schema-only", "--no-owner", "--no-privileges", "-t", table, "-d", SchemaDump.conninfo(source.connection)],
            environment: SchemaDump.environment(source.connection))
        try await database.executeDump(dump.stdout)
        try await MirrorGuards.guardTable(table, owner: owner, in: database)
    }

    /// Stores the state, raises or clears `mirror_lag`.
    private func finish(_ mirror: MirrorRecord, _ state: inout MirrorState) async {
        let behind = (state.lagBytes ?? 0) > configuration.mirrorLagAlertBytes
        state.stalledChecks = state.following && state.problem == nil ? 0 : state.stalledChecks + 1
        let unhealthy = behind || state.stalledChecks >= 3
        let project = mirror.project
        if unhealthy && !state.alerted {
            state.alerted = true
            let why = behind
                ? "main is \(ByteCount.format(UInt64(state.lagBytes ?? 0))) of WAL behind \(mirror.displayURL)."
                : "its subscription has not been applying for \(state.stalledChecks) checks: \(state.problem ?? "the apply worker is not running (see `branch logs main`)")."
            await context.alert(AlertEvent(
                .mirrorLag, severity: .warning, project: project, branch: "main", title: "Mirror \(project) is falling behind its source", detail: why))
        } else if !unhealthy && state.alerted {
            state.alerted = false
            await context.alert(AlertEvent(
                .mirrorLag, severity: .info, project: project, branch: "main", title: "Mirror \(project) caught up with its source",
                detail: "It follows \(mirror.displayURL) again."))
        }
        context.mirrorStates.set(project, state)
    }

    /// Columns of the tables a publication publishes (source), or of the tables a mirror guards (main).
    static func columnsSQL(fromPublication: Bool) -> String {
        let tables = fromPublication
            ? "SELECT c.oid FROM pg_publication_tables p JOIN pg_namespace n ON n.nspname = p.schemaname JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = p.tablename WHERE p.pubname = $1"
            : "SELECT t.tgrelid FROM pg_trigger t WHERE t.tgname = $1"
        return """
            SELECT format('%I.%I', n.nspname, c.relname), a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
            LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
            WHERE c.oid IN (\(tables)) ORDER BY 1, a.attnum
            """
    }

    static func column(_ row: [String?]) -> MirrorSchemaPlan.Column {
        MirrorSchemaPlan.Column(table: row[0] ?? "", name: row[1] ?? "", type: row[2] ?? "", notNull: row[3] == "t", defaultExpression: row[4])
    }
}
