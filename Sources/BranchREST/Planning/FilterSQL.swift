/// Where filters are compiled: the rows' source, and the lateral subqueries of this level's
/// embeds (by embed name) for `embed=is.null` / `embed=not.is.null`.
struct FilterScope {
    var source: RowSource
    var embeds: [String: String] = [:]
    /// The embeds' lateral aliases the conditions used, which a count must keep joined.
    var usedEmbeds: Set<String> = []
}

extension StatementBuilder {
    /// One filter tree as a SQL condition; every operand a parameter.
    mutating func condition(_ tree: LogicTree, in scope: inout FilterScope) throws(RESTError) -> String {
        switch tree {
        case .condition(let condition):
            return try self.condition(condition, in: &scope)
        case .and(let trees, let negated), .or(let trees, let negated):
            let isOr = if case .or = tree { true } else { false }
            var parts: [String] = []
            for tree in trees {
                parts.append("(" + (try condition(tree, in: &scope)) + ")")
            }
            let joined = parts.isEmpty ? (isOr ? "FALSE" : "TRUE") : parts.joined(separator: isOr ? " OR " : " AND ")
            return negated ? "NOT (\(joined))" : joined
        }
    }

    /// `col op value`, negated with `NOT (…)` for `not.`.
    private mutating func condition(_ condition: Condition, in scope: inout FilterScope) throws(RESTError) -> String {
        if let embedCondition = try embedNullCondition(condition, in: &scope) { return embedCondition }
        let (field, type) = try expression(condition.field, in: scope.source)
        let core = try comparison(condition, field: field, type: type)
        return condition.negated ? "NOT (\(core))" : core
    }

    /// `embed=is.null` / `embed=not.is.null` on an embed of this level: whether the embed found rows.
    private mutating func embedNullCondition(_ condition: Condition, in scope: inout FilterScope) throws(RESTError) -> String? {
        let name = condition.field.column
        guard condition.field.jsonPath.isEmpty, let lateral = scope.embeds[name] else { return nil }
        guard condition.op == .is, case .isValue(let value) = condition.operand, value == .null || value == .notNull else {
            // A column of the same name keeps its ordinary filters.
            if scope.source.relation?.column(name) != nil { return nil }
            throw RESTError(
                status: 400, code: "PGRST120", message: "Bad operator on the '\(name)' embedded resource",
                details: "Only is null or not is null filters are allowed on embedded resources")
        }
        scope.usedEmbeds.insert(lateral)
        let isNull = (value == .null) != condition.negated
        return "\(lateral).\"agg\" IS \(isNull ? "" : "NOT ")NULL"
    }

