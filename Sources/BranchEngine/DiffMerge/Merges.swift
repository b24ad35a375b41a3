import BranchCatalog
import BranchSystem
import BranchCore
package import BranchDiff
import BranchPostgres
import BranchRuntime
import BranchStorage
import Foundation
import Logging

/// What a merge does, and how conflicts are settled.
package struct MergeOptions: Sendable {
    /// Which side wins a conflict.
    package enum Side: String, Sendable { case source, target }

    /// How to settle one conflicting row: `take` a side's row, with single cells from the other
    /// side (`cells`) or of the user's own (`values`, NULL as nil) written over it.
    package struct Resolution: Sendable, Equatable {
        package var table: String
        package var key: [String: String?]
        package var take: Side
        package var cells: [String: Side]
        package var values: [String: String?]

        package init(table: String, key: [String: String?], take: Side, cells: [String: Side] = [:], values: [String: String?] = [:]) {
            self.table = table
            self.key = key
            self.take = take
            self.cells = cells
            self.values = values
        }

        /// Whether it settles single cells rather than taking a whole row.
        var picksCells: Bool { !cells.isEmpty || !values.isEmpty }

        /// The row the target ends with when the resolution picks cells: `take`'s, with the picked
        /// cells written over it. Columns must be shared non-key columns, and the sides the row and
        /// the cells are taken from must have the row.
        func pickedRow(table name: String, key: [String: String?], source: [String: String?]?, target: [String: String?]?, columns: Set<String>)
            throws -> [String: String?]
        {
            let named = "\(name) (\(key.keys.sorted().map { "\($0)=\(key[$0].flatMap { $0 } ?? "NULL")" }.joined(separator: ", ")))"
            guard var row = take == .source ? source : target else {
                throw EngineError.invalidRequest(
                    "The conflict on \(named) takes the \(take.rawValue)'s row, which deleted it: there are no cells to pick.",
                    hint: "Take a whole side for a row deleted on one side.")
            }
            for column in Set(cells.keys).union(values.keys) where !columns.contains(column) || key.keys.contains(column) {
                throw EngineError.invalidRequest(
                    "The conflict on \(named) picks a value for '\(column)', which is not a non-key column both branches have.",
                    hint: "Pick cells of the columns the conflict shows; the key identifies the row and cannot change in a merge.")
            }
            for (column, side) in cells {
                guard let other = side == .source ? source : target else {
                    throw EngineError.invalidRequest(
                        "The conflict on \(named) takes '\(column)' from the \(side.rawValue), which deleted the row.", hint: "Take that cell from the other side.")
                }
                row[column] = other[column] ?? nil
            }
            for (column, value) in values { row[column] = value }
            return row
        }
    }

    /// A branch, or a past state of one: a snapshot of it (id or name) or `BRANCH@INSTANT` (an
    /// ISO 8601 time, `15m-ago` or a WAL position). A past state is merged as the branch was then,
    /// against the branch's base snapshot, read from a throw-away server.
    package var source: String
    /// Default: the source branch's parent.
    package var into: String?
    /// Settles every conflict; without it (and a resolution), any conflict stops the merge.
    package var prefer: Side?
    /// Per conflict (table and key), overriding `prefer`.
    package var resolutions: [Resolution]
    package var allowDestructive: Bool
    package var dryRun: Bool

    package init(
        source: String, into: String? = nil, prefer: Side? = nil, resolutions: [Resolution] = [], allowDestructive: Bool = false,
        dryRun: Bool = false
    ) {
        self.source = source
        self.into = into
        self.prefer = prefer
        self.resolutions = resolutions
        self.allowDestructive = allowDestructive
        self.dryRun = dryRun
    }
}

/// A row both branches changed since the base, differently: all three versions, and how it was
/// settled (nil: not).
package struct MergeConflict: Sendable, Equatable {
    /// How the two sides disagree; the raw value is the API's `kind`.
    package enum Kind: String, Sendable {
        case addedOnBoth = "added on both"
        case deletedInSource = "deleted in source, changed in target"
        case deletedInTarget = "changed in source, deleted in target"
        case changedOnBoth = "changed on both"
    }

    package var table: String
    package var key: [String: String?]
    package var kind: Kind
    package var base: [String: String?]?
    package var source: [String: String?]?
    package var target: [String: String?]?
    package var resolution: MergeOptions.Side?
}

