/// `POST`, `PATCH`, `PUT` and `DELETE` on a relation: one data-modifying CTE (`pgrst_source`),
/// read back only for `return=representation` (`RETURNING 1` otherwise, so an insert-only RLS
/// policy is enough), shaped by `select=` with embeds like any read.
struct MutationPlanner {
    var relation: Relation
    var context: PlanningContext
    var format: ResponseFormat
    var preferences: Preferences
    var body: [UInt8]

    private var query: QueryParameters { context.query }
    private var table: String { quoted(relation.name) }
    /// What the written rows are called in filters and `RETURNING`: the table's own name.
    private var alias: String { quoted(relation.name.name) }
    private var representation: Bool { preferences.returning == .representation }

    /// POST: insert, or upsert with `Prefer: resolution=…`.
    func insert() throws(RESTError) -> Plan {
        let payload = try WritePayload(body, relation: relation, columnsParameter: query.columns, missingDefault: preferences.missingDefault)
        var applied = appliedPreferences()
        if let resolution = preferences.resolution {
            applied.append(resolution == .mergeDuplicates ? "resolution=merge-duplicates" : "resolution=ignore-duplicates")
        }
        if preferences.missingDefault { applied.append("missing=default") }
        var response = ResponsePlan(
            action: .create, format: format, returnsBody: representation, count: preferences.count, appliedPreferences: applied)
        if preferences.returning == .headersOnly, !relation.primaryKey.isEmpty {
            response.locationPath = "/" + relation.name.name
        }
        guard payload.count > 0 else {
            return Plan(schema: context.schema, readOnly: false, statement: nil, estimate: nil, response: response)
        }
        var builder = StatementBuilder(reserving: [relation.name.name])
        var insert = "INSERT INTO \(table)"
        if !payload.columns.isEmpty { insert += " (" + payload.columns.map { quoted($0.name) }.joined(separator: ", ") + ")" }
        insert += " SELECT " + payload.columns.map { "\"pgrst_body\".\(quoted($0.name))" }.joined(separator: ", ")
        insert += " FROM " + builder.recordset(payload, missingDefault: preferences.missingDefault)
        insert += try conflictClause(columns: payload.columns)
        insert += " " + returning(location: response.locationPath != nil)
        let location = response.locationPath == nil ? nil : locationSQL(&builder)
        return Plan(
            schema: context.schema, readOnly: false,
            statement: try statement(dataModifying: insert, builder: &builder, location: location), estimate: nil, response: response)
    }

    /// PATCH: the body's keys set on the rows the filters match.
    func update() throws(RESTError) -> Plan {
        var builder = StatementBuilder(reserving: [relation.name.name])
        let conditions = try filterConditions(&builder, verb: "UPDATE")
        let payload = try WritePayload(body, relation: relation, columnsParameter: query.columns)
        let response = ResponsePlan(
            action: .modify, format: format, returnsBody: representation, count: preferences.count, appliedPreferences: appliedPreferences())
        guard !payload.columns.isEmpty, payload.count > 0 else {
            return Plan(schema: context.schema, readOnly: false, statement: nil, estimate: nil, response: response)
        }
        let assignments = payload.columns.map { "\(quoted($0.name)) = \"pgrst_body\".\(quoted($0.name))" }.joined(separator: ", ")
        let update = "UPDATE \(table) SET \(assignments) FROM (SELECT * FROM \(builder.recordset(payload, missingDefault: false)) LIMIT 1) AS \"pgrst_body\""
            + whereClause(conditions) + " " + returning(location: false)
        return Plan(
            schema: context.schema, readOnly: false, statement: try statement(dataModifying: update, builder: &builder), estimate: nil,
            response: response)
    }

    /// DELETE: the rows the filters match (the body is ignored).
    func delete() throws(RESTError) -> Plan {
        var builder = StatementBuilder(reserving: [relation.name.name])
        let conditions = try filterConditions(&builder, verb: "DELETE")
        let delete = "DELETE FROM \(table)" + whereClause(conditions) + " " + returning(location: false)
        return Plan(
            schema: context.schema, readOnly: false, statement: try statement(dataModifying: delete, builder: &builder), estimate: nil,
            response: ResponsePlan(
                action: .modify, format: format, returnsBody: representation, count: preferences.count, appliedPreferences: appliedPreferences()))
    }

    /// PUT: insert or replace the one row whose primary key the filters give (`id=eq.1`), which
    /// the payload must repeat.
    func put() throws(RESTError) -> Plan {
        guard query.limit[[]] == nil, query.offset[[]] == nil else {
            throw RESTError(status: 400, code: "PGRST114", message: "limit/offset querystring parameters are not allowed for PUT")
        }
        let primaryKey = relation.primaryKey
        var filtered: [String] = []
        for tree in query.filters[[]] ?? [] {
            guard case .condition(let condition) = tree, condition.op == .eq, !condition.negated, condition.quantifier == nil,
                condition.field.jsonPath.isEmpty, case .value = condition.operand
            else { throw Self.putFiltersError }
            filtered.append(condition.field.column)
        }
        guard !primaryKey.isEmpty, filtered.count == primaryKey.count, Set(filtered) == Set(primaryKey) else { throw Self.putFiltersError }
        let payload = try WritePayload(body, relation: relation, columnsParameter: query.columns)
        let written = Set(payload.columns.map(\.name))
        guard payload.count == 1, primaryKey.allSatisfy(written.contains) else {
            throw RESTError(status: 400, code: "PGRST115", message: "Payload values do not match URL in primary key column(s)")
        }
        var builder = StatementBuilder(reserving: [relation.name.name])
        // The URL's key compared with the payload's: no row to write when they differ.
        var scope = FilterScope(source: RowSource(alias: "\"pgrst_body\"", relation: relation, name: relation.name.name))
        var conditions: [String] = []
        for tree in query.filters[[]] ?? [] { conditions.append(try builder.condition(tree, in: &scope)) }
        let names = payload.columns.map { quoted($0.name) }
        let upsert = "INSERT INTO \(table) (\(names.joined(separator: ", "))) SELECT "
            + names.map { "\"pgrst_body\".\($0)" }.joined(separator: ", ") + " FROM " + builder.recordset(payload, missingDefault: false)
            + whereClause(conditions) + " ON CONFLICT (" + primaryKey.map(quoted).joined(separator: ", ") + ") DO UPDATE SET "
            + names.map { "\($0) = EXCLUDED.\($0)" }.joined(separator: ", ") + " " + returning(location: false)
        return Plan(
            schema: context.schema, readOnly: false, statement: try statement(dataModifying: upsert, builder: &builder), estimate: nil,
            response: ResponsePlan(
                action: .put, format: format, returnsBody: representation, count: preferences.count, appliedPreferences: appliedPreferences()))
    }

