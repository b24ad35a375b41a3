/// What the data API knows of a branch's database: the relations, columns, keys and functions of
/// the exposed schemas, read from the catalog by `SchemaLoader` and replaced when `version` changes.
package struct SchemaCache: Sendable {
    /// Bumped by an event trigger on every committed DDL (`SchemaLoader.versionQuery`).
    package var version: String
    package var relations: [QualifiedName: Relation]
    package var foreignKeys: [ForeignKey]
    /// Overloads share a name; PostgREST picks the one whose argument names match the request's.
    package var functions: [QualifiedName: [Function]]
    /// `COMMENT ON SCHEMA`, by schema: the schema document's title (first line) and description.
    package var schemaComments: [String: String] = [:]

    package init(version: String, relations: [QualifiedName: Relation], foreignKeys: [ForeignKey], functions: [QualifiedName: [Function]]) {
        self.version = version
        self.relations = relations
        self.foreignKeys = foreignKeys
        self.functions = functions
    }
}

extension SchemaCache {
    /// Nothing known yet (a cache that could not be read).
    package static var empty: SchemaCache { SchemaCache(version: "", relations: [:], foreignKeys: [], functions: [:]) }
}

/// `schema.name`.
package struct QualifiedName: Sendable, Hashable, Comparable, CustomStringConvertible {
    package var schema: String
    package var name: String

    package init(_ schema: String, _ name: String) {
        self.schema = schema
        self.name = name
    }

    package static func < (lhs: QualifiedName, rhs: QualifiedName) -> Bool { (lhs.schema, lhs.name) < (rhs.schema, rhs.name) }
    package var description: String { "\(schema).\(name)" }
}

/// A table, view, materialized view, foreign table or partitioned table.
package struct Relation: Sendable {
    package enum Kind: String, Sendable { case table, view, materializedView, foreignTable, partitionedTable }

    package var name: QualifiedName
    package var kind: Kind
    package var comment: String?
    /// In `attnum` order.
    package var columns: [Column]
    /// Empty when there is none (views: empty).
    package var primaryKey: [String]
    package var insertable: Bool
    package var updatable: Bool
    package var deletable: Bool

    package init(
        name: QualifiedName, kind: Kind, comment: String?, columns: [Column], primaryKey: [String],
        insertable: Bool, updatable: Bool, deletable: Bool
    ) {
        self.name = name
        self.kind = kind
        self.comment = comment
        self.columns = columns
        self.primaryKey = primaryKey
        self.insertable = insertable
        self.updatable = updatable
        self.deletable = deletable
    }

    package func column(_ name: String) -> Column? { columns.first { $0.name == name } }
}

package struct Column: Sendable {
    package var name: String
    /// `format_type(atttypid, atttypmod)`: `integer`, `timestamp with time zone`, `character varying(20)`, `text[]`.
    package var type: String
    /// The base type's name without modifiers (`int4`, `timestamptz`, `_text`), for JSON Schema types.
    package var udtName: String
    package var nullable: Bool
    /// The DEFAULT expression, or nil (identity and generated columns say so in `isGenerated`/`isIdentity`).
    package var defaultExpression: String?
    package var isIdentity: Bool
    package var isGenerated: Bool
    package var comment: String?
    /// The labels of an enum type, in order; empty otherwise.
    package var enumValues: [String]

    package init(
        name: String, type: String, udtName: String, nullable: Bool, defaultExpression: String?,
        isIdentity: Bool = false, isGenerated: Bool = false, comment: String? = nil, enumValues: [String] = []
    ) {
        self.name = name
        self.type = type
        self.udtName = udtName
        self.nullable = nullable
        self.defaultExpression = defaultExpression
        self.isIdentity = isIdentity
        self.isGenerated = isGenerated
        self.comment = comment
        self.enumValues = enumValues
    }

    /// Whether an insert must give it a value (Swagger's `required`).
    package var isRequired: Bool { !nullable && defaultExpression == nil && !isIdentity && !isGenerated }
}

/// A foreign key `table(columns) references referencedTable(referencedColumns)`, column pairs in order.
/// Views also get the keys of the table columns they read, on either end and under the view's own
/// column names (PostgREST's view dependency analysis, through chains of views too).
package struct ForeignKey: Sendable, Hashable {
    package var constraintName: String
    package var table: QualifiedName
    package var columns: [String]
    package var referencedTable: QualifiedName
    package var referencedColumns: [String]

    package init(constraintName: String, table: QualifiedName, columns: [String], referencedTable: QualifiedName, referencedColumns: [String]) {
        self.constraintName = constraintName
        self.table = table
        self.columns = columns
        self.referencedTable = referencedTable
        self.referencedColumns = referencedColumns
    }

    /// Whether the referencing columns are unique on their own (then the reverse embed is one-to-one).
    package var isOneToOne: Bool = false
}

/// A function callable as `/rpc/{name}`.
package struct Function: Sendable {
    package enum Volatility: String, Sendable { case volatile, stable, immutable }

    package struct Argument: Sendable {
        package var name: String
        /// `format_type` of the argument.
        package var type: String
        package var hasDefault: Bool
        /// VARIADIC.
        package var isVariadic: Bool

        package init(name: String, type: String, hasDefault: Bool, isVariadic: Bool = false) {
            self.name = name
            self.type = type
            self.hasDefault = hasDefault
            self.isVariadic = isVariadic
        }
    }

    package enum Returns: Sendable {
        /// `void`.
        case void
        /// A scalar, array or composite type that is not a relation's row: `integer`, `json`, `text[]`.
        case scalar(type: String)
        /// A table's or view's row type (`returns todos`, `returns setof todos`): filters, order and
        /// embedding apply as for that relation.
        case relation(QualifiedName)
        /// `returns table(...)`, `out` arguments or `record`: columns known only from the result.
        case record
    }

    package var name: QualifiedName
    package var arguments: [Argument]
    package var returns: Returns
    package var returnsSet: Bool
    package var volatility: Volatility
    package var comment: String?

    package init(name: QualifiedName, arguments: [Argument], returns: Returns, returnsSet: Bool, volatility: Volatility, comment: String?) {
        self.name = name
        self.arguments = arguments
        self.returns = returns
        self.returnsSet = returnsSet
        self.volatility = volatility
        self.comment = comment
    }
}
