/// `GET`/`HEAD`/`POST /rpc/{fn}`: the overload whose argument names match the request's, called
/// with each argument cast to its declared type; its result shaped like a read when it returns rows.
struct CallPlanner {
    var name: QualifiedName
    var overloads: [Function]
    var cache: SchemaCache
    var method: String
    var rawQuery: String
    var body: [UInt8]
    var format: ResponseFormat
    var preferences: Preferences
    var range: RowRange?
    var settings: RESTSettings

    private var isRead: Bool { method == "GET" || method == "HEAD" }

    /// The arguments a request gives and how the call receives them.
    private enum Arguments {
        /// GET: `name → values` from the query string, each cast from text.
        case query([(name: String, values: [String])])
        /// POST: the JSON object's keys, read with `json_to_record`.
        case json(keys: Set<String>, text: String)
        /// POST to a function whose only parameter is json/jsonb: the whole body.
        case whole(text: String)
    }

    /// The plan of the call: 405 `PGRST101` for other methods, 404 `PGRST202` when no overload
    /// takes the arguments given, 300 `PGRST203` when several do.
    func plan() throws(RESTError) -> Plan {
        guard isRead || method == "POST" else {
            throw RESTError(status: 405, code: "PGRST101", message: "Cannot use the \(method) method on RPC")
        }
        let (keys, queryPairs, bodyText, bodyKeys) = try requestArguments()
        let function = try choose(keys: keys, bodyIsObject: bodyKeys != nil)
        let arguments: Arguments
        if isRead {
            arguments = .query(queryPairs)
        } else if let bodyKeys, Self.namedMatch(function, keys: bodyKeys) {
            arguments = .json(keys: bodyKeys, text: bodyText)
        } else {
            arguments = .whole(text: bodyText)
        }
        let remaining = isRead ? FormQuery.pairs(rawQuery).filter { !keys.contains($0.key) } : FormQuery.pairs(rawQuery)
        let context = PlanningContext(cache: cache, schema: name.schema, query: try QueryParser.parse(remaining))
        return try plan(function, arguments: arguments, context: context)
    }

    /// The argument names the request gives; for GET the query pairs that are arguments, for POST
    /// the body's text and keys (nil when the body is not an object).
    private func requestArguments() throws(RESTError) -> (Set<String>, [(name: String, values: [String])], String, Set<String>?) {
        if isRead {
            // Reserved keys keep their meaning even when a parameter has their name, as in PostgREST.
            let names = Set(overloads.flatMap { $0.arguments.map(\.name) }.filter { !$0.isEmpty && !Self.reservedKeys.contains($0) })
            var order: [String] = []
            var values: [String: [String]] = [:]
            for (key, value) in FormQuery.pairs(rawQuery) where names.contains(key) {
                if values[key] == nil { order.append(key) }
                values[key, default: []].append(value)
            }
            return (Set(order), order.map { ($0, values[$0] ?? []) }, "", nil)
        }
        let isBlank = body.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
        if isBlank { return ([], [], "{}", []) }
        let text = String(decoding: body, as: UTF8.self)
        switch try JSONPayload.inspect(body) {
        case .object(let keys): return (Set(keys), [], text, Set(keys))
        case .array, .scalar: return ([], [], text, nil)
        }
    }

    /// PostgREST's overload choice: the functions whose required parameters are all given and whose
    /// parameters include every given name; failing that (POST), the one taking a single json/jsonb.
    private func choose(keys: Set<String>, bodyIsObject: Bool) throws(RESTError) -> Function {
        let named = bodyIsObject || isRead ? overloads.filter { Self.namedMatch($0, keys: keys) } : []
        let single = isRead ? [] : overloads.filter { $0.arguments.count == 1 && ["json", "jsonb"].contains($0.arguments[0].type) }
        let candidates = named.isEmpty ? single : named
        if candidates.count == 1 { return candidates[0] }
        if candidates.isEmpty {
            let sorted = keys.sorted()
            let list = sorted.isEmpty ? " without parameters" : "(" + sorted.joined(separator: ", ") + ")"
            let searched = sorted.isEmpty ? " without parameters" : " with parameter\(sorted.count > 1 ? "s" : "") " + sorted.joined(separator: ", ")
            throw RESTError(
                status: 404, code: "PGRST202", message: "Could not find the function \(name)\(list) in the schema cache",
                details: "Searched for the function \(name)\(searched)\(isRead ? "" : " or with a single unnamed json/jsonb parameter"), "
                    + "but no matches were found in the schema cache.")
        }
        let described = candidates.map { function in
            "\(function.name)(" + function.arguments.map { "\($0.name) => \($0.type)" }.joined(separator: ", ") + ")"
        }
        throw RESTError(
            status: 300, code: "PGRST203", message: "Could not choose the best candidate function between: " + described.joined(separator: ", "),
            hint: "Try renaming the parameters or the function itself in the database so function overloading can be resolved")
    }

