import BranchCore
import BranchPostgres
import Foundation

/// One table as a side of a push sees it.
package struct PushTableShape: Sendable, Equatable {
    /// `schema.table`, quoted where needed (Postgres' `format('%I.%I')`).
    package var qualifiedName: String
    /// The columns a push can write (generated columns left out), in the table's order.
    package var columns: [String]
    /// The primary key's columns in key order; empty without one.
    package var key: [String]

    package init(qualifiedName: String, columns: [String], key: [String]) {
        self.qualifiedName = qualifiedName
        self.columns = columns
        self.key = key
    }
}

/// One row of a push's diff: what the target has (`old`) and what it gets (`new`).
package struct PushRowChange: Sendable, Equatable {
    package enum Kind: String, Sendable { case added, changed, removed }

    package var kind: Kind
    package var key: [String: String?]
    package var old: [String: String?]?
    package var new: [String: String?]?
    /// For a changed row, the columns whose values differ, in the table's order.
    package var changedColumns: [String]?

    package init(kind: Kind, key: [String: String?], old: [String: String?]?, new: [String: String?]?, changedColumns: [String]?) {
        self.kind = kind
        self.key = key
        self.old = old
        self.new = new
        self.changedColumns = changedColumns
    }
}

/// The SQL of a push, with no I/O: the source's rows (those the filter selects) are copied into a
/// temporary staging table on the target, and everything else is joined there on the primary key.
///
/// Values are compared as text (`::text`): every type has a text form, not every type has an
/// equality operator (json, point), and both sides of the comparison have the target's column
/// types, the staging table being made from the target's table.
package struct PushPlan: Sendable, Equatable {
    package static let stagingTable = "pg_temp.branch_push_rows"
    /// At most this many rows of each kind are reported.
    package static let rowsPerKind = 50

    package let source: PushTableShape
    package let target: PushTableShape
    /// The columns both sides have, in the source's order: those are pushed.
    package let columns: [String]
    package let columnsOnlyInSource: [String]
    package let columnsOnlyInTarget: [String]
    /// The key columns (the source's order; the target has the same set).
    package let key: [String]
    /// The user's SQL boolean expression over the table's columns; nil for every row.
    package let filter: String?

    /// Checks that both sides have a primary key on the same columns.
    package init(source: PushTableShape, target: PushTableShape, filter: String?) throws(EngineError) {
        for (side, shape) in [("source", source), ("target", target)] where shape.key.isEmpty {
            throw EngineError(
                .tableHasNoPrimaryKey, "Table \(shape.qualifiedName) has no primary key on the \(side); a push matches rows by their primary key.",
                hint: "Add a primary key to the table on both sides (ALTER TABLE … ADD PRIMARY KEY (…)).")
        }
        guard Set(source.key) == Set(target.key) else {
            throw EngineError.invalidRequest(
                "Table \(source.qualifiedName) has primary key (\(source.key.joined(separator: ", "))) here but (\(target.key.joined(separator: ", "))) on the target.",
                hint: "A push matches rows by primary key: both sides need the same key columns.")
        }
        let targetColumns = Set(target.columns), sourceColumns = Set(source.columns)
        let missingKey = source.key.filter { !sourceColumns.contains($0) || !targetColumns.contains($0) }
        guard missingKey.isEmpty else {
            throw EngineError.invalidRequest(
                "The key column(s) \(missingKey.joined(separator: ", ")) of \(source.qualifiedName) cannot be written (generated).",
                hint: "A push writes plain columns; the primary key must be made of them.")
        }
        self.source = source
        self.target = target
        self.key = source.key
        self.columns = source.columns.filter { targetColumns.contains($0) }
        self.columnsOnlyInSource = source.columns.filter { !targetColumns.contains($0) }
        self.columnsOnlyInTarget = target.columns.filter { !sourceColumns.contains($0) }
        let trimmed = filter?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        self.filter = trimmed.isEmpty ? nil : trimmed
    }

    /// The columns that are not part of the key.
    package var valueColumns: [String] { columns.filter { !key.contains($0) } }

    // MARK: Reading the source

    /// The filter as a WHERE clause; on lines of its own, so a `--` comment in it ends there.
    package var whereClause: String { filter.map { "WHERE (\n\($0)\n)" } ?? "" }

    /// Counts the source's rows the filter selects: run first through the extended protocol, it
    /// proves the filter is one expression (no second statement hidden behind a `;`).
    package var sourceCountSQL: String { "SELECT count(*) FROM \(source.qualifiedName) \(whereClause)" }

    package var sourceCopySQL: String {
        "COPY (SELECT \(list(columns)) FROM \(source.qualifiedName) \(whereClause)) TO STDOUT"
    }

    // MARK: Staging on the target

    package var createStagingSQL: String {
        "CREATE TEMPORARY TABLE \(Self.stagingTable) ON COMMIT DROP AS SELECT \(list(columns)) FROM \(target.qualifiedName) WITH NO DATA"
    }

    package var stagingCopySQL: String { "COPY \(Self.stagingTable) (\(list(columns))) FROM STDIN" }

    package var analyzeStagingSQL: String { "ANALYZE \(Self.stagingTable)" }

    // MARK: The diff, on the target

    private var keyMatch: String { key.map { "t.\(q($0)) = s.\(q($0))" }.joined(separator: " AND ") }

    private func differs(_ column: String) -> String { "s.\(q(column))::text IS DISTINCT FROM t.\(q(column))::text" }

    /// Whether a staged row and its target row differ in any value column.
    private var anyDiffers: String {
        valueColumns.isEmpty ? "false" : "(" + valueColumns.map(differs).joined(separator: " OR ") + ")"
    }

    private var addedFrom: String {
        "FROM \(Self.stagingTable) s WHERE NOT EXISTS (SELECT 1 FROM \(target.qualifiedName) t WHERE \(keyMatch))"
    }

    private var changedFrom: String { "FROM \(Self.stagingTable) s JOIN \(target.qualifiedName) t ON \(keyMatch) WHERE \(anyDiffers)" }

    /// Target rows the filter selects whose key the source's selection lacks. The filter stands
    /// where only the target's table is in scope, so its bare column names are the target's.
    private var removedFrom: String {
        let filtered = filter.map { "(\n\($0)\n) AND " } ?? ""
        return "FROM \(target.qualifiedName) t WHERE \(filtered)NOT EXISTS (SELECT 1 FROM \(Self.stagingTable) s WHERE \(keyMatch))"
    }

    /// One row: the counts of added, changed and removed rows.
    package var countSQL: String {
        "SELECT (SELECT count(*) \(addedFrom)), (SELECT count(*) \(changedFrom)), (SELECT count(*) \(removedFrom))"
    }

    private func texts(_ alias: String) -> String { columns.map { "\(alias).\(q($0))::text" }.joined(separator: ", ") }
    private func order(_ alias: String) -> String { key.map { "\(alias).\(q($0))" }.joined(separator: ", ") }

    /// Up to `limit` added rows in key order, each the pushed columns as text.
    package func addedRowsSQL(limit: Int) -> String { "SELECT \(texts("s")) \(addedFrom) ORDER BY \(order("s")) LIMIT \(limit)" }

    /// Up to `limit` changed rows: the new values (staged), then the old ones (target).
    package func changedRowsSQL(limit: Int) -> String {
        "SELECT \(texts("s")), \(texts("t")) \(changedFrom) ORDER BY \(order("s")) LIMIT \(limit)"
    }

    /// Up to `limit` removed rows in key order, as the target has them.
    package func removedRowsSQL(limit: Int) -> String { "SELECT \(texts("t")) \(removedFrom) ORDER BY \(order("t")) LIMIT \(limit)" }

    // MARK: Applying, on the target

    /// Locks the target's rows the push may touch (those the filter selects, those the source
    /// changes), so no other transaction changes them between the diff and the writes.
    package var lockSQL: String {
        let filtered = filter.map { "(\n\($0)\n) OR " } ?? ""
        return """
            SELECT count(*) FROM (SELECT 1 FROM \(target.qualifiedName) t
            WHERE \(filtered)EXISTS (SELECT 1 FROM \(Self.stagingTable) s WHERE \(keyMatch)) FOR UPDATE OF t) locked
            """
    }

    /// Checks the target user's rights on the table, one boolean per right in `requiredRights`.
    package var privilegesSQL: String {
        "SELECT " + Self.requiredRights.map { "has_table_privilege($1, \(SQL.literal($0)))" }.joined(separator: ", ")
    }

    package static let requiredRights = ["SELECT", "INSERT", "UPDATE", "DELETE"]

    package var deleteSQL: String {
        let filtered = filter.map { "(\n\($0)\n) AND " } ?? ""
        return """
            WITH deleted AS (DELETE FROM \(target.qualifiedName) AS t WHERE \(filtered)NOT EXISTS (SELECT 1 FROM \(Self.stagingTable) s WHERE \(keyMatch)) RETURNING 1)
            SELECT count(*) FROM deleted
            """
    }

    /// The distinct sets of changed columns among changed rows: one `{t,f,…}` per set, a flag
    /// per value column. Each set becomes one UPDATE that writes only those columns.
    package var changedColumnSetsSQL: String {
        "SELECT DISTINCT ARRAY[\(valueColumns.map(differs).joined(separator: ", "))]::text \(changedFrom)"
    }

    /// Updates the rows whose changed columns are exactly `changing` (value columns), writing only those.
    package func updateSQL(changing: [String]) -> String {
        let assignments = changing.map { "\(q($0)) = s.\(q($0))" }.joined(separator: ", ")
        let condition = valueColumns.map { changing.contains($0) ? differs($0) : "NOT (\(differs($0)))" }.joined(separator: " AND ")
        return """
            WITH updated AS (UPDATE \(target.qualifiedName) AS t SET \(assignments) FROM \(Self.stagingTable) s
            WHERE \(keyMatch) AND \(condition) RETURNING 1)
            SELECT count(*) FROM updated
            """
    }

    /// Inserts the staged rows whose key the target lacks (identity columns take the source's values).
    package var insertSQL: String {
        """
        WITH inserted AS (INSERT INTO \(target.qualifiedName) (\(list(columns))) OVERRIDING SYSTEM VALUE SELECT \(columns.map { "s.\(q($0))" }.joined(separator: ", ")) \(addedFrom) RETURNING 1)
        SELECT count(*) FROM inserted
        """
    }

    // MARK: Reading results

    /// The value columns a `changedColumnSetsSQL` answer (`{t,f,…}`) names.
    package func changedColumns(flags text: String) -> [String] {
        let flags = text.trimmingCharacters(in: CharacterSet(charactersIn: "{}")).split(separator: ",").map { $0 == "t" || $0 == "true" }
        return zip(valueColumns, flags).filter(\.1).map(\.0)
    }

    /// A row of `addedRowsSQL` or `removedRowsSQL` as a change.
    package func change(_ kind: PushRowChange.Kind, row: [String?]) -> PushRowChange {
        let values = named(Array(row.prefix(columns.count)))
        return PushRowChange(
            kind: kind, key: keyOf(values), old: kind == .removed ? values : nil, new: kind == .added ? values : nil, changedColumns: nil)
    }

    /// A row of `changedRowsSQL` (new values, then old) as a change.
    package func changedRow(_ row: [String?]) -> PushRowChange {
        let new = named(Array(row.prefix(columns.count))), old = named(Array(row.dropFirst(columns.count).prefix(columns.count)))
        let changed = valueColumns.filter { (new[$0] ?? nil) != (old[$0] ?? nil) }
        return PushRowChange(kind: .changed, key: keyOf(new), old: old, new: new, changedColumns: changed)
    }

    private func named(_ values: [String?]) -> [String: String?] {
        var row: [String: String?] = [:]
        for (column, value) in zip(columns, values) { row[column] = .some(value) }
        return row
    }

    private func keyOf(_ values: [String: String?]) -> [String: String?] {
        var key: [String: String?] = [:]
        for column in self.key { key[column] = .some(values[column] ?? nil) }
        return key
    }

    private func q(_ name: String) -> String { SQL.identifier(name) }
    private func list(_ names: [String]) -> String { names.map(q).joined(separator: ", ") }
}
