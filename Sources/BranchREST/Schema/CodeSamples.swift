import BranchCore

/// Example calls for the agent documents, in supabase-js, supabase-py and curl: a read and an
/// insert per relation, a call per function, and curl lines for the other operations. They use
/// the variables `branch env` prints (`SUPABASE_URL`, `SUPABASE_ANON_KEY`), never a key itself.
enum CodeSamples {
    /// One call in the three forms.
    struct Call {
        var javascript: String
        var python: String
        var curl: String
    }

    // MARK: Relations

    /// A read: `select` with an embed of a parent when there is one, a filter, order and limit.
    static func read(_ relation: Relation, in schema: SchemaCache) -> Call {
        let name = relation.name.name
        let select = selectList(relation, in: schema)
        var js = ["const { data, error } = await supabase", "  .from(\(literal(name)))", "  .select(\(literal(select)))"]
        var py = ["rows = (", "    supabase.table(\(literal(name)))", "    .select(\(literal(select)))"]
        var query: [(String, String)] = [("select", select)]
        if let column = ExampleValues.filterColumn(relation), let filter = filter(column) {
            js.append("  .\(filter.method)(\(literal(column.name)), \(filter.js))")
            py.append("    .\(filter.method)(\(literal(column.name)), \(filter.py))")
            query.append((column.name, filter.query))
        }
        if let key = relation.primaryKey.first {
            js.append("  .order(\(literal(key)))")
            py.append("    .order(\(literal(key)))")
            query.append(("order", "\(key).asc"))
        }
        js.append("  .limit(10)")
        py += ["    .limit(10)", "    .execute()", ").data"]
        query.append(("limit", "10"))
        return Call(javascript: js.joined(separator: "\n"), python: py.joined(separator: "\n"), curl: curl("GET", "/rest/v1/\(DocumentNames.pathSegment(name))", query: DocumentNames.query(query)))
    }

    /// An insert of one row, answered with the row as stored.
    static func insert(_ relation: Relation) -> Call {
        let name = relation.name.name
        let row = ExampleValues.insertRow(relation)
        return Call(
            javascript: "const { data, error } = await supabase\n  .from(\(literal(name)))\n  .insert(\(DocumentJSON.object(row)))\n  .select()",
            python: "rows = supabase.table(\(literal(name))).insert(\(DocumentJSON.pythonObject(row))).execute().data",
            curl: curl("POST", "/rest/v1/\(DocumentNames.pathSegment(name))", prefer: "return=representation", body: DocumentJSON.object(row)))
    }

    /// `*`, and one parent embedded through a many-to-one key when the relation has one (named by
    /// the parent, or by the key's constraint when several keys lead there).
    static func selectList(_ relation: Relation, in schema: SchemaCache) -> String {
        let keys = schema.foreignKeys.filter {
            $0.table == relation.name && $0.referencedTable != relation.name && $0.referencedTable.schema == relation.name.schema
        }
        guard let key = keys.min(by: { ($0.referencedTable, $0.constraintName) < ($1.referencedTable, $1.constraintName) }) else { return "*" }
        let parent = key.referencedTable.name
        let unique = keys.filter { $0.referencedTable == key.referencedTable }.count == 1
        return "*," + (unique ? parent : "\(parent)!\(key.constraintName)") + "(*)"
    }

    /// The supabase-js/py method, its value in each language, and the query string form.
    private static func filter(_ column: Column) -> (method: String, js: String, py: String, query: String)? {
        if ["json", "jsonb", "bytea", "tsvector"].contains(column.udtName) { return nil }
        let value = ExampleValues.value(column)
        if column.udtName.hasPrefix("_") {
            let element = ExampleValues.value(udt: String(column.udtName.dropFirst()), name: column.name)
            return ("contains", DocumentJSON.text(.array([element])), DocumentJSON.python(.array([element])), ExampleValues.filter(column))
        }
        return ("eq", DocumentJSON.text(value), DocumentJSON.python(value), "eq." + ExampleValues.text(value))
    }

    // MARK: Functions

    /// A call of `/rpc/{name}` with example arguments (those without a default).
    static func rpc(_ function: Function) -> Call {
        let name = function.name.name
        let arguments = function.arguments.filter { !$0.name.isEmpty && !$0.hasDefault }.map { ($0.name, value(typeName: $0.type, name: $0.name)) }
        let jsArguments = arguments.isEmpty ? "" : ", " + DocumentJSON.object(arguments)
        let pyArguments = arguments.isEmpty ? "" : ", " + DocumentJSON.pythonObject(arguments)
        return Call(
            javascript: "const { data, error } = await supabase.rpc(\(literal(name))\(jsArguments))",
            python: "result = supabase.rpc(\(literal(name))\(pyArguments)).execute().data",
            curl: curl("POST", "/rest/v1/rpc/\(DocumentNames.pathSegment(name))", body: DocumentJSON.object(arguments)))
    }

    /// An example value of a type as `format_type` names it (`integer`, `text[]`, `timestamp with time zone`).
    static func value(typeName: String, name: String) -> JSONValue {
        ExampleValues.value(udt: OpenAPISchemas.udt(typeName), name: name)
    }

    // MARK: curl

    /// A curl command line against the base URL in `$SUPABASE_URL`, with `key` (a variable) as
    /// the API key and `bearer` (default: the key; `$ACCESS_TOKEN` for a signed-in user) as the
    /// JWT, an optional `Prefer` and JSON body.
    static func curl(
        _ method: String, _ path: String, query: String = "", key: String = "$SUPABASE_ANON_KEY", bearer: String? = nil,
        prefer: String? = nil, body: String? = nil
    ) -> String {
        var lines = ["curl" + (method == "GET" ? "" : " -X \(method)") + " \"$SUPABASE_URL\(path)\(query.isEmpty ? "" : "?" + query)\""]
        lines.append(#"-H "apikey: \#(key)" -H "Authorization: Bearer \#(bearer ?? key)""#)
        if let body {
            lines.append(#"-H "Content-Type: application/json""# + (prefer.map { #" -H "Prefer: \#($0)""# } ?? ""))
            lines.append("-d " + DocumentNames.shellQuoted(body))
        } else if let prefer {
            lines.append(#"-H "Prefer: \#(prefer)""#)
        }
        return lines.joined(separator: " \\\n  ")
    }

    private static func literal(_ text: String) -> String { DocumentNames.stringLiteral(text) }
}
