import BranchCatalog
import BranchCore
import BranchPostgres
import BranchStorage
import BranchSystem
import Foundation
import Logging

/// What `branch push` asks for: one table (or the rows `rows` selects) from a branch (default:
/// the checked-out one) or a snapshot, written to a Postgres outside Branch.
package struct PushRequest: Sendable {
    package var table: String
    /// A SQL boolean expression over the table's columns, evaluated on both sides.
    package var rows: String?
    /// The target's `postgres://` URL.
    package var to: String
    package var branch: String?
    package var snapshot: String?
    /// Write the changes; without it, only the diff is computed.
    package var apply: Bool

    package init(table: String, rows: String? = nil, to: String, branch: String? = nil, snapshot: String? = nil, apply: Bool = false) {
        self.table = table
        self.rows = rows
        self.to = to
        self.branch = branch
        self.snapshot = snapshot
        self.apply = apply
    }
}

/// What a push found (a dry run) or did (applied): the row diff against the target.
package struct PushReport: Sendable {
    package var table: String
    /// `branch NAME` or `snapshot NAME`.
    package var source: String
    /// The target's URL without its password.
    package var target: String
    package var applied: Bool
    package var added: Int
    package var changed: Int
    package var removed: Int
    package var columnsOnlyInSource: [String]
    package var columnsOnlyInTarget: [String]
    /// Up to `PushPlan.rowsPerKind` rows of each kind, in key order.
    package var rows: [PushRowChange]
    /// Whether some rows were left out of `rows`.
    package var truncated: Bool
}

