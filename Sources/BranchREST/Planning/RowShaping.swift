/// What a request's names resolve against: the schema cache, the schema the request chose, and
/// the parsed query string (whose embed-scoped keys apply as the shaping descends).
struct PlanningContext {
    var cache: SchemaCache
    var schema: String
    var query: QueryParameters
}

/// One level of a read (a relation's rows, shaped by `select=`): the select list, the lateral
/// subqueries that build its embeds' JSON, and the conditions on its rows.
struct ShapedLevel {
    /// Select-list entries: `"todos".*`, `"todos"."id" AS "id"`, `"pgrst_2"."agg" AS "user"`.
    var columns: [String] = []
    /// `LEFT JOIN LATERAL (…) AS "pgrst_2" ON TRUE`, one per embed.
    var joins: [String] = []
    /// The joins the conditions use (`!inner`, `embed=not.is.null`), which a count must keep.
    var filteringJoins: [String] = []
    /// The WHERE conditions: the join to the parent, the filters, the inner embeds.
    var conditions: [String] = []
    /// ORDER BY terms.
    var order: [String] = []
    /// Every embed path below this level (`["users"]`, `["users", "teams"]`), to reject keys
    /// scoped to an embed the select does not have.
    var embedPaths: Set<EmbedPath> = []

    /// `SELECT … FROM <from> <joins> WHERE … ORDER BY …` and the page, when given.
    func selectSQL(from: String, limit: Int? = nil, offset: Int? = nil) -> String {
        var sql = "SELECT " + columns.joined(separator: ", ") + " FROM " + from
        for join in joins { sql += " " + join }
        sql += whereClause(conditions)
        if !order.isEmpty { sql += " ORDER BY " + order.joined(separator: ", ") }
        if let limit { sql += " LIMIT \(limit)" }
        if let offset, offset > 0 { sql += " OFFSET \(offset)" }
        return sql
    }

    /// `SELECT 1 FROM <from> <filtering joins> WHERE …`: the rows a count counts.
    func countSQL(from: String) -> String {
        var sql = "SELECT 1 FROM " + from
        for join in filteringJoins { sql += " " + join }
        return sql + whereClause(conditions)
    }
}

extension StatementBuilder {
    /// Shapes the rows of `source` by `items`: columns, casts and JSON paths, and each embed as a
    /// lateral subquery (an object or null for to-one, an array for to-many), recursively. Filters
    /// and order of `path` apply when asked (a write's own filters are its WHERE, not the read's).
    mutating func shape(
        _ items: [SelectItem], source: RowSource, relationName: QualifiedName?, path: EmbedPath,
        context: PlanningContext, applyFilters: Bool = true, applyOrder: Bool = true
    ) throws(RESTError) -> ShapedLevel {
        try shape(
            items, source: source, relationName: relationName, spellings: [path], context: context, applyFilters: applyFilters,
            applyOrder: applyOrder)
    }

    /// `shape` for a level whose embed-scoped keys may be spelt several ways: an aliased embed
    /// (`owner:users(…)`) takes keys under its alias (`owner.name=…`) and its relation (`users.name=…`).
    private mutating func shape(
        _ items: [SelectItem], source: RowSource, relationName: QualifiedName?, spellings: [EmbedPath],
        context: PlanningContext, applyFilters: Bool, applyOrder: Bool
    ) throws(RESTError) -> ShapedLevel {
        var level = ShapedLevel()
        var scope = FilterScope(source: source)
        var innerJoins: Set<String> = []
        var lateralAliases: [String] = []
        for item in items {
            switch item {
            case .star:
                level.columns.append("\(source.alias).*")
            case .field(let field, let alias, let cast):
                var (sql, _) = try expression(field, in: source)
                if let cast { sql = "(\(sql))::\(try CastType.checked(cast))" }
                level.columns.append("\(sql) AS \(quoted(alias ?? field.defaultName))")
            case .embed(let embed):
                let (lateral, join, output, childPaths) = try embedSubquery(
                    embed, parent: source, parentName: relationName, spellings: spellings, context: context)
                level.joins.append(join)
                lateralAliases.append(lateral)
                level.embedPaths.formUnion(childPaths)
                scope.embeds[embed.name] = lateral
                if let output { level.columns.append(output) }
                if embed.join == .inner {
                    level.conditions.append("\(lateral).\"agg\" IS NOT NULL")
                    innerJoins.insert(lateral)
                }
            }
        }
        if applyFilters {
            for tree in spellings.flatMap({ context.query.filters[$0] ?? [] }) {
                level.conditions.append(try condition(tree, in: &scope))
            }
        }
        let filtering = innerJoins.union(scope.usedEmbeds)
        level.filteringJoins = zip(level.joins, lateralAliases).filter { filtering.contains($0.1) }.map(\.0)
        if applyOrder {
            for term in spellings.lazy.compactMap({ context.query.order[$0] }).first ?? [] {
                let (sql, _) = try expression(term.field, in: source)
                var entry = sql + (term.direction == .descending ? " DESC" : " ASC")
                if let nulls = term.nulls { entry += nulls == .first ? " NULLS FIRST" : " NULLS LAST" }
                level.order.append(entry)
            }
        }
        return level
    }

