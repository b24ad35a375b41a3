import Foundation

/// The table editor's pending edits as the page posts them (JSON), and the SQL they become: one
/// statement per edit, run together in one transaction, so a failing edit changes nothing.
struct EditBatch: Decodable, Sendable {
    struct Edit: Decodable, Sendable {
        /// "insert", "update" or "delete".
        var op: String
        /// The row's primary key values (update, delete), by column name, as text.
        var key: [String: String?]?
        /// New values (insert, update), by column name, as text; null for SQL NULL.
        var values: [String: String?]?
    }

    struct Invalid: Error, Sendable {
        var index: Int?
        var message: String
    }

    var table: String
    var edits: [Edit]
    /// Only answer the SQL (the "Review changes" dialog), run nothing.
    var preview: Bool?

    /// One statement per edit, in order.
    func statements(for table: TableCatalog.Table) throws -> [String] {
        guard !table.key.isEmpty else { throw Invalid(index: nil, message: "Table \(table.id) has no primary key: it is read-only here.") }
        guard !edits.isEmpty else { throw Invalid(index: nil, message: "There are no changes to save.") }
        guard edits.count <= 1_000 else { throw Invalid(index: nil, message: "Save at most 1,000 changes at a time.") }
        return try edits.enumerated().map { index, edit in
            do {
                return try Self.statement(edit, table: table)
            } catch let invalid as Invalid {
                throw Invalid(index: index, message: invalid.message)
            } catch let invalid as SQLQuoting.InvalidValue {
                throw Invalid(index: index, message: invalid.message)
            }
        }
    }

    static func statement(_ edit: Edit, table: TableCatalog.Table) throws -> String {
        switch edit.op {
        case "insert":
            let values = try assignments(edit.values ?? [:], table: table)
            if values.isEmpty { return "INSERT INTO \(table.sql) DEFAULT VALUES" }
            return "INSERT INTO \(table.sql) (\(values.map(\.name).joined(separator: ", "))) VALUES (\(values.map(\.value).joined(separator: ", ")))"
        case "update":
            let values = try assignments(edit.values ?? [:], table: table)
            guard !values.isEmpty else { throw Invalid(message: "An update changes no column.") }
            let set = values.map { "\($0.name) = \($0.value)" }.joined(separator: ", ")
            return "UPDATE \(table.sql) SET \(set) WHERE \(try keyCondition(edit.key, table: table))"
        case "delete":
            return "DELETE FROM \(table.sql) WHERE \(try keyCondition(edit.key, table: table))"
        default:
            throw Invalid(message: "Unknown change '\(edit.op)': insert, update or delete.")
        }
    }

    /// `"column"` and its typed literal for each value, in the table's column order.
    static func assignments(_ values: [String: String?], table: TableCatalog.Table) throws -> [(name: String, value: String)] {
        for name in values.keys where table.column(name) == nil { throw Invalid(message: "Table \(table.id) has no column \(name).") }
        return try table.columns.compactMap { column in
            guard let value = values[column.name] else { return nil }
            guard !column.generated else { throw Invalid(message: "Column \(column.name) is generated: it cannot be written.") }
            return (SQLQuoting.identifier(column.name), try SQLQuoting.typed(value, type: column.type))
        }
    }

    /// `"k1" = '…'::type AND …` for the whole primary key.
    static func keyCondition(_ key: [String: String?]?, table: TableCatalog.Table) throws -> String {
        try table.key.map { column in
            guard let entry = key?[column.name], let value = entry else { throw Invalid(message: "The change does not name the row's \(column.name).") }
            return "\(SQLQuoting.identifier(column.name)) = \(try SQLQuoting.typed(value, type: column.type))"
        }.joined(separator: " AND ")
    }
}
