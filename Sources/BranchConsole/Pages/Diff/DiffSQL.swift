import BranchAPI
import Foundation

/// The SQL that makes a diff's first side look like its second, for the rows shown or chosen:
/// an INSERT per added row, a DELETE per removed row, an UPDATE of the changed columns per
/// changed row. Values are the diff's Postgres text forms as string literals (untyped, so
/// Postgres reads them as each column's type); identifiers are quoted.
enum DiffSQL {
    typealias Row = Components.Schemas.DiffRowChange

    /// A whole patch, one statement per row; `transaction` wraps it in BEGIN/COMMIT (a file for psql),
    /// without it it is for the SQL API, which runs all statements in one transaction anyway.
    static func patch(_ rows: [Row], transaction: Bool) -> String {
        let body = ["SET LOCAL standard_conforming_strings = on;"] + rows.map(statement)
        return (transaction ? ["BEGIN;"] + body + ["COMMIT;"] : body).joined(separator: "\n") + "\n"
    }

    static func statement(_ row: Row) -> String {
        let table = row.table
        let key = row.key.additionalProperties
        switch row.change {
        case "added":
            let values = row.row?.additionalProperties ?? [:]
            let columns = values.keys.sorted()
            let tuple = "(" + columns.map { literal(values[$0] ?? nil) }.joined(separator: ", ") + ")"
            let copies = Array(repeating: tuple, count: max(1, row.count ?? 1))
            return "INSERT INTO \(table) (\(columns.map(identifier).joined(separator: ", "))) VALUES \(copies.joined(separator: ", "));"
        case "removed":
            if key.isEmpty {
                let values = row.row?.additionalProperties ?? [:]
                let match = values.keys.sorted().map { "\(identifier($0)) IS NOT DISTINCT FROM \(literal(values[$0] ?? nil))" }.joined(separator: " AND ")
                return "DELETE FROM \(table) WHERE ctid IN (SELECT ctid FROM \(table) WHERE \(match.isEmpty ? "true" : match) LIMIT \(max(1, row.count ?? 1)));"
            }
            return "DELETE FROM \(table) WHERE \(condition(key));"
        default:
            let sets = (row.columns ?? []).map { "\(identifier($0.column)) = \(literal($0.new))" }.joined(separator: ", ")
            return "UPDATE \(table) SET \(sets) WHERE \(condition(key));"
        }
    }

    static func condition(_ key: [String: String?]) -> String {
        key.keys.sorted().map { column in
            let value = key[column] ?? nil
            return value == nil ? "\(identifier(column)) IS NULL" : "\(identifier(column)) = \(literal(value))"
        }.joined(separator: " AND ")
    }

    /// `'text'` with quotes doubled (standard conforming strings: backslashes are literal), or NULL.
    static func literal(_ value: String?) -> String {
        guard let value else { return "NULL" }
        return "'" + value.replacingOccurrences(of: "'", with: "''") + "'"
    }

    /// `"name"` with double quotes doubled, as `quote_ident` would always quote.
    static func identifier(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