/// What a merge writes to one table.
package struct MergeTablePlan: Sendable, Equatable {
    package var table: String
    package var inserts: Int
    package var updates: Int
    package var deletes: Int
    package var conflicts: Int
}

/// The plan of a merge and whether it was applied; `undoSnapshot` is the target's state before it.
package struct MergeOutcome: Sendable {
    package var source: String
    package var target: String
    package var base: String
    package var dryRun: Bool
    package var applied: Bool
    package var schemaStatements: [String]
    package var schemaChanges: [SchemaChange]
    package var tables: [MergeTablePlan]
    package var conflicts: [MergeConflict]
    package var undoSnapshot: String?
    package var operation: OperationTiming?
}

/// One row to write into the target, or a conflict about it.
struct MergeAction: Sendable {
    enum Write: Sendable { case insert, update, delete }
    var write: Write
    var key: [String: String?]
    /// The source's row (insert, update), or the target's key (delete).
    var row: [String: String?]
    /// Copies, for tables without a primary key.
    var count: Int = 1
}

/// What the merge does to one table, as it is planned.
struct TableMergeWork: Sendable {
    var table: TableSchema
    var comparison: TableComparison
    var actions: [MergeAction] = []
    var conflicts: [MergeConflict] = []
}

/// Three-way merge of one branch into another.
package struct Merges: EnginePart {
    let context: EngineContext

    /// Three-way merge: what the source changed since its base snapshot (the common ancestor),
    /// replayed on the target (default: the source's parent) in one transaction — schema first
    /// (generated DDL), then rows. Rows the target also changed, differently, are conflicts,
    /// settled by `prefer` or per-row resolutions; destructive schema changes need
    /// `allowDestructive`. The target is snapshotted first, so `branch restore` undoes a merge.
    package func merge(project projectName: String, _ request: MergeOptions) async throws -> MergeOutcome {
        let projectKey = try ResourceName(validating: projectName, kind: "project name")
        return try await context.withProjectLock(projectKey.rawValue, checking: { tx -> (ProjectRecord, BranchRecord, BranchRecord, SnapshotRecord, String?) in
            let project = try tx.requireProject(projectName)
            let (source, past) = try Self.source(request.source, project: project, tx)
            guard let targetName = request.into ?? source.parent?.rawValue else {
                throw EngineError(
                    .mergeNoTarget, "Branch '\(request.source)' has no parent to merge into.", hint: "Name the target: --into BRANCH.")
            }
            let target = try tx.requireBranch(project.name, targetName)
            guard target.name != source.name else { throw EngineError.invalidRequest("A branch cannot be merged into itself.") }
            guard let baseID = source.baseSnapshot, let base = try tx.snapshot(project.name, idOrName: baseID), base.state == .ready else {
                throw EngineError(
                    .mergeNoBase, "Branch '\(source.name)' has no base snapshot to merge from.",
                    hint: "Only branches made from another branch or a snapshot have one.")
            }
            if let past, let snapshot = try tx.snapshot(project.name, idOrName: past), snapshot.createdAt < base.createdAt {
                throw EngineError(
                    .mergeNoBase, "Snapshot '\(past)' was taken before branch '\(source.name)' was made from its base \(base.id).",
                    hint: "Merge a snapshot taken since, or restore this one as a branch first.")
            }
            return (project, source, target, base, past)
        }) { (project, source, target, base, past) in
            // A past state is read from a throw-away server; only the branches read live must run.
            let live = past == nil ? [source, target] : [target]
            for branch in live {
                try await servers.resumeIfSuspended(branch, cause: branch.name == target.name ? "a merge writes it" : "a merge reads it")
            }
            for branch in live where !servers.isRunning(branch) {
                throw EngineError(
                    .branchStopped, "Branch '\(branch.name)' is stopped.", hint: "Start it with `branch start \(branch.name)`.")
            }
            let operation = "merge-\(Identifiers.shortID(length: 6))"
            // No branch is idle while the merge uses it (scale to zero must not stop them).
            return try await servers.keepingAwake(live) {
                try await withScratchServer(context, from: layout.snapshot(project.name, base.id), name: operation) { scratch in
                    func plan(reading: (connection: ConnectionInfo, dataDirectory: String), label: String) async throws -> MergeOutcome {
                        try await planAndApply(
                            request, project: project, source: source, reading: reading, label: label, target: target, base: base, scratch: scratch)
                    }
                    guard let past else {
                        let data = PoolLayout.dataDirectory(in: layout.branch(project.name, source.name))
                        return try await plan(reading: (servers.databaseConnection(source, database: project.database), data), label: source.name.rawValue)
                    }
                    return try await Diffs(context: context).withSide(past, project: project, operation: operation) { side in
                        try await plan(reading: (side.connection, side.dataDirectory), label: past)
                    }
                }
            }
        }
    }

    /// The branch a merge source names, and the past state when it names one (a snapshot of the
    /// branch, or `BRANCH@INSTANT`); a plain branch name wins over a snapshot of that name.
    static func source(_ spec: String, project: ProjectRecord, _ tx: CatalogTransaction) throws -> (BranchRecord, String?) {
        if let name = try? ResourceName(validating: spec), let branch = try tx.branch(project.name, name) { return (branch, nil) }
        if let at = spec.lastIndex(of: "@") {
            return (try tx.requireBranch(project.name, String(spec[..<at])), spec)
        }
        if let snapshot = try tx.snapshot(project.name, idOrName: spec) {
            guard let branch = try tx.branch(project.name, snapshot.sourceBranch) else {
                throw EngineError(
                    .mergeNoBase, "Snapshot '\(spec)' is of branch '\(snapshot.sourceBranch)', which no longer exists: there is no base to merge it against.",
                    hint: "Restore it as a branch (`branch restore \(spec) --as NAME`) and diff or push from there.")
            }
            return (branch, spec)
        }
        return (try tx.requireBranch(project.name, spec), nil)
    }

    /// `reading`: where the source's data is read (a connection and the server's data directory);
    /// `label` names the source in the outcome and the journal.
    private func planAndApply(
        _ request: MergeOptions, project: ProjectRecord, source: BranchRecord, reading: (connection: ConnectionInfo, dataDirectory: String),
        label: String, target: BranchRecord, base: SnapshotRecord, scratch: ScratchServer
    ) async throws -> MergeOutcome {
        let watch = Stopwatch()
        func connect(_ branch: BranchRecord) -> ConnectionInfo { servers.databaseConnection(branch, database: project.database) }
        let baseConnection = try await PGConnection.connect(scratch.connection(database: project.database))
        let sourceConnection = try await PGConnection.connect(reading.connection)
        let targetReader = try await PGConnection.connect(connect(target))
        // Base and source are compared page by page where they can be (see RowDiffer.PageAccess).
        let baseReadable = try await RowDiffer.prepare(baseConnection, checkpoint: true).readableByPages
        let sourceReadable = try await RowDiffer.prepare(sourceConnection, checkpoint: true).readableByPages
        try await RowDiffer.prepare(targetReader)
        let pages = baseReadable && sourceReadable
            ? try? await RowDiffer.PageAccess(
                firstDirectory: scratch.dataDirectory, secondDirectory: reading.dataDirectory)
            : nil

        // Schema: what the source changed since the base, against what the target changed.
        let baseSchema = try await SchemaIntrospector.snapshot(baseConnection)
        let sourceSchema = try await SchemaIntrospector.snapshot(sourceConnection)
        let targetSchema = try await SchemaIntrospector.snapshot(targetReader)
        let sourceChanges = SchemaDiff.compare(baseSchema, sourceSchema)
        let targetChanges = SchemaDiff.compare(baseSchema, targetSchema)
        var applied: [SchemaChange] = []
        for change in sourceChanges {
            if let theirs = targetChanges.first(where: { $0.objectType == change.objectType && $0.name == change.name }) {
                if theirs.to == change.to { continue }  // the same change on both sides
                if request.prefer != .source {
                    throw EngineError(
                        .mergeSchemaConflict,
                        "Both branches changed \(change.objectType) \(change.name) since the base, differently.",
                        hint: "Pass --prefer source to replay the source's version, or make the two agree first.")
                }
            }
            if change.classification == .breaking && !request.allowDestructive {
                throw EngineError(
                    .mergeDestructive,
                    "The source's schema change to \(change.objectType) \(change.name) is destructive (\(change.reason ?? change.change.rawValue)).",
                    hint: "Review it with `branch diff`, then pass --allow-destructive.")
            }
            applied.append(change)
        }
        // One script for all of them, so dependencies hold (new tables before their foreign keys…).
        let script = SchemaDDL.script(for: applied, from: baseSchema, to: sourceSchema)
        if let skipped = script.skipped.first {
            throw EngineError(
                .mergeUnsupportedChange,
                "Branch cannot generate DDL for \(skipped.change.objectType) \(skipped.change.name): \(skipped.reason).",
                hint: "Apply that change to the target by hand, then merge again.")
        }
        let statements = script.statements

        // Rows: the source's changes since the base, checked against the target's current rows.
        var plans: [TableMergeWork] = []
        let differ = RowDiffer(first: baseConnection, second: sourceConnection, pages: pages)
        // Small tables the source left as they were at the base are told in one query per side.
        let shared = sourceSchema.tables.compactMap { table in baseSchema.table(table.qualifiedName).map { TableComparison(from: $0, to: table) } }
        let unchanged = try await differ.unchanged(shared, sizes: try await differ.sizes(shared.map(\.table)))
        for table in sourceSchema.tables {
            let baseTable = baseSchema.table(table.qualifiedName) ?? TableSchema(schema: table.schema, name: table.name, columns: [], primaryKey: table.primaryKey)
            let comparison = TableComparison(from: baseTable.columns.isEmpty ? table : baseTable, to: table)
            var plan = TableMergeWork(table: table, comparison: comparison)
            var deltas: [RowDelta] = []
            if baseSchema.table(table.qualifiedName) == nil, let theirs = targetSchema.table(table.qualifiedName) {
                // Both created it: the source's rows are additions, checked against the target's.
                try await planCreatedOnBoth(&plan, table, theirs, request: request, source: sourceConnection, target: targetReader)
                if !plan.actions.isEmpty || !plan.conflicts.isEmpty { plans.append(plan) }
                continue
            }
            if baseSchema.table(table.qualifiedName) == nil {
                // A table the source created: all its rows are new.
                let rows = try await sourceConnection.query(
                    "SELECT \(table.columns.map { "\(SQLName.quote($0.name))::text" }.joined(separator: ", ")) FROM \(table.qualifiedName)").rows
                for row in rows {
                    let object = Dictionary(uniqueKeysWithValues: zip(table.columns.map(\.name), row))
                    let key = (table.primaryKey ?? []).reduce(into: [String: String?]()) { $0[$1] = object[$1] ?? nil }
                    plan.actions.append(MergeAction(write: .insert, key: key, row: object))
                }
                plans.append(plan)
                continue
            }
            if !unchanged.contains(comparison.table) {
                _ = try await differ.compare(comparison) { deltas.append($0) }
            }
            if comparison.keyNames.isEmpty {
                guard !deltas.isEmpty else { continue }
                // Without a key, rows have no identity to conflict on: replay the multiset change.
                for delta in deltas {
                    plan.actions.append(MergeAction(
                        write: delta.kind == .added ? .insert : .delete, key: [:], row: delta.new ?? delta.old ?? [:], count: delta.count))
                }
                plans.append(plan)
                continue
            }
            // Rows whose only change is in a column the source added: invisible to the shared-column
            // comparison, but the target must get their values once the column is added there.
            let known = Set(deltas.map { RowDiffer.keyString($0.keyValues) })
            for (keyValues, baseRow, sourceRow) in try await Self.changedInAddedColumns(
                table, base: baseTable, target: targetSchema.table(table.qualifiedName), comparison: comparison,
                baseConnection: baseConnection, sourceConnection: sourceConnection)
            where !known.contains(RowDiffer.keyString(keyValues)) {
                let key = Dictionary(uniqueKeysWithValues: zip(comparison.keyNames, keyValues))
                deltas.append(RowDelta(kind: .changed, key: key, keyValues: keyValues, old: baseRow, new: sourceRow, count: 1))
            }
            guard !deltas.isEmpty else { continue }
            // What the target is given: every column of the source's row, not only the shared ones.
            let whole = TableComparison(from: table, to: table)
            let sourceRows = try await rows(sourceConnection, whole, keys: deltas.filter { $0.new != nil }.map(\.keyValues))
            let current = try await rows(targetReader, comparison, keys: deltas.map(\.keyValues))
            for var delta in deltas {
                if delta.new != nil, let full = sourceRows[RowDiffer.keyString(delta.keyValues)] { delta.new = full }
                let targetRow = current[RowDiffer.keyString(delta.keyValues)]
                let shared = Set(comparison.columnNames)
                let baseRow = delta.old?.filter { shared.contains($0.key) }
                let sourceRow = delta.new?.filter { shared.contains($0.key) }
                let targetShared = targetRow?.filter { shared.contains($0.key) }
                if targetShared == baseRow {
                    let write: MergeAction.Write = delta.kind == .added ? .insert : delta.kind == .removed ? .delete : .update
                    plan.actions.append(MergeAction(write: write, key: delta.key, row: delta.new ?? delta.key))
                } else if targetShared == nil && sourceRow == nil {
                    continue  // deleted on both sides
                } else if targetShared != nil && (targetShared == sourceRow || sourceRow == baseRow) {
                    // The shared columns already agree, or the source changed only columns it added:
                    // the target keeps its row and gets the values of those new columns.
                    let added = (delta.new ?? [:]).filter { !shared.contains($0.key) }
                    if !added.isEmpty {
                        plan.actions.append(MergeAction(write: .update, key: delta.key, row: added.merging(delta.key) { value, _ in value }))
                    }
                } else {
                    let kind: MergeConflict.Kind = switch (baseRow == nil, sourceRow == nil, targetShared == nil) {
                    case (true, _, _): .addedOnBoth
                    case (false, true, _): .deletedInSource
                    case (false, false, true): .deletedInTarget
                    default: .changedOnBoth
                    }
                    let chosen = request.resolutions.first { $0.table == table.qualifiedName && $0.key == delta.key }
                    let resolution = chosen?.take ?? request.prefer
                    plan.conflicts.append(MergeConflict(
                        table: table.qualifiedName, key: delta.key, kind: kind, base: baseRow, source: sourceRow, target: targetShared,
                        resolution: resolution))
                    if let chosen, chosen.picksCells {
                        // Cells picked one by one: the target's row ends as the resolution says (its new columns from the source).
                        let added = (delta.new ?? [:]).filter { !shared.contains($0.key) }
                        let row = try chosen.pickedRow(table: table.qualifiedName, key: delta.key, source: sourceRow, target: targetShared, columns: shared)
                        let write: MergeAction.Write = targetShared == nil ? .insert : .update
                        plan.actions.append(MergeAction(write: write, key: delta.key, row: row.merging(added) { own, _ in own }.merging(delta.key) { _, key in key }))
                    } else if resolution == .source {
                        let write: MergeAction.Write = sourceRow == nil ? .delete : (targetShared == nil ? .insert : .update)
                        plan.actions.append(MergeAction(write: write, key: delta.key, row: delta.new ?? delta.key))
                    }
                }
            }
            plans.append(plan)
        }
        for connection in [baseConnection, sourceConnection, targetReader] { _ = try? await connection.execute("COMMIT") }

        let conflicts = plans.flatMap(\.conflicts)
        let unresolved = conflicts.filter { $0.resolution == nil }
        let tablePlans = plans.map { plan in
            MergeTablePlan(
                table: plan.table.qualifiedName, inserts: plan.actions.filter { $0.write == .insert }.reduce(0) { $0 + $1.count },
                updates: plan.actions.filter { $0.write == .update }.count,
                deletes: plan.actions.filter { $0.write == .delete }.reduce(0) { $0 + $1.count }, conflicts: plan.conflicts.count)
        }
        var result = MergeOutcome(
            source: label, target: target.name.rawValue, base: base.id, dryRun: request.dryRun, applied: false,
            schemaStatements: statements, schemaChanges: applied, tables: tablePlans, conflicts: conflicts,
            undoSnapshot: nil, operation: nil)
        if request.dryRun || !unresolved.isEmpty { return result }
        // Nothing to write: no snapshot, no journal entry.
        if statements.isEmpty && plans.allSatisfy({ $0.actions.isEmpty }) { return result }

        let targetInfo = connect(target)
        let finalPlans = plans
        let (undo, timing) = try await journal.run("branch.merge", project: project.name, target: "\(label)→\(target.name)") { op in
            let undo = try await snapshots.take(of: target, kind: .preRestore, name: nil, op: op)
            await FaultInjection.point("merge.after-snapshot")
            try await op.step("apply") {
                try await apply(statements: statements, plans: finalPlans, to: targetInfo, role: project.role, schema: sourceSchema)
            }
            return undo
        }
        result.applied = true
        result.undoSnapshot = undo.id
        result.operation = OperationTiming(id: timing.id, durationMs: watch.milliseconds, steps: timing.steps)
        return result
    }

    /// Keys, base rows and source rows (shared columns) of the rows whose value in a column the
    /// source added differs from what adding that column gives the target: its default (or NULL).
    /// Volatile defaults differ on every row, so every row's value is copied, which is what keeps
    /// the target equal to the source.
    static func changedInAddedColumns(
        _ table: TableSchema, base: TableSchema, target: TableSchema?, comparison: TableComparison,
        baseConnection: PGConnection, sourceConnection: PGConnection
    ) async throws -> [([String?], [String: String?], [String: String?])] {
        guard !comparison.keyColumns.isEmpty, let target else { return [] }
        let added = table.columns.filter { column in
            base.column(column.name) == nil && target.column(column.name) == nil && column.generated == nil && column.identity == nil
        }
        guard !added.isEmpty else { return [] }
        let differs = added.map { column in
            "\(SQLName.quote(column.name)) IS DISTINCT FROM " + (column.defaultExpression.map { "(\($0))::\(column.type)" } ?? "NULL")
        }.joined(separator: " OR ")
        let keys = comparison.keyColumns.map { "\($0)::text" }.joined(separator: ", ")
        let keyRows = try await sourceConnection.query("SELECT \(keys) FROM \(table.qualifiedName) WHERE \(differs)").rows
        guard !keyRows.isEmpty else { return [] }
        let differ = RowDiffer(first: baseConnection, second: sourceConnection)
        var result: [([String?], [String: String?], [String: String?])] = []
        for batch in stride(from: 0, to: keyRows.count, by: 1000).map({ Array(keyRows[$0..<min($0 + 1000, keyRows.count)]) }) {
            let before = try await differ.rows(baseConnection, comparison, keys: batch)
            let after = try await differ.rows(sourceConnection, comparison, keys: batch)
            for key in batch {
                // A row the source inserted is already an insert.
                guard let old = before[RowDiffer.keyString(key)], let new = after[RowDiffer.keyString(key)] else { continue }
                result.append((key, old, new))
            }
        }
        return result
    }

    /// The target's current rows for some keys (shared columns, text form).
    private func rows(_ connection: PGConnection, _ table: TableComparison, keys: [[String?]]) async throws -> [String: [String: String?]] {
        var result: [String: [String: String?]] = [:]
        let differ = RowDiffer(first: connection, second: connection)
        for batch in stride(from: 0, to: keys.count, by: 1000).map({ Array(keys[$0..<min($0 + 1000, keys.count)]) }) {
            result.merge(try await differ.rows(connection, table, keys: batch)) { _, new in new }
        }
        return result
    }

    /// Applies the plan in one transaction: DDL, then deletes (children first), then inserts and
    /// updates (parents first), then moves sequences past the ids the merge wrote.
    private func apply(statements: [String], plans: [TableMergeWork], to info: ConnectionInfo, role: String, schema: SchemaSnapshot) async throws {
        let connection = try await PGConnection.connect(info)
        defer { connection.close() }
        // A new enum label cannot be used in the transaction that adds it: labels go first, on
        // their own (adding a label is harmless if the merge then fails).
        let (labels, rest) = (statements.filter(Self.addsEnumLabel), statements.filter { !Self.addsEnumLabel($0) })
        for statement in labels {
            try await connection.execute("SET ROLE \(SQLName.quote(role))")
            try await connection.execute(statement)
            try await connection.execute("RESET ROLE")
        }
        let statements = rest
        try await connection.execute("BEGIN")
        do {
            try await connection.execute("SET CONSTRAINTS ALL DEFERRED")
            // Objects the merge creates belong to the project's role, as if its app had run the DDL;
            // extensions need the superuser.
            for statement in statements {
                let asSuperuser = statement.uppercased().hasPrefix("CREATE EXTENSION") || statement.uppercased().hasPrefix("DROP EXTENSION")
                try await connection.execute(asSuperuser ? "RESET ROLE" : "SET LOCAL ROLE \(SQLName.quote(role))")
                try await connection.execute(statement)
            }
            try await connection.execute("RESET ROLE")
            let ordered = Self.parentsFirst(plans, schema: schema)
            for plan in ordered.reversed() {
                for batch in Self.batches(plan.actions.filter { $0.write == .delete }) {
                    try await delete(batch, from: plan, on: connection)
                }
            }
            for plan in ordered {
                for batch in Self.batches(plan.actions.filter { $0.write == .insert }) { try await insert(batch, into: plan, on: connection) }
                // Updates grouped by the columns they set (whole rows, or only columns the source added).
                let updates = Dictionary(grouping: plan.actions.filter { $0.write == .update }) { $0.row.keys.sorted() }
                for group in updates.values {
                    for batch in Self.batches(group) { try await update(batch, in: plan, on: connection) }
                }
                try await advanceSequences(plan.table, on: connection)
            }
            await FaultInjection.point("merge.before-commit")
            try await connection.execute("COMMIT")
        } catch {
            _ = try? await connection.execute("ROLLBACK")
            throw error
        }
    }

    static func addsEnumLabel(_ statement: String) -> Bool {
        statement.hasPrefix("ALTER TYPE") && statement.contains(" ADD VALUE ")
    }

    /// A table both branches created since the base: each source row is an insert, nothing when
    /// the target has the same row, a conflict ("added on both") when it has another.
    private func planCreatedOnBoth(
        _ plan: inout TableMergeWork, _ table: TableSchema, _ theirs: TableSchema, request: MergeOptions, source: PGConnection, target: PGConnection
    ) async throws {
        let comparison = TableComparison(from: table, to: theirs)
        guard !comparison.keyNames.isEmpty else {
            throw EngineError(
                .mergeSchemaConflict, "Both branches created \(table.qualifiedName), which has no primary key to match its rows by.",
                hint: "Merge that table's rows by hand (or give it a primary key), then merge again.")
        }
        let keys = try await source.query(
            "SELECT \(comparison.keyColumns.map { "\($0)::text" }.joined(separator: ", ")) FROM \(table.qualifiedName)").rows
        let whole = TableComparison(from: table, to: table)
        let differ = RowDiffer(first: source, second: target)
        for batch in stride(from: 0, to: keys.count, by: 1000).map({ Array(keys[$0..<min($0 + 1000, keys.count)]) }) {
            let sourceRows = try await differ.rows(source, whole, keys: batch)
            let targetRows = try await differ.rows(target, comparison, keys: batch)
            for keyValues in batch {
                let id = RowDiffer.keyString(keyValues)
                guard let row = sourceRows[id] else { continue }
                let key = Dictionary(uniqueKeysWithValues: zip(comparison.keyNames, keyValues))
                let shared = row.filter { comparison.columnNames.contains($0.key) }
                guard let existing = targetRows[id] else {
                    plan.actions.append(MergeAction(write: .insert, key: key, row: row))
                    continue
                }
                if existing == shared { continue }
                let chosen = request.resolutions.first { $0.table == table.qualifiedName && $0.key == key }
                let resolution = chosen?.take ?? request.prefer
                plan.conflicts.append(MergeConflict(
                    table: table.qualifiedName, key: key, kind: .addedOnBoth, base: nil, source: shared, target: existing, resolution: resolution))
                if let chosen, chosen.picksCells {
                    let picked = try chosen.pickedRow(table: table.qualifiedName, key: key, source: shared, target: existing, columns: Set(comparison.columnNames))
                    plan.actions.append(MergeAction(write: .update, key: key, row: row.merging(picked) { _, own in own }))
                } else if resolution == .source {
                    plan.actions.append(MergeAction(write: .update, key: key, row: row))
                }
            }
        }
    }

    static func batches(_ actions: [MergeAction]) -> [[MergeAction]] {
        stride(from: 0, to: actions.count, by: 500).map { Array(actions[$0..<min($0 + 500, actions.count)]) }
    }

    /// Rows as a JSON array of objects of text values, which `json_populate_recordset` turns into
    /// typed rows with each type's own input function (exact for numeric, bytea, arrays, jsonb…).
    static func json(_ rows: [[String: String?]]) throws -> String {
        let objects: [[String: Any]] = rows.map { row in row.mapValues { $0.map { $0 as Any } ?? NSNull() } }
        return String(decoding: try JSONSerialization.data(withJSONObject: objects), as: UTF8.self)
    }

    private func insert(_ batch: [MergeAction], into plan: TableMergeWork, on connection: PGConnection) async throws {
        let columns = plan.table.columns.filter { $0.generated == nil }.map(\.name).filter { name in batch.first?.row.keys.contains(name) ?? false }
        let list = columns.map(SQLName.quote).joined(separator: ", ")
        let overriding = plan.table.columns.contains { $0.identity == "a" } ? " OVERRIDING SYSTEM VALUE" : ""
        var rows: [[String: String?]] = []
        for action in batch { rows += Array(repeating: action.row, count: action.count) }
        try await connection.query(
            "INSERT INTO \(plan.table.qualifiedName) (\(list))\(overriding) SELECT \(list) FROM json_populate_recordset(NULL::\(plan.table.qualifiedName), $1::json)",
            [try Self.json(rows)])
    }

    private func update(_ batch: [MergeAction], in plan: TableMergeWork, on connection: PGConnection) async throws {
        let key = plan.comparison.keyColumns
        let columns = plan.table.columns.filter { $0.generated == nil && $0.identity != "a" && !plan.comparison.keyNames.contains($0.name) }
            .map(\.name).filter { name in batch.first?.row.keys.contains(name) ?? false }
        guard !columns.isEmpty else { return }
        let set = columns.map { "\(SQLName.quote($0)) = r.\(SQLName.quote($0))" }.joined(separator: ", ")
        let match = key.map { "t.\($0) = r.\($0)" }.joined(separator: " AND ")
        try await connection.query(
            "UPDATE \(plan.table.qualifiedName) AS t SET \(set) FROM json_populate_recordset(NULL::\(plan.table.qualifiedName), $1::json) AS r WHERE \(match)",
            [try Self.json(batch.map(\.row))])
    }

    private func delete(_ batch: [MergeAction], from plan: TableMergeWork, on connection: PGConnection) async throws {
        if plan.comparison.keyColumns.isEmpty {
            // Whole rows: delete as many copies as were removed.
            let own = plan.comparison.columns.joined(separator: ", ")
            let theirs = plan.comparison.columns.map { "r.\($0)" }.joined(separator: ", ")
            for action in batch {
                try await connection.query("""
                    DELETE FROM \(plan.table.qualifiedName) WHERE ctid IN (
                        SELECT ctid FROM \(plan.table.qualifiedName)
                        WHERE row(\(own))::text = (SELECT row(\(theirs))::text FROM json_populate_recordset(NULL::\(plan.table.qualifiedName), $1::json) AS r)
                        LIMIT \(action.count))
                    """, [try Self.json([action.row])])
            }
            return
        }
        let match = plan.comparison.keyColumns.map { "t.\($0) = r.\($0)" }.joined(separator: " AND ")
        try await connection.query(
            "DELETE FROM \(plan.table.qualifiedName) AS t USING json_populate_recordset(NULL::\(plan.table.qualifiedName), $1::json) AS r WHERE \(match)",
            [try Self.json(batch.map(\.key))])
    }

    /// Serial and identity columns: their sequences must not hand out ids the merge inserted.
    private func advanceSequences(_ table: TableSchema, on connection: PGConnection) async throws {
        for column in table.columns where column.identity != nil || (column.defaultExpression?.hasPrefix("nextval(") ?? false) {
            try await connection.query("""
                SELECT setval(s, m) FROM (SELECT pg_get_serial_sequence($1, $2) AS s, (SELECT max(\(SQLName.quote(column.name))) FROM \(table.qualifiedName)) AS m) x
                WHERE s IS NOT NULL AND m IS NOT NULL AND m > (SELECT last_value FROM pg_sequences WHERE format('%I.%I', schemaname, sequencename) = s OR schemaname || '.' || sequencename = s)
                """, [table.qualifiedName, column.name])
        }
    }

    /// Tables ordered so that a table comes after the tables its foreign keys reference.
    static func parentsFirst(_ plans: [TableMergeWork], schema: SchemaSnapshot) -> [TableMergeWork] {
        let names = Set(plans.map(\.table.qualifiedName))
        var references: [String: Set<String>] = [:]
        for plan in plans {
            for constraint in plan.table.constraints where constraint.type == "f" {
                guard let range = constraint.definition.range(of: "REFERENCES ") else { continue }
                let target = String(constraint.definition[range.upperBound...].prefix { $0 != "(" }).trimmingCharacters(in: .whitespaces)
                let qualified = target.contains(".") ? target : "public.\(target)"
                if names.contains(qualified), qualified != plan.table.qualifiedName { references[plan.table.qualifiedName, default: []].insert(qualified) }
            }
        }
        var ordered: [TableMergeWork] = []
        var placed = Set<String>()
        var remaining = plans
        while !remaining.isEmpty {
            let ready = remaining.filter { (references[$0.table.qualifiedName] ?? []).isSubset(of: placed) }
            // A cycle: place the rest as they are; deferrable constraints (deferred above) still pass.
            let next = ready.isEmpty ? remaining : ready
            ordered += next
            placed.formUnion(next.map(\.table.qualifiedName))
            remaining.removeAll { placed.contains($0.table.qualifiedName) }
        }
        return ordered
    }
}