    /// One embed: its relationship, the child's shaped rows, and the lateral join that aggregates
    /// them to JSON. Returns the lateral alias, the join, the select-list entry (nil for an embed
    /// that selects nothing, used only to filter) and the embed paths it covers.
    private mutating func embedSubquery(
        _ embed: Embed, parent: RowSource, parentName: QualifiedName?, spellings: [EmbedPath], context: PlanningContext
    ) throws(RESTError) -> (String, String, String?, Set<EmbedPath>) {
        guard let parentName else {
            throw RESTError(
                status: 400, code: "PGRST200",
                message: "Could not find a relationship between '\(parent.name)' and '\(embed.relation)' in the schema cache")
        }
        let relationship = try context.cache.relationship(from: parentName, embedding: embed)
        guard let target = context.cache.relations[relationship.target] else {
            throw RESTError(
                status: 400, code: "PGRST200",
                message: "Could not find a relationship between '\(parentName.name)' and '\(embed.relation)' in the schema cache")
        }
        let childAlias = alias(for: target.name.name)
        let childSource = RowSource(alias: childAlias, relation: target, name: target.name.name)
        var childSpellings: [EmbedPath] = []
        for path in spellings {
            for name in [embed.name, embed.relation] where !childSpellings.contains(path + [name]) { childSpellings.append(path + [name]) }
        }
        var child = try shape(
            embed.items, source: childSource, relationName: target.name, spellings: childSpellings, context: context, applyFilters: true,
            applyOrder: true)
        child.conditions.insert(joinCondition(relationship, parent: parent.alias, child: childAlias), at: 0)
        let rows = child.selectSQL(
            from: "\(quoted(target.name)) AS \(childAlias)", limit: childSpellings.lazy.compactMap { context.query.limit[$0] }.first,
            offset: childSpellings.lazy.compactMap { context.query.offset[$0] }.first)
        let lateral = lateralAlias()
        let aggregate = relationship.isToOne ? "row_to_json(\"pgrst_row\".*)" : "json_agg(\"pgrst_row\".*)"
        let join = "LEFT JOIN LATERAL (SELECT \(aggregate) AS \"agg\" FROM (\(rows)) AS \"pgrst_row\") AS \(lateral) ON TRUE"
        let value = relationship.isToOne ? "\(lateral).\"agg\"" : "coalesce(\(lateral).\"agg\", '[]')"
        let output = Self.selectsNothing(embed.items) ? nil : "\(value) AS \(quoted(embed.name))"
        return (lateral, join, output, child.embedPaths.union(childSpellings))
    }

    /// The condition tying a child row to its parent: key columns equal, or (many-to-many) a
    /// junction row pointing at both.
    private mutating func joinCondition(_ relationship: Relationship, parent: String, child: String) -> String {
        guard let junction = relationship.junction else {
            return conjunction(relationship.columns.map { "\(child).\(quoted($0.target)) = \(parent).\(quoted($0.source))" })
        }
        let junctionAlias = alias(for: junction.table.name)
        let toTarget = zip(junction.targetKey.columns, junction.targetKey.referencedColumns).map {
            "\(junctionAlias).\(quoted($0.0)) = \(child).\(quoted($0.1))"
        }
        let toSource = zip(junction.sourceKey.columns, junction.sourceKey.referencedColumns).map {
            "\(junctionAlias).\(quoted($0.0)) = \(parent).\(quoted($0.1))"
        }
        return "EXISTS (SELECT 1 FROM \(quoted(junction.table)) AS \(junctionAlias) WHERE \(conjunction(toTarget + toSource)))"
    }

    /// Whether an embed's select has no column anywhere below it (`actors()`): it only filters.
    private static func selectsNothing(_ items: [SelectItem]) -> Bool {
        items.allSatisfy { item in
            if case .embed(let embed) = item { return selectsNothing(embed.items) }
            return false
        }
    }
}

extension PlanningContext {
    /// 400 `PGRST108` when an embed-scoped key names an embed the select does not have.
    func checkEmbedScopedKeys(against paths: Set<EmbedPath>) throws(RESTError) {
        let used = Set(query.filters.keys).union(query.order.keys).union(query.limit.keys).union(query.offset.keys)
        for path in used.sorted(by: { $0.count < $1.count }) where !path.isEmpty && !paths.contains(path) {
            let name = path.joined(separator: ".")
            throw RESTError(
                status: 400, code: "PGRST108", message: "'\(name)' is not an embedded resource in this request",
                hint: "Verify that '\(name)' is included in the 'select' query parameter.")
        }
    }
}
