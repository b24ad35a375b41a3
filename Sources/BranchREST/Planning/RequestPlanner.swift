/// A `/rest/v1` request to a plan, without touching the database: the pure half of the data API
/// (the executor in `Execution/` runs what this decides).
package enum RequestPlanner {
    /// The plan for `request` against `schema`, or the PostgREST error that answers it.
    package static func plan(_ request: DataRequest, schema: SchemaCache, settings: RESTSettings) throws(RESTError) -> PlannedRequest {
        let method = request.method.uppercased()
        let isRead = method == "GET" || method == "HEAD"
        let schemaName = try profile(request, isRead: isRead, settings: settings)
        switch try RequestTarget(path: request.path) {
        case .root:
            guard isRead else { throw unsupported(method) }
            return .schemaDocument(schema: schemaName)
        case .relation(let name):
            guard let relation = schema.relations[QualifiedName(schemaName, name)] else {
                throw RESTError(status: 404, code: "PGRST205", message: "Could not find the table '\(schemaName).\(name)' in the schema cache")
            }
            let format = try AcceptParser.format(request.header("accept"))
            let preferences = PreferParser.parse(request.headers(named: "prefer"))
            let context = PlanningContext(cache: schema, schema: schemaName, query: try QueryParser.parse(FormQuery.pairs(request.rawQuery)))
            let writer = MutationPlanner(relation: relation, context: context, format: format, preferences: preferences, body: request.body)
            switch method {
            case "GET", "HEAD":
                return .statement(try ReadPlanner.plan(
                    relation, context: context, format: format, preferences: preferences, range: RangeParser.parse(request.header("range")),
                    settings: settings, isHead: method == "HEAD"))
            case "POST": return .statement(try writer.insert())
            case "PATCH": return .statement(limitingAffectedRows(try writer.update(), request))
            case "PUT": return .statement(try writer.put())
            case "DELETE": return .statement(limitingAffectedRows(try writer.delete(), request))
            default: throw unsupported(method)
            }
        case .function(let name):
            let qualified = QualifiedName(schemaName, name)
            let planner = CallPlanner(
                name: qualified, overloads: schema.functions[qualified] ?? [], cache: schema, method: method, rawQuery: request.rawQuery,
                body: request.body, format: try AcceptParser.format(request.header("accept")),
                preferences: PreferParser.parse(request.headers(named: "prefer")), range: RangeParser.parse(request.header("range")),
                settings: settings)
            return .statement(try planner.plan())
        }
    }

    /// The schema `Accept-Profile` (reads) or `Content-Profile` (writes) chooses, the first exposed
    /// one by default; 406 `PGRST106` for one that is not exposed.
    static func profile(_ request: DataRequest, isRead: Bool, settings: RESTSettings) throws(RESTError) -> String {
        let asked = request.header(isRead ? "accept-profile" : "content-profile")
        guard let asked, !asked.isEmpty else { return settings.exposedSchemas.first ?? "public" }
        guard settings.exposedSchemas.contains(asked) else {
            throw RESTError(
                status: 406, code: "PGRST106", message: "The schema must be one of the following: " + settings.exposedSchemas.joined(separator: ", "))
        }
        return asked
    }

    /// PostgREST 13's `Prefer: handling=strict, max-affected=N` (the contract's Prefer parser ignores
    /// it): the plan with its limit on written rows.
    static func limitingAffectedRows(_ plan: Plan, _ request: DataRequest) -> Plan {
        var strict = false
        var limit: Int?
        for item in request.headers(named: "prefer").flatMap({ $0.split(separator: ",") }) {
            let parts = item.split(separator: "=", maxSplits: 1).map { $0.filter { $0 != " " && $0 != "\t" }.lowercased() }
            guard parts.count == 2 else { continue }
            if parts[0] == "handling" { strict = parts[1] == "strict" }
            if parts[0] == "max-affected" { limit = Int(parts[1]) }
        }
        guard strict, let limit else { return plan }
        var limited = plan
        limited.response.maxAffected = limit
        limited.response.appliedPreferences += ["handling=strict", "max-affected=\(limit)"]
        return limited
    }

    /// 405 `PGRST117` for a method the path does not take.
    private static func unsupported(_ method: String) -> RESTError {
        RESTError(status: 405, code: "PGRST117", message: "Unsupported HTTP method: \(method)")
    }
}
