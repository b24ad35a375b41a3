/// `GET`/`HEAD /{relation}`: the relation's rows, filtered, ordered, paged and shaped by `select=`.
enum ReadPlanner {
    /// The plan of a read of `relation`: paged by `limit`/`offset` and `range`, at most `settings.maxRows` rows.
    static func plan(
        _ relation: Relation, context: PlanningContext, format: ResponseFormat, preferences: Preferences, range: RowRange?,
        settings: RESTSettings, isHead: Bool
    ) throws(RESTError) -> Plan {
        let query = context.query
        let page = PageRange(limit: query.limit[[]], offset: query.offset[[]], header: range, maxRows: settings.maxRows)

        /// The rows (paged when `bounded`) and the rows a count counts, built by `builder`.
        func build(_ builder: inout StatementBuilder, bounded: Bool) throws(RESTError) -> (rows: String, countRows: String) {
            let source = RowSource(alias: quoted(relation.name.name), relation: relation, name: relation.name.name)
            let level = try builder.shape(query.select, source: source, relationName: relation.name, path: [], context: context)
            try context.checkEmbedScopedKeys(against: level.embedPaths)
            let from = quoted(relation.name)
            return (
                level.selectSQL(from: from, limit: bounded ? page.limit : nil, offset: bounded ? page.offset : nil),
                level.countSQL(from: from)
            )
        }

        var builder = StatementBuilder(reserving: [relation.name.name])
        let (rows, countRows) = try build(&builder, bounded: true)
        let sql = ResultSQL.statement(
            rows: rows, total: ResultSQL.total(preferences.count, countRows: countRows, maxRows: settings.maxRows),
            body: isHead ? .none : BodyShape(format))
        var estimate: PlannedStatement?
        if preferences.count == .planned || preferences.count == .estimated {
            var explainBuilder = StatementBuilder(reserving: [relation.name.name])
            let (unbounded, _) = try build(&explainBuilder, bounded: false)
            estimate = PlannedStatement(sql: "EXPLAIN (FORMAT JSON) " + unbounded, parameters: explainBuilder.parameters)
        }
        return Plan(
            schema: context.schema, readOnly: true, statement: PlannedStatement(sql: sql, parameters: builder.parameters), estimate: estimate,
            response: ResponsePlan(
                action: .read, format: format, returnsBody: !isHead, count: preferences.count, offset: page.offset, maxRows: settings.maxRows,
                appliedPreferences: preferences.count.map { ["count=\(Preferences.name(of: $0))"] } ?? []))
    }
}

extension Preferences {
    /// `exact`, `planned`, `estimated`, as `Preference-Applied` says them.
    static func name(of count: Count) -> String {
        switch count {
        case .exact: "exact"
        case .planned: "planned"
        case .estimated: "estimated"
        }
    }
}