    /// The condition for one operator, without negation.
    private mutating func comparison(_ condition: Condition, field: String, type: FieldType) throws(RESTError) -> String {
        switch condition.op {
        case .eq, .neq, .gt, .gte, .lt, .lte, .like, .ilike, .match, .imatch:
            let sqlOperator = Self.sqlOperators[condition.op] ?? "="
            let compared = Self.comparable(field, type: type)
            switch condition.operand {
            case .value(let value):
                return "\(compared) \(sqlOperator) \(bindOperand(value, type: type))"
            case .list(let values):
                // like(any).{a*,b*}: any or all of the items.
                let isAll = condition.quantifier == .all
                guard !values.isEmpty else { return isAll ? "TRUE" : "FALSE" }
                var parts: [String] = []
                for value in values { parts.append("\(compared) \(sqlOperator) \(bindOperand(value, type: type))") }
                return "(" + parts.joined(separator: isAll ? " AND " : " OR ") + ")"
            case .isValue(let value):
                return "\(compared) \(sqlOperator) \(bindOperand(value.rawValue, type: type))"
            }
        case .in:
            let values: [String]
            switch condition.operand {
            case .list(let list): values = list
            case .value(let value): values = [value]
            case .isValue(let value): values = [value.rawValue]
            }
            guard !values.isEmpty else { return "FALSE" }
            let compared = Self.comparable(field, type: type)
            var placeholders: [String] = []
            for value in values { placeholders.append(bindOperand(value, type: type)) }
            return "\(compared) IN (\(placeholders.joined(separator: ", ")))"
        case .is:
            let value: Operand.IsValue
            switch condition.operand {
            case .isValue(let isValue): value = isValue
            case .value(let text):
                guard let parsed = Operand.IsValue(rawValue: text.lowercased()) else { throw Self.badIsValue(text) }
                value = parsed
            case .list(let values):
                let text = values.joined(separator: ",")
                guard let parsed = Operand.IsValue(rawValue: text.lowercased()) else { throw Self.badIsValue(text) }
                value = parsed
            }
            switch value {
            case .null: return "\(field) IS NULL"
            case .notNull: return "\(field) IS NOT NULL"
            case .true: return "\(field) IS TRUE"
            case .false: return "\(field) IS FALSE"
            case .unknown: return "\(field) IS UNKNOWN"
            }
        case .isdistinct:
            let value = Self.single(condition.operand)
            return "\(Self.comparable(field, type: type)) IS DISTINCT FROM \(bindOperand(value, type: type))"
        case .fts, .plfts, .phfts, .wfts:
            let function = Self.searchFunctions[condition.op] ?? "to_tsquery"
            let configuration = condition.language.map { bind($0, as: "regconfig") + ", " } ?? ""
            let arguments = configuration + bind(Self.single(condition.operand), as: "text")
            // A column that is not a tsvector is searched as PostgREST does, in the same configuration.
            let isVector = if case .column(let column) = type { column.udtName == "tsvector" } else { false }
            let document = isVector ? field : "to_tsvector(\(configuration)\(field))"
            return "\(document) @@ \(function)(\(arguments))"
        case .cs, .cd, .ov, .sl, .sr, .nxl, .nxr, .adj:
            let sqlOperator = Self.sqlOperators[condition.op] ?? "@>"
            let value = Self.single(condition.operand)
            switch type {
            case .column(let column): return "\(field) \(sqlOperator) \(bind(value, as: column.typeWithoutModifiers))"
            case .json: return "(\(field))::jsonb \(sqlOperator) \(bind(value, as: "jsonb"))"
            case .text, .unknown: return "\(field) \(sqlOperator) \(bind(value))"
            }
        }
    }

    /// A comparison's operand: untyped, so Postgres takes the column's type (a `json` value, which
    /// has no equality, is compared as `jsonb`).
    private mutating func bindOperand(_ value: String, type: FieldType) -> String {
        if case .json = type { return bind(value, as: "jsonb") }
        return bind(value)
    }

    /// The field as compared: `json` values become `jsonb`.
    private static func comparable(_ field: String, type: FieldType) -> String {
        if case .json(isBinary: false) = type { return "(\(field))::jsonb" }
        return field
    }

    /// The one value of an operator that takes one (a list's items joined back as written).
    private static func single(_ operand: Operand) -> String {
        switch operand {
        case .value(let value): value
        case .list(let values): values.joined(separator: ",")
        case .isValue(let value): value.rawValue
        }
    }

    /// 400 `PGRST100` for an `is.` value that is not one of the five.
    private static func badIsValue(_ text: String) -> RESTError {
        RESTError(
            status: 400, code: "PGRST100", message: "\"failed to parse filter (is.\(text))\"",
            details: "unexpected \"\(text)\" expecting null, not_null, true, false or unknown")
    }

    /// The SQL operator of each PostgREST operator that has one.
    private static let sqlOperators: [FilterOperator: String] = [
        .eq: "=", .neq: "<>", .gt: ">", .gte: ">=", .lt: "<", .lte: "<=", .like: "LIKE", .ilike: "ILIKE", .match: "~", .imatch: "~*",
        .cs: "@>", .cd: "<@", .ov: "&&", .sl: "<<", .sr: ">>", .adj: "-|-",
        // PostgREST's names: `nxr` "does not extend to the right" is `&<`, `nxl` "to the left" is `&>`.
        .nxr: "&<", .nxl: "&>",
    ]

    /// The tsquery constructor of each text search operator.
    private static let searchFunctions: [FilterOperator: String] = [
        .fts: "to_tsquery", .plfts: "plainto_tsquery", .phfts: "phraseto_tsquery", .wfts: "websearch_to_tsquery",
    ]
}