    /// Whether `keys` are exactly the required parameters plus some optional ones.
    private static func namedMatch(_ function: Function, keys: Set<String>) -> Bool {
        let required = Set(function.arguments.filter { !$0.hasDefault }.map(\.name))
        let all = Set(function.arguments.map(\.name))
        return required.isSubset(of: keys) && keys.isSubset(of: all)
    }

    // MARK: The statement

    /// The statement for `function` by what it returns: nothing (204), one value or row, or rows
    /// read like a relation.
    private func plan(_ function: Function, arguments: Arguments, context: PlanningContext) throws(RESTError) -> Plan {
        let isHead = method == "HEAD"
        let page = PageRange(limit: context.query.limit[[]], offset: context.query.offset[[]], header: range, maxRows: settings.maxRows)
        var response = ResponsePlan(
            action: .read, format: format, returnsBody: !isHead, count: preferences.count, offset: page.offset, maxRows: settings.maxRows,
            appliedPreferences: preferences.count.map { ["count=\(Preferences.name(of: $0))"] } ?? [])
        var plan = Plan(schema: name.schema, readOnly: isRead || function.volatility != .volatile, statement: nil, estimate: nil, response: response)
        var builder = StatementBuilder(reserving: [Self.alias(of: function)])
        let (call, from) = callSQL(function, arguments: arguments, builder: &builder)
        let sql: String
        switch function.returns {
        case .void:
            // Materialized and counted, so the function runs exactly once.
            response.action = .callVoid
            response.returnsBody = false
            let rows = "SELECT \(call) AS \"pgrst_void\"" + (from.map { " FROM \($0)" } ?? "")
            sql = ResultSQL.statement(
                ctes: ["\"pgrst_source\" AS MATERIALIZED (\(rows))"], rows: "SELECT 1 FROM \"pgrst_source\"", total: "NULL::bigint", body: .none)
        case .scalar where !function.returnsSet:
            response.action = .callSingle
            let rows = "SELECT \(call) AS \"pgrst_scalar\"" + (from.map { " FROM \($0)" } ?? "")
            sql = ResultSQL.statement(rows: rows, total: "NULL::bigint", body: isHead ? .none : .scalar)
        case .scalar:
            let source = "\"pgrst_source\" AS MATERIALIZED (SELECT \"pgrst_call\" AS \"pgrst_scalar\" FROM \(Self.rows(call, from: from)))"
            let rows = ShapedLevel(columns: ["\"pgrst_scalar\""]).selectSQL(from: "\"pgrst_source\"", limit: page.limit, offset: page.offset)
            sql = ResultSQL.statement(
                ctes: [source], rows: rows,
                total: ResultSQL.total(preferences.count, countRows: "SELECT 1 FROM \"pgrst_source\"", maxRows: settings.maxRows),
                body: isHead ? .none : .scalars)
        case .relation, .record:
            if !function.returnsSet { response.action = .callSingle }
            let (rows, countRows) = try shapedRows(function, context: context, page: page, builder: &builder)
            let body: BodyShape = isHead ? .none : (function.returnsSet || format == .csv ? BodyShape(format) : .object)
            sql = ResultSQL.statement(
                ctes: [Self.sourceCTE(call, from: from)], rows: rows,
                total: ResultSQL.total(preferences.count, countRows: countRows, maxRows: settings.maxRows), body: body)
            if preferences.count == .planned || preferences.count == .estimated {
                var explainBuilder = StatementBuilder(reserving: [Self.alias(of: function)])
                let (explainCall, explainFrom) = callSQL(function, arguments: arguments, builder: &explainBuilder)
                let (unbounded, _) = try shapedRows(function, context: context, page: nil, builder: &explainBuilder)
                plan.estimate = PlannedStatement(
                    sql: "EXPLAIN (FORMAT JSON) WITH \(Self.sourceCTE(explainCall, from: explainFrom)) \(unbounded)", parameters: explainBuilder.parameters)
            }
        }
        plan.statement = PlannedStatement(sql: sql, parameters: builder.parameters)
        plan.response = response
        return plan
    }

