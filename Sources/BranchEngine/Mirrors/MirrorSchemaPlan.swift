import Foundation

/// What a mirror's `main` needs to match its source's schema again. Logical replication carries
/// rows, not DDL: a column added on the source stops the apply worker until main has it too.
/// Tables and columns are compared by name; additions and drops are applied, a changed type is
/// tried, a table gone from the source is only reported (its rows stay here).
enum MirrorSchemaPlan {
    /// One column of a published table, as the catalog describes it.
    struct Column: Sendable, Equatable {
        let table: String
        let name: String
        let type: String
        let notNull: Bool
        /// The default's expression (`pg_get_expr`), if any.
        let defaultExpression: String?
    }

    enum Change: Sendable, Equatable {
        case addTable(String)
        case addColumn(Column)
        case dropColumn(table: String, column: String)
        case changeType(Column)
        case tableGone(String)

        /// The statement that applies it on main (nil: nothing to run, or a table to restore).
        var sql: String? {
            switch self {
            case .addTable, .tableGone: nil
            case .addColumn(let column):
                "ALTER TABLE \(column.table) ADD COLUMN \(Self.quoted(column.name)) \(column.type)"
                    + (column.defaultExpression.map { " DEFAULT \($0)" } ?? "") + (column.notNull ? " NOT NULL" : "")
            case .dropColumn(let table, let column): "ALTER TABLE \(table) DROP COLUMN \(Self.quoted(column))"
            case .changeType(let column):
                "ALTER TABLE \(column.table) ALTER COLUMN \(Self.quoted(column.name)) TYPE \(column.type) USING \(Self.quoted(column.name))::\(column.type)"
            }
        }

        var summary: String {
            switch self {
            case .addTable(let table): "new table \(table)"
            case .addColumn(let column): "new column \(column.table).\(column.name) \(column.type)"
            case .dropColumn(let table, let column): "column \(table).\(column) dropped"
            case .changeType(let column): "column \(column.table).\(column.name) now \(column.type)"
            case .tableGone(let table): "table \(table) no longer published by the source (kept here, no longer updated; drop it on a branch if unwanted)"
            }
        }

        private static func quoted(_ name: String) -> String { "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
    }

    /// `source` and `mirror` are the columns of the published tables (quoted `schema.table`), in
    /// column order; the changes come tables first, then columns, in the source's order.
    static func changes(source: [Column], mirror: [Column]) -> [Change] {
        let sourceTables = orderedTables(source), mirrorTables = Set(mirror.map(\.table))
        var changes: [Change] = sourceTables.filter { !mirrorTables.contains($0) }.map(Change.addTable)
        let mirrored = Dictionary(grouping: mirror, by: \.table)
        for table in sourceTables where mirrorTables.contains(table) {
            let here = Dictionary(uniqueKeysWithValues: (mirrored[table] ?? []).map { ($0.name, $0) })
            let there = source.filter { $0.table == table }
            for column in there {
                if let existing = here[column.name] {
                    if existing.type != column.type { changes.append(.changeType(column)) }
                } else {
                    changes.append(.addColumn(column))
                }
            }
            let names = Set(there.map(\.name))
            for column in mirrored[table] ?? [] where !names.contains(column.name) {
                changes.append(.dropColumn(table: table, column: column.name))
            }
        }
        let published = Set(sourceTables)
        changes += orderedTables(mirror).filter { !published.contains($0) }.map(Change.tableGone)
        return changes
    }

    private static func orderedTables(_ columns: [Column]) -> [String] {
        var seen = Set<String>()
        return columns.compactMap { seen.insert($0.table).inserted ? $0.table : nil }
    }
}