/// `branch push`: writes a table's rows from a branch or a snapshot to a Postgres outside Branch,
/// matched by primary key, in one transaction on the target; a dry run unless asked to apply.
///
/// The Branch side is read as the project's owner role (never the superuser, since the filter is
/// the user's SQL) in one read-only repeatable-read transaction. Its rows are streamed by COPY
/// into a temporary table on the target, where the diff and the writes are joins on the key; an
/// apply computes the diff again inside its own transaction, after locking the rows it touches.
package struct Pushes: EnginePart {
    let context: EngineContext

    /// How long one statement may run on either side.
    static let statementTimeout = "5min"
    /// How long the target's rows may be waited for.
    static let lockTimeout = "30s"

    package func push(project projectName: String, _ request: PushRequest) async throws -> PushReport {
        let table = request.table.trimmingCharacters(in: .whitespaces)
        guard !table.isEmpty else { throw EngineError.invalidRequest("The table to push has no name.", hint: "Name it as `table` or `schema.table`.") }
        if request.branch != nil && request.snapshot != nil {
            throw EngineError.invalidRequest("Push from a branch or from a snapshot, not both.", hint: "Give --branch or --snapshot.")
        }
        let external = try ExternalDatabase(url: request.to)
        if let snapshotName = request.snapshot {
            let (project, snapshot) = try await catalog.read { tx in
                let project = try tx.requireProject(projectName)
                return (project, try tx.requireSnapshot(project.name, snapshotName))
            }
            let label = "snapshot \(snapshot.name?.rawValue ?? snapshot.id)"
            let name = "push-\(Identifiers.shortID(length: 6))"
            // Writable only so that a snapshot from before the owner role had the project's name
            // (the project's origin) gets it; the rows are still read in a read-only transaction.
            return try await withScratchServer(context, from: layout.snapshot(project.name, snapshot.id), name: name, writable: true) { scratch in
                try await OwnerRole.adopt(scratch.connection(database: "postgres"), project: project)
                var info = scratch.connection(database: project.database)
                info.user = project.role
                info.password = project.password
                info.applicationName = "branch push"
                let owner = info
                return try await withConnection(owner) { source in
                    try await push(table, request, from: source, label: label, to: external, project: project.name.rawValue)
                }
            }
        }
        let sessions = OwnerSessions(context: context)
        let (project, branch) = try await sessions.target(project: projectName, branch: request.branch)
        return try await sessions.withOwnerConnection(project, branch, purpose: "push") { source in
            try await push(table, request, from: source, label: "branch \(branch.name)", to: external, project: project.name.rawValue)
        }
    }

    /// The push proper, once the source is open as the owner.
    private func push(
        _ table: String, _ request: PushRequest, from source: PGConnection, label: String, to external: ExternalDatabase, project: String
    ) async throws -> PushReport {
        try await source.execute(
            "BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL statement_timeout = '\(Self.statementTimeout)'")
        // The source's transaction ends with its connection, which the caller closes.
        guard let sourceShape = try await Self.shape(of: table, on: source) else {
            throw EngineError(.tableNotFound, "The \(label) has no table '\(table)'.")
        }
        let target = try await external.connect()
        defer { target.close() }
        guard let targetShape = try await Self.shape(of: sourceShape.qualifiedName, on: target) else {
            throw EngineError(.tableNotFound, "\(external.redactedURL) has no table \(sourceShape.qualifiedName).",
                              hint: "Create it on the target first (`branch export --format sql --table \(sourceShape.qualifiedName)` gives its definition).")
        }
        let plan = try PushPlan(source: sourceShape, target: targetShape, filter: request.rows)
        try await Self.checkFilter(plan, on: source)
        if request.apply { try await Self.requireRights(plan, user: external.connection.user, on: target, url: external.redactedURL) }

        var report = PushReport(
            table: sourceShape.qualifiedName, source: label, target: external.redactedURL, applied: false, added: 0, changed: 0, removed: 0,
            columnsOnlyInSource: plan.columnsOnlyInSource, columnsOnlyInTarget: plan.columnsOnlyInTarget, rows: [], truncated: false)
        do {
            try await target.execute(
                "BEGIN; SET LOCAL statement_timeout = '\(Self.statementTimeout)'; SET LOCAL lock_timeout = '\(Self.lockTimeout)'")
            try await target.execute(plan.createStagingSQL)
            try await Self.copyRows(plan, from: source, to: target)
            try await target.execute(plan.analyzeStagingSQL)
            if request.apply {
                try await target.query(plan.lockSQL)
            } else {
                // Nothing past this point may write, whatever functions the filter calls.
                try await target.execute("SET TRANSACTION READ ONLY")
            }
            let found = try await Self.diff(plan, on: target)
            (report.added, report.changed, report.removed) = (found.added, found.changed, found.removed)
            (report.rows, report.truncated) = (found.rows, found.truncated)
            if request.apply {
                try await Self.write(plan, on: target, expecting: report)
                try await target.execute("COMMIT")
                report.applied = true
                logger.info("push applied", metadata: [
                    "project": "\(project)", "table": "\(report.table)", "source": "\(label)", "target": "\(report.target)",
                    "added": "\(report.added)", "changed": "\(report.changed)", "removed": "\(report.removed)",
                ])
            } else {
                try await target.execute("ROLLBACK")
            }
            return report
        } catch {
            _ = try? await target.execute("ROLLBACK")
            throw Self.explain(error, plan: plan, url: external.redactedURL)
        }
    }

    /// The table `name` names on `connection`: its quoted name, writable columns and key; nil when
    /// there is no such table (also for a name Postgres cannot parse).
    static func shape(of name: String, on connection: PGConnection) async throws -> PushTableShape? {
        let outcome = await Self.attempt {
            try await connection.query("""
                SELECT format('%I.%I', n.nspname, c.relname),
                  (SELECT coalesce(json_agg(a.attname ORDER BY a.attnum), '[]') FROM pg_attribute a
                   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''),
                  (SELECT coalesce(json_agg(a.attname ORDER BY k.position), '[]') FROM pg_index i
                   CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, position)
                   JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                   WHERE i.indrelid = c.oid AND i.indisprimary)
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.oid = to_regclass($1) AND c.relkind IN ('r', 'p')
                """, [name])
        }
        if case .failure(let error) = outcome, (error as? PostgresError)?.sqlState != nil { return nil }
        let rows = try outcome.get()
        guard let row = rows.rows.first, let qualified = row[0] else { return nil }
        return PushTableShape(qualifiedName: qualified, columns: names(row[1]), key: names(row[2]))
    }

    /// `body`'s outcome, a failure included.
    private static func attempt<T: Sendable>(_ body: () async throws -> T) async -> Result<T, any Error> {
        do {
            return .success(try await body())
        } catch {
            return .failure(error)
        }
    }

    /// A JSON array of names, as `json_agg` gives it.
    private static func names(_ text: String?) -> [String] {
        (try? JSONDecoder().decode([String].self, from: Data((text ?? "[]").utf8))) ?? []
    }

    /// Runs the filter once on the source, so a filter that is not one boolean expression over
    /// the table's columns is the user's error, before anything else happens.
    static func checkFilter(_ plan: PushPlan, on source: PGConnection) async throws {
        guard plan.filter != nil else { return }
        let outcome = await Self.attempt { try await source.query(plan.sourceCountSQL) }
        guard case .failure(let failure) = outcome, let error = failure as? PostgresError, error.sqlState != nil else {
            _ = try outcome.get()
            return
        }
        throw EngineError.invalidRequest(
            "The row filter does not work on \(plan.source.qualifiedName): \(error.message)",
            hint: "--rows takes a SQL boolean expression over the table's columns, such as \"id in (3, 4)\".")
    }

    /// Refuses before any write when the target's user lacks a right the apply needs.
    static func requireRights(_ plan: PushPlan, user: String, on target: PGConnection, url: String) async throws {
        let row = try await target.query(plan.privilegesSQL, [plan.target.qualifiedName]).rows.first ?? []
        let missing = zip(PushPlan.requiredRights, row).filter { $0.1 != "t" }.map(\.0)
        guard missing.isEmpty else {
            throw EngineError(
                .externalDatabasePermissionDenied,
                "User \(user) of \(url) lacks \(missing.joined(separator: ", ")) on \(plan.target.qualifiedName).",
                hint: "Grant it: GRANT \(missing.joined(separator: ", ")) ON \(plan.target.qualifiedName) TO \(SQL.identifier(user));")
        }
    }

    /// Streams the source's selected rows into the target's staging table.
    private static func copyRows(_ plan: PushPlan, from source: PGConnection, to target: PGConnection) async throws {
        try await target.beginCopyIn(plan.stagingCopySQL)
        do {
            try await source.beginCopyOut(plan.sourceCopySQL)
            while let piece = try await source.readCopy() { try await target.writeCopy(piece) }
            try await target.endCopyIn()
        } catch {
            _ = try? await target.endCopyIn(error: "the source's rows could not be read")
            throw error
        }
    }

    /// Counts each kind of change and reads the first rows of each.
    private static func diff(_ plan: PushPlan, on target: PGConnection) async throws -> PushDiff {
        let counts = (try await target.query(plan.countSQL).rows.first ?? []).map { Int($0 ?? "") ?? 0 } + [0, 0, 0]
        let (added, changed, removed) = (counts[0], counts[1], counts[2])
        let limit = PushPlan.rowsPerKind
        var rows: [PushRowChange] = []
        if added > 0 {
            let found = try await target.query(plan.addedRowsSQL(limit: limit)).rows
            rows += found.map { plan.change(.added, row: $0) }
        }
        if changed > 0 {
            let found = try await target.query(plan.changedRowsSQL(limit: limit)).rows
            rows += found.map { plan.changedRow($0) }
        }
        if removed > 0 {
            let found = try await target.query(plan.removedRowsSQL(limit: limit)).rows
            rows += found.map { plan.change(.removed, row: $0) }
        }
        return PushDiff(
            added: added, changed: changed, removed: removed, rows: rows, truncated: added > limit || changed > limit || removed > limit)
    }

    struct PushDiff {
        var added: Int
        var changed: Int
        var removed: Int
        var rows: [PushRowChange]
        var truncated: Bool
    }

    /// Deletes, updates (only the changed columns, one statement per set of them) and inserts;
    /// fails if what was written is not what the diff found, so the caller rolls back.
    private static func write(_ plan: PushPlan, on target: PGConnection, expecting report: PushReport) async throws {
        let removed = Int(try await target.query(plan.deleteSQL).scalar ?? "") ?? 0
        var changed = 0
        if report.changed > 0 {
            let sets = try await target.query(plan.changedColumnSetsSQL).rows.compactMap { $0.first ?? nil }.map(plan.changedColumns(flags:))
            for columns in sets where !columns.isEmpty {
                changed += Int(try await target.query(plan.updateSQL(changing: columns)).scalar ?? "") ?? 0
            }
        }
        let added = Int(try await target.query(plan.insertSQL).scalar ?? "") ?? 0
        guard (added, changed, removed) == (report.added, report.changed, report.removed) else {
            throw EngineError(
                .pushFailed,
                "The push wrote \(added) added, \(changed) changed and \(removed) removed rows where its diff found \(report.added), \(report.changed) and \(report.removed); it was rolled back.",
                hint: "Something else changes the table's rows; push again.")
        }
    }

    /// A failure inside the target's transaction, which was rolled back.
    static func explain(_ error: any Error, plan: PushPlan, url: String) -> any Error {
        if error is EngineError { return error }
        guard let failure = error as? PostgresError else { return error }
        if failure.sqlState == "42501" {
            return EngineError(
                .externalDatabasePermissionDenied, "\(url) refused the push on \(plan.target.qualifiedName): \(failure.message)",
                hint: "Grant the URL's user SELECT, INSERT, UPDATE and DELETE on the table, and TEMPORARY on the database.")
        }
        return EngineError(
            .pushFailed, "The push into \(plan.target.qualifiedName) failed and was rolled back: \(failure.message)",
            hint: "The target is unchanged. Fix the rows (or the target's constraints) and push again.")
    }
}

extension Engine {
    /// `branch push`: a table's rows from a branch or snapshot to a Postgres outside Branch.
    package var pushes: Pushes { Pushes(context: context) }
}
