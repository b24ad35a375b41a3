import BranchCore

/// JSON Schemas (OpenAPI 3.1, JSON Schema 2020-12) of what the REST API reads and writes: a
/// relation's row, a column, and a value of a type named as `format_type` names it.
///
/// Nullability is a `"null"` in `type`; `format` is the standard one where there is one
/// (`int64`, `date-time`, `uuid`…) and Postgres' type name otherwise; `x-pg-type` always has the
/// full type; keys are in descriptions and in `x-primary-key` / `x-foreign-key`.
enum OpenAPISchemas {
    /// A relation's row: every column, none required (a read may select some); what an insert must
    /// give is in `x-insert-required` (and the POST body's schema requires it).
    static func row(_ relation: Relation, in schema: SchemaCache, security: TableSecurity?) -> JSONValue {
        var object: [String: JSONValue] = [
            "type": "object",
            "properties": .object(Dictionary(uniqueKeysWithValues: relation.columns.map { ($0.name, column($0, of: relation, in: schema)) })),
            "x-relation-kind": .string(kindName(relation.kind)),
            "examples": [ExampleValues.row(relation)],
        ]
        let kind = kindName(relation.kind)
        var description = [relation.comment ?? "\(kind.prefix(1).uppercased() + kind.dropFirst()) `\(relation.name.name)`."]
        if !relation.primaryKey.isEmpty {
            object["x-primary-key"] = .array(relation.primaryKey.map(JSONValue.string))
            description.append("Primary key: (\(relation.primaryKey.joined(separator: ", "))).")
        }
        let required = relation.columns.filter(\.isRequired).map(\.name)
        if relation.insertable { object["x-insert-required"] = .array(required.map(JSONValue.string)) }
        let outgoing = schema.foreignKeys.filter { $0.table == relation.name }
        if !outgoing.isEmpty {
            object["x-foreign-keys"] = .array(outgoing.map(foreignKey))
            description.append(
                "References: " + outgoing.map { "(\($0.columns.joined(separator: ", "))) → `\($0.referencedTable.name)`(\($0.referencedColumns.joined(separator: ", ")))" }
                    .joined(separator: "; ") + ".")
        }
        let incoming = schema.foreignKeys.filter { $0.referencedTable == relation.name && $0.table.schema == relation.name.schema }
        if !incoming.isEmpty {
            object["x-referenced-by"] = .array(incoming.map(foreignKey))
            description.append("Referenced by: " + incoming.map { "`\($0.table.name)`(\($0.columns.joined(separator: ", ")))" }.joined(separator: "; ") + ".")
        }
        if let security {
            object["x-row-level-security"] = .bool(security.rowLevelSecurity)
            if security.rowLevelSecurity { description.append("Row-level security is on: \(security.policies.count) polic\(security.policies.count == 1 ? "y" : "ies").") }
        }
        object["description"] = .string(description.joined(separator: "\n\n"))
        return .object(object)
    }

    /// `{"constraint", "columns", "references": {"table", "columns"}}` (and `"table"` for where it starts).
    private static func foreignKey(_ key: ForeignKey) -> JSONValue {
        [
            "constraint": .string(key.constraintName),
            "table": .string(key.table.name),
            "columns": .array(key.columns.map(JSONValue.string)),
            "references": ["table": .string(key.referencedTable.name), "columns": .array(key.referencedColumns.map(JSONValue.string))],
        ]
    }

