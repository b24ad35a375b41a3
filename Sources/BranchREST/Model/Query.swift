/// The PostgREST query language, parsed: what a `/rest/v1/{relation}` or `/rest/v1/rpc/{fn}` request
/// asks for, before any name is checked against the schema. Parsers in `Parsing/` produce it; the
/// planner in `Planning/` turns it into SQL with every value a bound parameter.

/// `column`, `column->key`, `column->>key`, `column->0->>key`: a column and an optional JSON path.
package struct FieldPath: Sendable, Hashable {
    package enum Arrow: Sendable, Hashable {
        /// `->`: the JSON value.
        case json
        /// `->>`: the value as text.
        case text
    }

    package struct Step: Sendable, Hashable {
        package var arrow: Arrow
        /// A key, or an array index written as digits (`->0`), as written (quotes removed).
        package var key: String

        package init(_ arrow: Arrow, _ key: String) {
            self.arrow = arrow
            self.key = key
        }
    }

    package var column: String
    package var jsonPath: [Step]

    package init(_ column: String, jsonPath: [Step] = []) {
        self.column = column
        self.jsonPath = jsonPath
    }

    /// The name PostgREST gives the value when no alias is written: the last JSON key, else the column.
    package var defaultName: String { jsonPath.last?.key ?? column }
}

/// The operators of `col=op.value`.
package enum FilterOperator: String, Sendable, Hashable, CaseIterable {
    case eq, neq, gt, gte, lt, lte, like, ilike, match, imatch
    case `in`, `is`, isdistinct
    case fts, plfts, phfts, wfts
    case cs, cd, ov, sl, sr, nxl, nxr, adj
}

/// `like(any)` / `eq(all)`: the value is a list and the condition holds for any or all of it.
package enum Quantifier: String, Sendable, Hashable {
    case any, all
}

/// The right-hand side of a condition, as text: Postgres parses it as the column's type.
package enum Operand: Sendable, Hashable {
    /// One value, as written after the operator (for `like`/`ilike`, `*` already turned into `%`).
    case value(String)
    /// `in.(a,b,"c,d")` and quantified operators: the items, quotes and escapes removed.
    case list([String])
    /// `is.null|not_null|true|false|unknown`.
    case isValue(IsValue)

    package enum IsValue: String, Sendable, Hashable {
        case null, notNull = "not_null", `true`, `false`, unknown
    }
}

/// One `col=[not.]op[(modifier)].value`.
package struct Condition: Sendable, Hashable {
    package var field: FieldPath
    package var negated: Bool
    package var op: FilterOperator
    package var quantifier: Quantifier?
    /// The text search configuration of `fts(english)` and its siblings.
    package var language: String?
    package var operand: Operand

    package init(field: FieldPath, negated: Bool = false, op: FilterOperator, quantifier: Quantifier? = nil, language: String? = nil, operand: Operand) {
        self.field = field
        self.negated = negated
        self.op = op
        self.quantifier = quantifier
        self.language = language
        self.operand = operand
    }
}

/// A filter: a condition, or `and(...)`/`or(...)` of filters, possibly negated (`not.or(...)`).
package indirect enum LogicTree: Sendable, Hashable {
    case condition(Condition)
    case and([LogicTree], negated: Bool)
    case or([LogicTree], negated: Bool)
}

/// Where a parameter applies: `[]` is the requested relation, `["actors"]` an embed of it,
/// `["actors", "films"]` an embed of that one (query keys `actors.films.order=...`).
package typealias EmbedPath = [String]

/// One item of `select=`.
package indirect enum SelectItem: Sendable, Hashable {
    /// `*`.
    case star
    /// `[alias:]column[->path][::cast]`.
    case field(FieldPath, alias: String?, cast: String?)
    /// `[alias:]relation[!hint][!inner|!left](items)`.
    case embed(Embed)
}

package struct Embed: Sendable, Hashable {
    package enum Join: Sendable, Hashable { case left, inner }

    /// The table, view, or foreign key constraint/column name (`author_id`) written before the `(`.
    package var relation: String
    package var alias: String?
    /// `!hint`: a foreign key name, a column, or a junction table that disambiguates.
    package var hint: String?
    package var join: Join
    package var items: [SelectItem]

    package init(relation: String, alias: String? = nil, hint: String? = nil, join: Join = .left, items: [SelectItem]) {
        self.relation = relation
        self.alias = alias
        self.hint = hint
        self.join = join
        self.items = items
    }

    /// The key the embed has in the JSON output and in embed-scoped query keys.
    package var name: String { alias ?? relation }
}

/// One term of `order=col.desc.nullslast`.
package struct OrderTerm: Sendable, Hashable {
    package enum Direction: Sendable, Hashable { case ascending, descending }
    package enum Nulls: Sendable, Hashable { case first, last }

    package var field: FieldPath
    package var direction: Direction
    package var nulls: Nulls?

    package init(field: FieldPath, direction: Direction = .ascending, nulls: Nulls? = nil) {
        self.field = field
        self.direction = direction
        self.nulls = nulls
    }
}

/// The `Prefer` headers that change what happens (the rest are ignored, as PostgREST does).
package struct Preferences: Sendable, Hashable {
    package enum Return: Sendable, Hashable { case minimal, representation, headersOnly }
    package enum Count: Sendable, Hashable { case exact, planned, estimated }
    package enum Resolution: Sendable, Hashable { case mergeDuplicates, ignoreDuplicates }

    package var returning: Return?
    package var count: Count?
    package var resolution: Resolution?
    /// `missing=default`: keys missing from a bulk insert's objects take their column's DEFAULT.
    package var missingDefault: Bool

    package init(returning: Return? = nil, count: Count? = nil, resolution: Resolution? = nil, missingDefault: Bool = false) {
        self.returning = returning
        self.count = count
        self.resolution = resolution
        self.missingDefault = missingDefault
    }
}

/// What the `Accept` header asks for.
package enum ResponseFormat: Sendable, Hashable {
    /// A JSON array (`*/*`, none, `application/json`).
    case jsonArray
    /// `application/vnd.pgrst.object+json`: exactly one object.
    case singleObject
    /// `text/csv`.
    case csv
}

/// `Range: 0-9` (`upper` nil for `10-`), already as offset and limit.
package struct RowRange: Sendable, Hashable {
    package var offset: Int
    package var limit: Int?

    package init(offset: Int, limit: Int?) {
        self.offset = offset
        self.limit = limit
    }
}

/// Every query-string parameter of a request, parsed (reserved keys and filters).
package struct QueryParameters: Sendable, Hashable {
    package var select: [SelectItem] = [.star]
    /// Filters by embed path; `[]` holds the requested relation's (all AND-ed together, as
    /// `col=...`, `or=(...)`, `and=(...)`, `not.or=(...)` appear).
    package var filters: [EmbedPath: [LogicTree]] = [:]
    package var order: [EmbedPath: [OrderTerm]] = [:]
    package var limit: [EmbedPath: Int] = [:]
    package var offset: [EmbedPath: Int] = [:]
    /// `on_conflict=a,b`.
    package var onConflict: [String]?
    /// `columns="a","b"` (quotes stripped).
    package var columns: [String]?

    package init() {}
}