    /// What the function's rows are called: its relation's name when it returns one (so embedding
    /// finds that relation's keys), else its own.
    private static func alias(of function: Function) -> String {
        if case .relation(let returned) = function.returns { return returned.name }
        return function.name.name
    }

    /// `<args> CROSS JOIN LATERAL <call> AS "pgrst_call"`: the call as a FROM item.
    private static func rows(_ call: String, from: String?) -> String {
        from.map { "\($0) CROSS JOIN LATERAL \(call) AS \"pgrst_call\"" } ?? "\(call) AS \"pgrst_call\""
    }

    /// `"pgrst_source"`: the function's rows, materialized so it runs once however often they are read.
    private static func sourceCTE(_ call: String, from: String?) -> String {
        "\"pgrst_source\" AS MATERIALIZED (SELECT \"pgrst_call\".* FROM \(rows(call, from: from)))"
    }

    /// The function's rows shaped like a read of its relation (paged unless `page` is nil or the
    /// function returns one row), and the rows a count counts.
    private func shapedRows(
        _ function: Function, context: PlanningContext, page: PageRange?, builder: inout StatementBuilder
    ) throws(RESTError) -> (rows: String, countRows: String) {
        let alias = Self.alias(of: function)
        var relation: Relation?
        if case .relation(let returned) = function.returns { relation = cache.relations[returned] }
        let source = RowSource(alias: quoted(alias), relation: relation, name: alias)
        let level = try builder.shape(context.query.select, source: source, relationName: relation?.name, path: [], context: context)
        try context.checkEmbedScopedKeys(against: level.embedPaths)
        let from = "\"pgrst_source\" AS \(quoted(alias))"
        let paged = function.returnsSet ? page : nil
        return (level.selectSQL(from: from, limit: paged?.limit, offset: paged?.offset), level.countSQL(from: from))
    }

    /// `"schema"."fn"("a" := …, …)` and the FROM item its arguments come from (POST's
    /// `json_to_record($1::json) AS "pgrst_args"(…)`), if any.
    private func callSQL(_ function: Function, arguments: Arguments, builder: inout StatementBuilder) -> (call: String, from: String?) {
        let callee = quoted(function.name)
        switch arguments {
        case .whole(let text):
            let type = function.arguments.first?.type ?? "json"
            return ("\(callee)(\(builder.bind(text, as: type)))", nil)
        case .json(let keys, let text):
            let given = function.arguments.filter { keys.contains($0.name) }
            guard !given.isEmpty else { return ("\(callee)()", nil) }
            let columns = given.map { "\(quoted($0.name)) \($0.type)" }.joined(separator: ", ")
            let from = "json_to_record(\(builder.bind(text, as: "json"))) AS \"pgrst_args\"(\(columns))"
            let list = given.map { "\($0.isVariadic ? "VARIADIC " : "")\(quoted($0.name)) := \"pgrst_args\".\(quoted($0.name))" }
            return ("\(callee)(\(list.joined(separator: ", ")))", from)
        case .query(let pairs):
            var list: [String] = []
            for argument in function.arguments {
                guard let values = pairs.first(where: { $0.name == argument.name })?.values, let last = values.last else { continue }
                // Repeated values make an array; so does a single one for a VARIADIC parameter.
                let isArray = argument.isVariadic || argument.type.hasSuffix("[]")
                let text = isArray && (values.count > 1 || (argument.isVariadic && !last.hasPrefix("{"))) ? Self.arrayLiteral(values) : last
                list.append("\(argument.isVariadic ? "VARIADIC " : "")\(quoted(argument.name)) := \(builder.bind(text, as: argument.type))")
            }
            return ("\(callee)(\(list.joined(separator: ", ")))", nil)
        }
    }

    /// Query keys that are never arguments.
    private static let reservedKeys: Set<String> = ["select", "order", "limit", "offset", "on_conflict", "columns", "or", "and"]

    /// `{"a","b\"c"}`: repeated query values as a Postgres array literal.
    static func arrayLiteral(_ values: [String]) -> String {
        let items = values.map { value -> String in
            var escaped = ""
            for character in value {
                if character == "\\" || character == "\"" { escaped.append("\\") }
                escaped.append(character)
            }
            return "\"" + escaped + "\""
        }
        return "{" + items.joined(separator: ",") + "}"
    }
}
