import Foundation

/// Everything the schema diff compares, read from one database: tables with their columns,
/// keys, indexes and constraints, and views, functions, triggers, extensions, RLS policies and
/// enum types. Lists are sorted by name so two snapshots compare position by position.
package struct SchemaSnapshot: Codable, Sendable, Equatable {
    package var tables: [TableSchema]
    package var views: [NamedDefinition]
    package var functions: [NamedDefinition]
    package var triggers: [NamedDefinition]
    package var extensions: [NamedDefinition]
    package var policies: [NamedDefinition]
    package var enums: [NamedDefinition]

    package init(
        tables: [TableSchema] = [], views: [NamedDefinition] = [], functions: [NamedDefinition] = [], triggers: [NamedDefinition] = [],
        extensions: [NamedDefinition] = [], policies: [NamedDefinition] = [], enums: [NamedDefinition] = []
    ) {
        self.tables = tables
        self.views = views
        self.functions = functions
        self.triggers = triggers
        self.extensions = extensions
        self.policies = policies
        self.enums = enums
    }

    package func table(_ qualifiedName: String) -> TableSchema? { tables.first { $0.qualifiedName == qualifiedName } }
}

package struct TableSchema: Codable, Sendable, Equatable {
    package var schema: String
    package var name: String
    /// In position order.
    package var columns: [ColumnSchema]
    /// Primary key column names in key order; nil without a primary key.
    package var primaryKey: [String]?
    /// Index name → `CREATE INDEX …` definition (primary key and constraint indexes included).
    package var indexes: [NamedDefinition]
    package var constraints: [ConstraintSchema]
    package var rowLevelSecurity: Bool
    /// `pg_get_partkeydef` of a partitioned table, e.g. `RANGE (at)`; nil for a plain table.
    package var partitionKey: String?

    package init(
        schema: String, name: String, columns: [ColumnSchema], primaryKey: [String]?, indexes: [NamedDefinition] = [],
        constraints: [ConstraintSchema] = [], rowLevelSecurity: Bool = false, partitionKey: String? = nil
    ) {
        self.schema = schema
        self.name = name
        self.columns = columns
        self.primaryKey = primaryKey
        self.indexes = indexes
        self.constraints = constraints
        self.rowLevelSecurity = rowLevelSecurity
        self.partitionKey = partitionKey
    }

    /// `schema.name`, each part quoted only when it needs to be (as `format('%I.%I')` does).
    package var qualifiedName: String { "\(SQLName.quote(schema)).\(SQLName.quote(name))" }

    package func column(_ name: String) -> ColumnSchema? { columns.first { $0.name == name } }
}

package struct ColumnSchema: Codable, Sendable, Equatable {
    package var name: String
    /// `format_type(atttypid, atttypmod)`, e.g. `character varying(50)`, `numeric(10,2)`, `integer[]`.
    package var type: String
    package var nullable: Bool
    /// `pg_get_expr` of the default, nil when there is none (generated columns: see `generated`).
    package var defaultExpression: String?
    /// The expression of a `GENERATED ALWAYS AS (…) STORED` column.
    package var generated: String?
    /// `GENERATED … AS IDENTITY`: `a` (always), `d` (by default), nil.
    package var identity: String?
}

package struct ConstraintSchema: Codable, Sendable, Equatable {
    package var name: String
    /// `p` primary key, `u` unique, `f` foreign key, `c` check, `x` exclusion.
    package var type: String
    /// `pg_get_constraintdef`.
    package var definition: String
}

package struct NamedDefinition: Codable, Sendable, Equatable {
    package var name: String
    package var definition: String
    /// The parts of the object the diff and the DDL need apart from its definition (nil when there
    /// are none): an enum's labels in order; a view's output columns as `name type`; a function's
    /// kind (`function` or `procedure`), `pg_get_function_arguments` and `pg_get_function_result`;
    /// a trigger's or policy's schema, table and own name; an extension's schema.
    package var details: [String]?
}

/// Identifier quoting as Postgres' `quote_ident` does it.
package enum SQLName {
    package static func quote(_ name: String) -> String {
        let plain = (isPlainASCII(name) ?? isPlain(name)) && !reservedWords.contains(name)
        return plain ? name : "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// Whether `name` needs no quotes by its characters: a lowercase letter or `_` first, then
    /// those, digits and `$`.
    private static func isPlain(_ name: String) -> Bool {
        !name.isEmpty && name.first.map { $0 == "_" || ($0.isLetter && $0.isLowercase) } == true
            && name.allSatisfy { $0 == "_" || $0 == "$" || ($0.isLetter && $0.isLowercase) || $0.isNumber }
    }

    /// `isPlain` for an ASCII name, byte by byte (a diff quotes every column of every row it
    /// reads, and Unicode's character properties are slow); nil for any other name.
    private static func isPlainASCII(_ name: String) -> Bool? {
        var plain = !name.isEmpty
        for (index, byte) in name.utf8.enumerated() {
            guard byte < 0x80 else { return nil }
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "_"): continue
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "$"): if index == 0 { plain = false }
            default: plain = false
            }
        }
        return plain
    }

    /// Reserved key words that `quote_ident` quotes (a subset large enough for column names in practice).
    static let reservedWords: Set<String> = [
        "all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "both", "case", "cast", "check", "collate",
        "column", "constraint", "create", "current_catalog", "current_date", "current_role", "current_time", "current_timestamp",
        "current_user", "default", "deferrable", "desc", "distinct", "do", "else", "end", "except", "false", "fetch", "for",
        "foreign", "from", "grant", "group", "having", "in", "initially", "intersect", "into", "lateral", "leading", "limit",
        "localtime", "localtimestamp", "not", "null", "offset", "on", "only", "or", "order", "placing", "primary", "references",
        "returning", "select", "session_user", "some", "symmetric", "table", "then", "to", "trailing", "true", "union", "unique",
        "user", "using", "variadic", "when", "where", "window", "with", "authorization", "binary", "collation", "concurrently",
        "cross", "current_schema", "freeze", "full", "ilike", "inner", "is", "isnull", "join", "left", "like", "natural",
        "notnull", "outer", "overlaps", "right", "similar", "tablesample", "verbose",
    ]
}