    /// 405 `PGRST105`: PUT's filters are not exactly `eq` on each primary key column.
    private static let putFiltersError = RESTError(
        status: 405, code: "PGRST105", message: "Filters must include all and only primary key columns with 'eq' operators")

    // MARK: Pieces

    /// The top-level filters as the write's WHERE; 400 `21000` when there are none, as Supabase's
    /// safeupdate refuses an unfiltered UPDATE or DELETE.
    private func filterConditions(_ builder: inout StatementBuilder, verb: String) throws(RESTError) -> [String] {
        var scope = FilterScope(source: RowSource(alias: alias, relation: relation, name: relation.name.name))
        var conditions: [String] = []
        for tree in query.filters[[]] ?? [] { conditions.append(try builder.condition(tree, in: &scope)) }
        guard !conditions.isEmpty else {
            throw RESTError(status: 400, code: "21000", message: "\(verb) requires a WHERE clause")
        }
        return conditions
    }

    /// ` ON CONFLICT (…) DO UPDATE SET …` / `DO NOTHING` for an upsert; empty for a plain insert.
    private func conflictClause(columns: [Column]) throws(RESTError) -> String {
        guard let resolution = preferences.resolution else { return "" }
        let targets = query.onConflict ?? relation.primaryKey
        let source = RowSource(alias: alias, relation: relation, name: relation.name.name)
        for target in targets { _ = try source.column(target) }
        let targetList = targets.isEmpty ? "" : " (" + targets.map(quoted).joined(separator: ", ") + ")"
        switch resolution {
        case .ignoreDuplicates:
            return " ON CONFLICT\(targetList) DO NOTHING"
        case .mergeDuplicates:
            // Without a key to conflict on, there is nothing to merge into: a plain insert.
            guard !targets.isEmpty else { return "" }
            guard !columns.isEmpty else { return " ON CONFLICT\(targetList) DO NOTHING" }
            let assignments = columns.map { "\(quoted($0.name)) = EXCLUDED.\(quoted($0.name))" }.joined(separator: ", ")
            return " ON CONFLICT\(targetList) DO UPDATE SET \(assignments)"
        }
    }

    /// `RETURNING "todos".*` for a representation; the primary key for a `Location`; else `RETURNING 1`,
    /// which reads nothing back.
    private func returning(location: Bool) -> String {
        if representation { return "RETURNING \(alias).*" }
        if location { return "RETURNING " + relation.primaryKey.map { "\(alias).\(quoted($0))" }.joined(separator: ", ") }
        return "RETURNING 1"
    }

    /// `id=eq.1&…` of the first written row, for `Location`.
    private func locationSQL(_ builder: inout StatementBuilder) -> String {
        var parts: [String] = []
        for column in relation.primaryKey {
            parts.append(builder.bind("\(column)=eq.", as: "text") + " || \"pgrst_location\".\(quoted(column))::text")
        }
        return "(SELECT concat_ws('&', \(parts.joined(separator: ", "))) FROM \"pgrst_source\" AS \"pgrst_location\" LIMIT 1)"
    }

    /// The whole statement: the write as `pgrst_source`, the rows read back (shaped by `select=`
    /// for a representation), the count of written rows when asked.
    private func statement(dataModifying: String, builder: inout StatementBuilder, location: String? = nil) throws(RESTError) -> PlannedStatement {
        let rows: String
        if representation {
            let source = RowSource(alias: alias, relation: relation, name: relation.name.name)
            let level = try builder.shape(
                query.select, source: source, relationName: relation.name, path: [], context: context, applyFilters: false, applyOrder: false)
            try context.checkEmbedScopedKeys(against: level.embedPaths)
            rows = level.selectSQL(from: "\"pgrst_source\" AS \(alias)")
        } else {
            rows = "SELECT 1 FROM \"pgrst_source\""
        }
        let total = preferences.count == nil ? "NULL::bigint" : "(SELECT count(*) FROM \"pgrst_source\")"
        let sql = ResultSQL.statement(
            ctes: ["\"pgrst_source\" AS (\(dataModifying))"], rows: rows, total: total, body: representation ? BodyShape(format) : .none,
            location: location)
        return PlannedStatement(sql: sql, parameters: builder.parameters)
    }

    /// `Preference-Applied` for `return=` and `count=`.
    private func appliedPreferences() -> [String] {
        var applied: [String] = []
        switch preferences.returning {
        case .representation: applied.append("return=representation")
        case .minimal: applied.append("return=minimal")
        case .headersOnly: applied.append("return=headers-only")
        case nil: break
        }
        if let count = preferences.count { applied.append("count=\(Preferences.name(of: count))") }
        return applied
    }
}