    /// One column: type, format, nullability, default, enum, length, keys, comment.
    static func column(_ column: Column, of relation: Relation, in schema: SchemaCache) -> JSONValue {
        var property = valueSchema(udt: column.udtName, typeName: column.type, nullable: column.nullable)
        property["x-pg-type"] = .string(column.type)
        if !column.enumValues.isEmpty {
            property["enum"] = .array(column.enumValues.map(JSONValue.string) + (column.nullable ? [.null] : []))
        }
        if let length = maxLength(column) { property["maxLength"] = .integer(length) }
        if let type = SwaggerDocument.columnType(udt: column.udtName), let value = SwaggerDocument.defaultValue(column.defaultExpression, type: type) {
            property["default"] = value
        }
        if column.isGenerated { property["readOnly"] = true }
        var notes: [String] = []
        if let comment = column.comment { notes.append(comment) }
        notes.append("Postgres type `\(column.type)`" + (column.nullable ? ", nullable" : ", not null") + ".")
        if let expression = column.defaultExpression { notes.append("Default: `\(expression)`.") }
        if column.isIdentity { notes.append("Identity: the database numbers it.") }
        if column.isGenerated { notes.append("Generated: computed by the database, never written.") }
        if relation.primaryKey.contains(column.name) {
            property["x-primary-key"] = true
            notes.append("Primary key.")
        }
        let keys = schema.foreignKeys.filter { $0.table == relation.name && $0.columns.contains(column.name) }
        if let key = keys.first(where: { schema.relations[$0.referencedTable]?.kind == .table }) ?? keys.first,
            let index = key.columns.firstIndex(of: column.name), index < key.referencedColumns.count
        {
            let target = key.referencedColumns[index]
            property["x-foreign-key"] = [
                "table": .string(key.referencedTable.name), "column": .string(target), "constraint": .string(key.constraintName),
            ]
            notes.append("Foreign key to `\(key.referencedTable.name).\(target)`.")
        }
        property["description"] = .string(notes.joined(separator: " "))
        return .object(property)
    }

    /// `type` (with `"null"` when nullable), `format` and `items` of a value whose base type is
    /// `udt` (`_elem` for arrays) and whose full name is `typeName`.
    static func valueSchema(udt: String, typeName: String, nullable: Bool) -> [String: JSONValue] {
        var schema: [String: JSONValue] = [:]
        let type = SwaggerDocument.columnType(udt: udt)
        if let type { schema["type"] = nullable ? [.string(type), "null"] : .string(type) }
        schema["format"] = .string(format(udt: udt, typeName: typeName))
        if type == "array" {
            let element = String(udt.dropFirst())
            let elementName = typeName.hasSuffix("[]") ? String(typeName.dropLast(2)) : element
            schema["items"] = .object(valueSchema(udt: element, typeName: elementName, nullable: true))
        }
        return schema
    }

    /// The schema of a value of a type as `format_type` names it (function arguments and results).
    static func typeSchema(_ typeName: String) -> JSONValue {
        .object(valueSchema(udt: udt(typeName), typeName: typeName, nullable: false))
    }

    /// The base type name of a `format_type` name, as far as schemas need it.
    static func udt(_ typeName: String) -> String {
        let type = SwaggerDocument.formatName(typeName)
        if type.hasSuffix("[]") { return "_" + udt(String(type.dropLast(2))) }
        return switch type {
        case "smallint": "int2"
        case "integer": "int4"
        case "bigint": "int8"
        case "real": "float4"
        case "double precision": "float8"
        case "boolean": "bool"
        case "timestamp with time zone": "timestamptz"
        case "timestamp without time zone": "timestamp"
        case "character varying": "varchar"
        case "character": "bpchar"
        default: type
        }
    }

    /// JSON Schema's format where one fits, else Postgres' type name without modifiers.
    private static func format(udt: String, typeName: String) -> String {
        switch udt {
        case "int2", "int4": "int32"
        case "int8": "int64"
        case "float4": "float"
        case "float8": "double"
        case "uuid": "uuid"
        case "timestamptz": "date-time"
        case "date": "date"
        default: SwaggerDocument.formatName(typeName)
        }
    }

    /// `character varying(n)` and `character(n)`: n.
    private static func maxLength(_ column: Column) -> Int? {
        guard column.udtName == "varchar" || column.udtName == "bpchar", column.type.hasSuffix(")"),
            let open = column.type.lastIndex(of: "(")
        else { return nil }
        return Int(column.type[column.type.index(after: open)..<column.type.index(before: column.type.endIndex)])
    }

    static func kindName(_ kind: Relation.Kind) -> String {
        switch kind {
        case .table: "table"
        case .view: "view"
        case .materializedView: "materialized view"
        case .foreignTable: "foreign table"
        case .partitionedTable: "partitioned table"
        }
    }
}
