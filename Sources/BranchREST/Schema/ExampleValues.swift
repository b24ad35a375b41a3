import BranchCore

/// Plausible values for examples in the agent documents: a value of each column's type (its
/// literal default when it has one), the row an insert would send, and a filter that reads well.
enum ExampleValues {
    /// A value of the column's type, as the REST API reads and writes it.
    static func value(_ column: Column) -> JSONValue {
        if let type = SwaggerDocument.columnType(udt: column.udtName),
            let literal = SwaggerDocument.defaultValue(column.defaultExpression, type: type)
        {
            return literal
        }
        if let first = column.enumValues.first { return .string(first) }
        return value(udt: column.udtName, name: column.name)
    }

    /// A value of a base type (`udt`, arrays as `_elem`); `name` makes text read like the column.
    static func value(udt: String, name: String) -> JSONValue {
        if udt.hasPrefix("_") { return .array([value(udt: String(udt.dropFirst()), name: name)]) }
        switch udt {
        case "int2", "int4", "int8", "oid": return 1
        case "numeric": return .number(9.99)
        case "float4", "float8": return .number(1.5)
        case "bool": return true
        case "json", "jsonb": return ["key": "value"]
        case "uuid": return "3fa85f64-5717-4562-b3fc-2c963f66afa6"
        case "timestamptz": return "2025-01-01T12:00:00+00:00"
        case "timestamp": return "2025-01-01T12:00:00"
        case "date": return "2025-01-01"
        case "time", "timetz": return "12:00:00"
        case "interval": return "1 day"
        case "inet", "cidr": return "192.0.2.1"
        case "macaddr": return "08:00:2b:01:02:03"
        case "bytea": return "\\x00"
        case "vector": return "[0.1,0.2,0.3]"
        case "tsvector": return "'example':1"
        case "int4range", "int8range", "numrange": return "[1,10)"
        case "tstzrange", "tsrange": return "[2025-01-01,2025-02-01)"
        case "daterange": return "[2025-01-01,2025-02-01)"
        default:
            let lowered = name.lowercased()
            if lowered.contains("email") { return "user@example.com" }
            if lowered.contains("url") || lowered.contains("link") { return "https://example.com" }
            return .string("example \(name)")
        }
    }

    /// What an insert would send: every column it must give, and other plain columns up to a few,
    /// skipping what the database fills in (identity, generated, defaults).
    static func insertRow(_ relation: Relation) -> [(String, JSONValue)] {
        let writable = relation.columns.filter { !$0.isGenerated && !$0.isIdentity }
        var chosen = writable.filter(\.isRequired)
        for column in writable where column.defaultExpression == nil && !chosen.contains(where: { $0.name == column.name }) && chosen.count < 4 {
            chosen.append(column)
        }
        if chosen.isEmpty, let first = writable.first { chosen = [first] }
        let order = relation.columns.map(\.name)
        return chosen
            .sorted { (order.firstIndex(of: $0.name) ?? 0) < (order.firstIndex(of: $1.name) ?? 0) }
            .map { ($0.name, value($0)) }
    }

    /// A whole row as a read returns it.
    static func row(_ relation: Relation) -> JSONValue {
        .object(Dictionary(uniqueKeysWithValues: relation.columns.map { ($0.name, value($0)) }))
    }

    /// The column a read example filters on: the primary key's first, else one named `id`, else
    /// the first plain filterable column.
    static func filterColumn(_ relation: Relation) -> Column? {
        let columns = DocumentNames.filterableColumns(relation)
        if let key = relation.primaryKey.first, let column = columns.first(where: { $0.name == key }) { return column }
        if let id = columns.first(where: { $0.name == "id" }) { return id }
        return columns.first { !["json", "jsonb", "bytea", "tsvector"].contains($0.udtName) && !$0.udtName.hasPrefix("_") } ?? columns.first
    }

    /// `op.value` for a filter on `column` that reads naturally (`eq.1`, `is.true`, `cs.{x}`).
    static func filter(_ column: Column) -> String {
        switch column.udtName {
        case "bool": return "is.true"
        case "json", "jsonb", "bytea": return "not.is.null"
        case "tsvector": return "fts.example"
        default:
            if column.udtName.hasPrefix("_") {
                return "cs.{" + text(value(udt: String(column.udtName.dropFirst()), name: column.name)) + "}"
            }
            return "eq." + text(value(column))
        }
    }

    /// A JSON value as a query string writes it.
    static func text(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): text
        case .integer(let number): String(number)
        case .number(let number): String(number)
        case .bool(let flag): flag ? "true" : "false"
        case .null: "null"
        case .array, .object: DocumentJSON.text(value)
        }
    }
}
