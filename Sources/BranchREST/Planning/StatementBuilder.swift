import BranchPostgres

/// One statement under construction: its bound parameters, in `$n` order, and the aliases given
/// to the relations it reads, unique within the statement. Every value a request carries goes
/// through `bind`; only identifiers checked against the schema cache (and quoted) and numbers the
/// parsers produced are written into the SQL text.
struct StatementBuilder {
    private(set) var parameters: [String?] = []
    private var aliasCount = 0
    /// Names that generated aliases must not take (the statement's top-level relation).
    private var reservedNames: Set<String>

    /// An empty statement whose generated aliases avoid `names`.
    init(reserving names: Set<String> = []) {
        reservedNames = names
    }

    /// A placeholder for `value`: Postgres infers its type from where it stands.
    mutating func bind(_ value: String?) -> String {
        parameters.append(value)
        return "$\(parameters.count)"
    }

    /// A placeholder for `value` cast to `type` (a type name from the catalog or a checked cast).
    mutating func bind(_ value: String?, as type: String) -> String {
        "\(bind(value))::\(type)"
    }

    /// A fresh alias for a relation embedded under `name` (`users_1`), quoted.
    mutating func alias(for name: String) -> String {
        while true {
            aliasCount += 1
            let candidate = "\(name)_\(aliasCount)"
            if !reservedNames.contains(candidate) { return SQL.identifier(candidate) }
        }
    }

    /// A fresh name for a lateral subquery (`pgrst_2`), quoted.
    mutating func lateralAlias() -> String {
        alias(for: "pgrst")
    }
}

/// `"name"`: an identifier, quoted.
func quoted(_ name: String) -> String { SQL.identifier(name) }

/// `"schema"."name"`.
func quoted(_ name: QualifiedName) -> String { "\(SQL.identifier(name.schema)).\(SQL.identifier(name.name))" }

/// Conditions joined with AND, `TRUE` when there are none.
func conjunction(_ conditions: [String]) -> String {
    conditions.isEmpty ? "TRUE" : conditions.count == 1 ? conditions[0] : conditions.map { "(\($0))" }.joined(separator: " AND ")
}

/// `WHERE …`, or nothing when there is no condition.
func whereClause(_ conditions: [String]) -> String {
    conditions.isEmpty ? "" : " WHERE " + conjunction(conditions)
}
